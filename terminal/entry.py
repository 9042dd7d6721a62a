"""Parse what a keyboard-wedge scanner or the on-screen keypad typed.

Forms recognised by :func:`parse_entry`, tried in this order after Persian
(``۰``-``۹``) and Arabic-Indic (``٠``-``٩``) digits are turned into ASCII and
surrounding whitespace (the CR/LF/tab scanners add) is stripped. Digits,
phone numbers and member numbers are normalised by :mod:`clubcore.identity`,
the same code the club server and the offline store use:

=====================================  ===========================================
input                                  result
=====================================  ===========================================
``CT1:`` + base32 (any case)           :class:`SignedCardEntry` (QR of a card)
``;<member no>=<YYMM><disc.>?[LRC]``   :class:`MagstripeEntry` (track 2)
``tel:`` + any phone form below        :class:`PhoneEntry` (the keypad's phone mode)
``09xxxxxxxxx``, ``+989xxxxxxxxx``,    :class:`PhoneEntry`, normalised to E.164
``00989xxxxxxxxx``, ``9xxxxxxxxx``     (``+989xxxxxxxxx``)
1 to 14 digits                         :class:`MemberNumberEntry`
=====================================  ===========================================

Spaces, hyphens and parentheses inside phone numbers and member numbers are
ignored. Member numbers are canonical without leading zeros (``000123`` is
``123``), as on the card (:mod:`clubcore.cardformat`).

Ambiguity: ten digits starting with ``9`` are read as a mobile number, and
eleven starting with ``09`` likewise (``989...`` without ``+`` stays a
member number: :func:`clubcore.identity.is_phone`). A screen that knows the
cashier is typing a member number calls
:func:`clubcore.identity.parse_member_number`.

Check digit: member numbers may end with a Luhn (ISO/IEC 7812, mod 10) check
digit. The club decides; ``check_digit=True`` makes the parsers refuse a
number whose last digit does not match (a mistyped number then never reaches
another member's account).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from clubcore.cardformat import TEXT_PREFIX, SignedCard, decode_text
from clubcore.errors import FormatError
from clubcore.identity import is_phone, normalise_digits, normalise_phone, parse_member_number

__all__ = [
    "Entry",
    "MagstripeEntry",
    "MemberNumberEntry",
    "PhoneEntry",
    "SignedCardEntry",
    "parse_entry",
]

_SEPARATORS = str.maketrans("", "", " -()\u00a0")
_TRACK2 = re.compile(r";([0-9]{1,19})=([0-9]{2})([0-9]{2})([0-9]*)\?[\x30-\x3f]?", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)


@dataclass(frozen=True, slots=True)
class MemberNumberEntry:
    """A member number, canonical (decimal, no leading zeros)."""

    member_no: str


@dataclass(frozen=True, slots=True)
class PhoneEntry:
    """An Iranian mobile number in E.164 form (``+989123456789``)."""

    e164: str


@dataclass(frozen=True, slots=True)
class SignedCardEntry:
    """The QR/barcode text form of a signed card; verify it with ``uid=b""``."""

    card: SignedCard


@dataclass(frozen=True, slots=True)
class MagstripeEntry:
    """Track 2 of a magstripe card (unsigned).

    Attributes:
        member_no: canonical member number.
        expiry: the last day of the YYMM month on the stripe.
        discretionary: the digits after the expiry, as read.
    """

    member_no: str
    expiry: date
    discretionary: str


Entry = MemberNumberEntry | PhoneEntry | SignedCardEntry | MagstripeEntry


def parse_entry(text: str, *, check_digit: bool = False) -> Entry:
    """Parse scanned or keyed text into a typed entry (see the module table).

    Arguments:
        text: the text as typed, scanner CR/LF included.
        check_digit: refuse member numbers whose Luhn check digit is wrong.

    Returns:
        A :class:`SignedCardEntry`, :class:`MagstripeEntry`,
        :class:`PhoneEntry` or :class:`MemberNumberEntry`.

    Raises:
        FormatError: the text is none of these; the message says what it expected.
    """
    text = normalise_digits(text)
    if not text:
        raise FormatError("nothing was entered")
    if text[: len(TEXT_PREFIX)].upper() == TEXT_PREFIX:
        return SignedCardEntry(decode_text(text))
    if text.startswith(";"):
        return _parse_track2(text, check_digit=check_digit)
    if text[:4].lower() == "tel:":
        return PhoneEntry(normalise_phone(text[4:]))
    compact = text.translate(_SEPARATORS)
    if is_phone(compact):
        return PhoneEntry(normalise_phone(compact))
    if _NUMBER.fullmatch(compact):
        return MemberNumberEntry(parse_member_number(compact, check_digit=check_digit))
    raise FormatError(
        f"{_shorten(text)!r} is not a member number, a mobile number, a card QR code "
        "or a magstripe track"
    )


def _parse_track2(text: str, *, check_digit: bool) -> MagstripeEntry:
    match = _TRACK2.fullmatch(text)
    if match is None:
        raise FormatError("magstripe track 2 is malformed (expected ;number=YYMM...?)")
    number, year, month, discretionary = match.groups()
    if not 1 <= int(month) <= 12:
        raise FormatError(f"magstripe expiry month {month} does not exist")
    full_year = 2000 + int(year)
    last_day = calendar.monthrange(full_year, int(month))[1]
    return MagstripeEntry(
        member_no=parse_member_number(number, check_digit=check_digit),
        expiry=date(full_year, int(month), last_day),
        discretionary=discretionary,
    )


def _shorten(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "..."

"""Parse what a keyboard-wedge scanner or the on-screen keypad typed.

Forms recognised by :func:`parse_entry`, tried in this order after Persian
(``۰``-``۹``) and Arabic-Indic (``٠``-``٩``) digits are turned into ASCII and
surrounding whitespace (the CR/LF/tab scanners add) is stripped:

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
eleven starting with ``09`` likewise. A screen that knows the cashier is
typing a member number calls :func:`parse_member_number` directly.

Check digit: member numbers may end with a Luhn (ISO/IEC 7812, mod 10) check
digit. The club decides; ``check_digit=True`` makes the parsers refuse a
number whose last digit does not match (a mistyped number then never reaches
another member's account). :func:`luhn_check_digit` computes it for issuing.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from clubcore.cardformat import MAX_MEMBER_NO, TEXT_PREFIX, SignedCard, decode_text
from clubcore.errors import FormatError
from clubcore.phonekey import e164_lookup_key  # re-exported: it moved to clubcore

__all__ = [
    "Entry",
    "MagstripeEntry",
    "MemberNumberEntry",
    "PhoneEntry",
    "SignedCardEntry",
    "e164_lookup_key",
    "is_luhn_valid",
    "luhn_check_digit",
    "normalise_digits",
    "normalise_phone",
    "parse_entry",
    "parse_member_number",
    "phone_lookup_key",
]

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_SEPARATORS = str.maketrans("", "", " -()\u00a0")
_MAX_DIGITS = len(str(MAX_MEMBER_NO))
_PHONE = re.compile(r"(?:\+98|0098|0)?(9[0-9]{9})", re.ASCII)
_TRACK2 = re.compile(r";([0-9]{1,19})=([0-9]{2})([0-9]{2})([0-9]*)\?[\x30-\x3f]?", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # 2d, less 9 when over 9
_EDGES = re.compile(r"^[\s\x00-\x1f\x7f]+|[\s\x00-\x1f\x7f]+$")


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


def normalise_digits(text: str) -> str:
    """Turn Persian and Arabic-Indic digits into ASCII; strip outer whitespace and controls."""
    return _EDGES.sub("", text.translate(_DIGITS))


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
    if _PHONE.fullmatch(compact):
        return PhoneEntry(normalise_phone(compact))
    if _NUMBER.fullmatch(compact):
        return MemberNumberEntry(parse_member_number(compact, check_digit=check_digit))
    raise FormatError(
        f"{_shorten(text)!r} is not a member number, a mobile number, a card QR code "
        "or a magstripe track"
    )


def parse_member_number(text: str, *, check_digit: bool = False) -> str:
    """Parse a member number typed or scanned on its own.

    Arguments:
        text: digits (Persian, Arabic-Indic or ASCII), spaces and hyphens allowed.
        check_digit: also require a valid Luhn check digit.

    Returns:
        The canonical member number (no leading zeros).

    Raises:
        FormatError: not 1 to 14 digits, zero, or a wrong check digit.
    """
    compact = normalise_digits(text).translate(_SEPARATORS)
    if not _NUMBER.fullmatch(compact):
        raise FormatError(f"a member number is digits only, not {_shorten(compact)!r}")
    canonical = compact.lstrip("0")
    if not canonical:
        raise FormatError("member number 0 does not exist")
    if len(canonical) > _MAX_DIGITS:
        raise FormatError(f"a member number has at most {_MAX_DIGITS} digits")
    if check_digit and not is_luhn_valid(canonical):
        raise FormatError(f"member number {canonical} has a wrong check digit - mistyped?")
    return canonical


def normalise_phone(phone: str) -> str:
    """Normalise an Iranian mobile number to E.164.

    Arguments:
        phone: ``09xxxxxxxxx``, ``+989xxxxxxxxx``, ``00989xxxxxxxxx`` or
            ``9xxxxxxxxx``, in any digits, spaces, hyphens and parentheses allowed.

    Returns:
        ``+989xxxxxxxxx``.

    Raises:
        FormatError: not an Iranian mobile number.
    """
    compact = normalise_digits(phone).translate(_SEPARATORS)
    match = _PHONE.fullmatch(compact)
    if match is None:
        raise FormatError(f"{_shorten(compact)!r} is not an Iranian mobile number (09xxxxxxxxx)")
    return "+98" + match.group(1)


def phone_lookup_key(phone: str, salt: bytes) -> str:
    """The key the store keeps instead of a phone number.

    Arguments:
        phone: a mobile number in any form :func:`normalise_phone` accepts.
        salt: the club's lookup salt (the same on server and terminals).

    Returns:
        ``sha256(salt + E.164 as ASCII)`` in lowercase hex.

    Raises:
        FormatError: not an Iranian mobile number.
    """
    return e164_lookup_key(normalise_phone(phone), salt)


def luhn_check_digit(digits: str) -> str:
    """Return the Luhn check digit to append to ``digits`` (ASCII digits).

    Raises:
        FormatError: ``digits`` is empty or not all ASCII digits.
    """
    if not _NUMBER.fullmatch(digits):
        raise FormatError(f"{_shorten(digits)!r} is not digits")
    doubled = sum(_LUHN_DOUBLED[int(char)] for char in digits[-1::-2])
    return str(-(doubled + sum(int(char) for char in digits[-2::-2])) % 10)


def is_luhn_valid(number: str) -> bool:
    """True if the last digit of ``number`` is the Luhn check digit of the rest."""
    if len(number) < 2 or not _NUMBER.fullmatch(number):
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


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

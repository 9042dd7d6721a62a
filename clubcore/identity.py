"""Member numbers and phone numbers, normalised in one place; how a member was identified.

The terminal (CLI, checkout, wedge and keypad entry, the app), the offline
store and the club server all read numbers people type through these
functions, so ``۰۹۱۲ ۳۴۵ ۶۷۸۹`` finds the same member everywhere.

Input accepted everywhere:

- digits in ASCII, Persian (``۰``-``۹``) or Arabic-Indic (``٠``-``٩``);
- spaces (also no-break spaces), hyphens and parentheses anywhere inside;
- surrounding whitespace and control characters (a scanner's CR/LF).

==========================================  =====================================
typed                                       canonical
==========================================  =====================================
member number: 1 to 14 digits               decimal without leading zeros
                                            (``000123`` -> ``123``), as on a card
mobile: ``09xxxxxxxxx``, ``9xxxxxxxxx``,    E.164, ``+989xxxxxxxxx``
``+989xxxxxxxxx``, ``00989xxxxxxxxx``,
``989xxxxxxxxx``
==========================================  =====================================

Where one field takes either (the keypad, a scanner), :func:`is_phone`
decides, and a bare ``989xxxxxxxxx`` is read as a member number.

The club never sends phone numbers to a lane: a member is found by
:func:`phone_lookup_key`, ``sha256(salt + E.164)`` with the club's
``phone_salt`` setting, computed the same way on the server and the lane.

Member numbers may end with a Luhn (ISO/IEC 7812, mod 10) check digit; the
club decides (``check_digit=True``). :func:`luhn_check_digit` computes it.

:class:`IdMethod` is the one vocabulary of how a sale's member was
identified, recorded as the sale's ``id_method``.
"""

from __future__ import annotations

import enum
import hashlib
import re

from clubcore.cardformat import MAX_MEMBER_NO
from clubcore.errors import FormatError

__all__ = [
    "IdMethod",
    "e164_lookup_key",
    "is_luhn_valid",
    "is_phone",
    "luhn_check_digit",
    "normalise_digits",
    "normalise_phone",
    "parse_member_number",
    "phone_lookup_key",
]

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_SEPARATORS = str.maketrans("", "", " -()\u00a0")
_EDGES = re.compile(r"^[\s\x00-\x1f\x7f]+|[\s\x00-\x1f\x7f]+$")
_PHONE = re.compile(r"(?:\+98|0098|98|0)?(9[0-9]{9})", re.ASCII)
#: phone shapes recognised without being told it is a phone (not bare ``98...``)
_PHONE_SHAPE = re.compile(r"(?:\+98|0098|0)?9[0-9]{9}", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_MAX_DIGITS = len(str(MAX_MEMBER_NO))
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # 2d, less 9 when over 9


class IdMethod(enum.StrEnum):
    """How the customer was identified: the sale's ``id_method``, one vocabulary everywhere.

    Only :attr:`CARD` proves the card is the club's; :attr:`CARD_UID` is a
    cloneable chip UID (policy may refuse redemption on it); the rest are
    what someone typed or scanned.
    """

    CARD = "card"  # a chip or contact card whose club signature was checked
    CARD_UID = "card-uid"  # a UID-only chip registered to the member
    QR = "qr"  # the printed QR (signed text form) of a card, scanned
    MAGSTRIPE = "magstripe"  # track 2 of a magstripe card (unsigned)
    NUMBER = "number"  # the member number, typed or scanned
    PHONE = "phone"  # the member's mobile number, typed


def _shorten(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def normalise_digits(text: str) -> str:
    """Persian and Arabic-Indic digits to ASCII; outer whitespace and controls stripped."""
    return _EDGES.sub("", text.translate(_DIGITS))


def _compact(text: str) -> str:
    return normalise_digits(text).translate(_SEPARATORS)


def parse_member_number(text: str, *, check_digit: bool = False) -> str:
    """The canonical member number (no leading zeros) from what was typed.

    Arguments:
        text: digits in any script; spaces and hyphens allowed.
        check_digit: also require a valid Luhn check digit.

    Raises:
        FormatError: not 1 to 14 digits, zero, or a wrong check digit.
    """
    compact = _compact(text)
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


def is_phone(text: str) -> bool:
    """True if ``text`` is unmistakably a mobile number where a member number could be too.

    ``989xxxxxxxxx`` (no ``+``) is left out: it is also a 12-digit member
    number. Where the field is a phone, :func:`normalise_phone` accepts it.
    """
    return _PHONE_SHAPE.fullmatch(_compact(text)) is not None


def normalise_phone(phone: str) -> str:
    """An Iranian mobile number in E.164 (``+989xxxxxxxxx``).

    Raises:
        FormatError: not an Iranian mobile number.
    """
    compact = _compact(phone)
    match = _PHONE.fullmatch(compact)
    if match is None:
        raise FormatError(f"{_shorten(compact)!r} is not an Iranian mobile number (09xxxxxxxxx)")
    return "+98" + match.group(1)


def e164_lookup_key(e164: str, salt: bytes) -> str:
    """``sha256(salt + E.164 as ASCII)`` in lowercase hex, for a number already in E.164.

    Raises:
        UnicodeEncodeError: ``e164`` is not ASCII.
    """
    return hashlib.sha256(salt + e164.encode("ascii")).hexdigest()


def phone_lookup_key(phone: str, salt: bytes) -> str:
    """The key kept instead of a phone number: :func:`e164_lookup_key` of it normalised.

    Raises:
        FormatError: not an Iranian mobile number.
    """
    return e164_lookup_key(normalise_phone(phone), salt)


def luhn_check_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits`` (ASCII digits).

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

"""Rows an operator writes: products, member prices, category discounts, offers, members.

One frozen dataclass per kind of row, holding typed values (money in minor
units, dates as aware datetimes, phones in E.164), and one function that
checks it against what the club knows (:class:`Known`): :func:`problems`
lists every broken rule, :func:`validate` raises them as one
:class:`RecordError`. The admin API builds records from JSON, the importer
from file cells with the ``parse_*`` readers below; both then check them here.

Rules (each a :class:`Problem` naming the column):

=====================  ===========================================================
row                    rules
=====================  ===========================================================
every text             no NUL, no lone surrogate, at most :data:`MAX_NAME` chars
                       (messages :data:`MAX_MESSAGE`), keys without ``|``
product                list price >= 0; category known; barcodes EAN-13, EAN-8
                       or UPC-A with a valid check digit (python-stdnum), in
                       their digits only (:func:`barcode_digits`), none twice
member price           price >= 0; tier known; product known; not above the
                       product's list price unless ``above_list`` is set
category discount      percentage 0..100 % (0..10000 bp); tier and category known
offer                  exactly one of unit price and percentage; a unit price
                       names its product; a stacking offer is a percentage; at
                       most one target; tier, product and category known; ends
                       not before it starts
member                 number 1..14 digits; tier known; phone an Iranian mobile
                       (E.164); status one of :data:`MEMBER_STATUSES` (``merged``
                       is a merge's doing, never written by an operator)
=====================  ===========================================================

Readers of what files hold (Persian and Arabic-Indic digits everywhere):

- :func:`parse_amount`: ``12,500``, ``۱۲٬۵۰۰``, ``1250.5`` in a unit of ``scale``
  minor units (toman: 10 rial), to an integer of minor units; never float.
- :func:`parse_percent`: ``12.5`` or ``12.5%`` to basis points.
- :func:`parse_when`: ISO ``2026-12-01``, Jalali ``1405-09-10`` or ``1405/09/10``,
  optionally `` HH:MM``, or a full ISO timestamp with its offset.
- :func:`parse_barcode`, :func:`parse_flag`, :func:`parse_text`.

Both the admin API (:mod:`club_server.admin`) and the importer
(:mod:`club_server.imports`) check rows here and nowhere else; their models
and readers only give them shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeAlias
from zoneinfo import ZoneInfo

import jdatetime
from stdnum import ean
from stdnum.exceptions import ValidationError

from clubcore.errors import FormatError
from clubcore.identity import normalise_phone, parse_member_number
from clubcore.money import BP_ONE
from clubcore.wire import clean_text

__all__ = [
    "LANGUAGE",
    "MAX_MESSAGE",
    "MAX_NAME",
    "MEMBER_STATUSES",
    "CategoryDiscountRecord",
    "Known",
    "MemberPriceRecord",
    "MemberRecord",
    "MemberStatus",
    "OfferRecord",
    "Problem",
    "ProductRecord",
    "Record",
    "RecordError",
    "barcode_digits",
    "parse_amount",
    "parse_barcode",
    "parse_day_text",
    "parse_flag",
    "parse_percent",
    "parse_text",
    "parse_when",
    "problems",
    "validate",
]

MAX_NAME = 200
MAX_MESSAGE = 1_000
#: the largest amount of minor units a row may hold (as the wire's amounts)
MAX_AMOUNT = 10**15


class MemberStatus(StrEnum):
    """A member's status, on the server and on the lanes."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    #: absorbed by another member (``merged_into``); only a merge sets it
    MERGED = "merged"


#: the statuses an operator or a file may set
MEMBER_STATUSES: tuple[str, ...] = (
    MemberStatus.ACTIVE,
    MemberStatus.SUSPENDED,
    MemberStatus.CLOSED,
)
#: a translation's language: two lower-case letters (``fa``, ``en``)
LANGUAGE = r"^[a-z]{2}$"
_LANGUAGE = re.compile(LANGUAGE)
#: barcode lengths and what they are called
BARCODE_KINDS = {13: "EAN-13", 12: "UPC-A", 8: "EAN-8"}

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
#: thousands separators: comma, Arabic thousands separator, apostrophe, (no-break) spaces
_GROUPING = ",٬'\u00a0\u202f "
#: decimal points: full stop, Arabic decimal separator, slash-free Persian momayyez
_DECIMAL = ".٫"
_NUMBER = re.compile(r"([-−]?)([0-9]{1,3}(?:G[0-9]{3})*|[0-9]+)(?:D([0-9]+))?")
_DAY = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})(?:[ T]([0-9]{1,2}):([0-9]{2}))?")
_JALALI_BEFORE = 1700
#: what most cells hold, read without the general path: a plain whole number
_PLAIN = re.compile(r"[0-9]{1,15}", re.ASCII)
_PLAIN_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3}){1,4}", re.ASCII)
_CANONICAL_NUMBER = re.compile(r"[1-9][0-9]{0,13}", re.ASCII)
_CANONICAL_PHONE = re.compile(r"\+989[0-9]{9}", re.ASCII)
_TRUE = frozenset({"1", "yes", "true", "y", "x", "بله", "آری", "دارد"})
_FALSE = frozenset({"0", "no", "false", "n", "", "خیر", "نه", "ندارد"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: the column (as files name it) and what is wrong, for a person."""

    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.column}: {self.message}"


class RecordError(FormatError):
    """A row breaks one or more rules; ``problems`` lists them all."""

    def __init__(self, found: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(found)
        super().__init__("; ".join(str(p) for p in self.problems))


# --- readers of file cells -------------------------------------------------------------


def _cell(text: str) -> str:
    return text.translate(_DIGITS).strip()


def parse_text(text: str | None, *, limit: int = MAX_NAME, required: bool = True) -> str:
    """A cell as text, trimmed.

    Raises:
        FormatError: empty when ``required``, longer than ``limit``, or NUL / lone surrogate.
    """
    value = (text or "").strip()
    if required and not value:
        raise FormatError("must not be empty")
    if not clean_text(value):
        raise FormatError("text must not hold NUL or a lone surrogate")
    if len(value) > limit:
        raise FormatError(f"longer than {limit} characters")
    return value


def parse_amount(text: str, scale: int = 1) -> int:
    """An amount written in units of ``scale`` minor units, as an integer of minor units.

    ``12,500`` with ``scale=10`` (toman, stored in rial) is 125,000; ``1,250.5``
    is 12,505. Groups after a thousands separator have three digits (``1,23``
    is refused: a decimal comma?). Negative amounts are read (a rule refuses them).

    Raises:
        FormatError: not a number, or a fraction finer than one minor unit.
    """
    if _PLAIN.fullmatch(text) or _PLAIN_GROUPED.fullmatch(text):
        return int(text.replace(",", "")) * scale
    value = _cell(text)
    for sep in _GROUPING:
        value = value.replace(sep, "G")
    for point in _DECIMAL:
        value = value.replace(point, "D")
    value = value.strip("G")
    found = _NUMBER.fullmatch(value)
    if found is None:
        raise FormatError(f"not an amount: {text.strip()[:20]!r}")
    sign, whole, frac = found.groups()
    number = Decimal(whole.replace("G", "") + "." + (frac or "0")) * scale
    if number != number.to_integral_value():
        raise FormatError(f"{text.strip()} is finer than one minor unit")
    amount = int(number)
    if amount > MAX_AMOUNT:
        raise FormatError(f"{text.strip()[:20]} is too large")
    return -amount if sign else amount


def parse_percent(text: str) -> int:
    """A percentage (``12.5``, ``12.5%``, ``٪۱۲٫۵``) in basis points (1250).

    Raises:
        FormatError: not a number, or finer than 0.01 %.
    """
    value = _cell(text).replace("%", "").replace("٪", "").replace("٫", ".").strip()
    try:
        number = Decimal(value) * 100
    except InvalidOperation:
        raise FormatError(f"not a percentage: {text.strip()[:20]!r}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise FormatError(f"{text.strip()[:20]} is finer than 0.01 %")
    return int(number)


def parse_flag(text: str | None) -> bool:
    """A yes/no cell: ``1/0``, ``yes/no``, ``true/false``, ``بله/خیر``; empty is no.

    Raises:
        FormatError: anything else.
    """
    value = _cell(text or "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FormatError(f"not yes or no: {value[:20]!r}")


def parse_day_text(text: str) -> tuple[date, time | None]:
    """A calendar day (ISO or Jalali, ``-`` or ``/``) and an optional ``HH:MM``.

    Raises:
        FormatError: not such a date, or not a day of its calendar.
    """
    found = _DAY.fullmatch(_cell(text))
    if found is None:
        raise FormatError(f"a date is YYYY-MM-DD (ISO or Jalali), not {text.strip()[:25]!r}")
    year, month, day = (int(g) for g in found.groups()[:3])
    hour, minute = found.group(4), found.group(5)
    try:
        if year < _JALALI_BEFORE:
            day_value: date = jdatetime.date(year, month, day).togregorian()
        else:
            day_value = date(year, month, day)
        at = time(int(hour), int(minute)) if hour is not None else None
    except ValueError:
        raise FormatError(f"{text.strip()} is not a day of its calendar") from None
    return day_value, at


def parse_when(text: str, zone: ZoneInfo, *, end: bool = False) -> datetime:
    """A moment: an ISO timestamp with offset, or a day (and time) in ``zone``.

    A day without a time is its start, or with ``end`` the start of the next
    day (an offer "until 1405-09-30" runs through that day).

    Raises:
        FormatError: neither form.
    """
    value = _cell(text)
    if len(value) > 16:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    day, at = parse_day_text(value)
    if at is None and end:
        day, at = day + timedelta(days=1), time(0, 0)
    return datetime.combine(day, at or time(0, 0), zone)


def barcode_digits(text: str) -> str:
    """A barcode as its ASCII digits: Persian and Arabic-Indic digits mapped, spaces and
    dashes dropped (nothing checked: :func:`parse_barcode` does)."""
    return _cell(text).replace(" ", "").replace("-", "")


def parse_barcode(text: str) -> str:
    """An EAN-13, EAN-8 or UPC-A barcode (12 digits), its check digit verified.

    Raises:
        FormatError: not 8, 12 or 13 digits, or a wrong check digit.
    """
    value = barcode_digits(text)
    if len(value) not in BARCODE_KINDS or not value.isascii() or not value.isdigit():
        raise FormatError(f"a barcode is 8, 12 or 13 digits (EAN-8, UPC-A, EAN-13): {value!r}")
    try:
        return str(ean.validate(value))
    except ValidationError:
        raise FormatError(
            f"barcode {value}: wrong {BARCODE_KINDS[len(value)]} check digit"
        ) from None


# --- records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    """What rows are checked against; ``None`` leaves that check out.

    Attributes:
        tiers: tier codes.
        categories: category codes.
        list_prices: SKU -> list price of every product a row may name.
    """

    tiers: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    list_prices: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """A product: SKU, name, category, list price, barcodes, flags."""

    sku: str
    name: str
    category: str
    list_price: int
    barcodes: tuple[str, ...] = ()
    member_only: bool = False
    active: bool = True
    #: (language, name) translations, sorted by language (``products.names``); None: leave
    #: the stored ones as they are (a file without ``name_XX`` columns)
    names: tuple[tuple[str, str], ...] | None = ()

    @property
    def key(self) -> str:
        return self.sku


@dataclass(frozen=True, slots=True)
class MemberPriceRecord:
    """A tier's price of a product; ``above_list`` allows more than the list price."""

    sku: str
    tier: str
    price: int
    above_list: bool = False

    @property
    def key(self) -> str:
        return f"{self.sku}|{self.tier}"


@dataclass(frozen=True, slots=True)
class CategoryDiscountRecord:
    """A tier's percentage off a category, in basis points."""

    category: str
    tier: str
    percent_bp: int

    @property
    def key(self) -> str:
        return f"{self.category}|{self.tier}"


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """A time-boxed offer (:class:`clubcore.pricing.Offer`) with its texts."""

    offer_id: str
    title: str
    message: str = ""
    unit_price: int | None = None
    percent_bp: int | None = None
    sku: str | None = None
    category: str | None = None
    target_member: str | None = None
    target_segment: str | None = None
    target_tier: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    stacks: bool = False
    #: language -> {"title": ..., "message": ...}
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.offer_id


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A member as the club keeps them (the phone in E.164, server only)."""

    member_no: str
    display_name: str
    tier: str
    phone: str | None = None
    segments: tuple[str, ...] = ()
    full_name: str | None = None
    status: str = "active"

    @property
    def key(self) -> str:
        return self.member_no


Record: TypeAlias = (
    ProductRecord | MemberPriceRecord | CategoryDiscountRecord | OfferRecord | MemberRecord
)


def _text(found: list[Problem], column: str, value: str | None, limit: int = MAX_NAME) -> None:
    if value is None:
        return
    if not clean_text(value):
        found.append(Problem(column, "text must not hold NUL or a lone surrogate"))
    elif len(value) > limit:
        found.append(Problem(column, f"longer than {limit} characters"))


def _key(found: list[Problem], column: str, value: str) -> None:
    _text(found, column, value)
    if not value.strip():
        found.append(Problem(column, "must not be empty"))
    elif "|" in value or value != value.strip():
        found.append(Problem(column, f"{value[:20]!r} must not hold '|' or outer spaces"))


def _language(found: list[Problem], column: str, lang: str) -> None:
    if not _LANGUAGE.fullmatch(lang):
        found.append(Problem(column, f"a language is two lower-case letters, not {lang[:8]!r}"))


def _known(found: list[Problem], column: str, value: str | None, known: frozenset[str] | None,
           what: str) -> None:  # fmt: skip
    if value is not None and known is not None and value not in known:
        found.append(Problem(column, f"unknown {what} {value!r}"))


def _amount(found: list[Problem], column: str, value: int | None) -> None:
    if value is not None and value < 0:
        found.append(Problem(column, f"must not be negative: {value}"))
    elif value is not None and value > MAX_AMOUNT:
        found.append(Problem(column, f"too large: {value}"))


def _product(row: ProductRecord, known: Known) -> list[Problem]:
    found: list[Problem] = []
    _key(found, "sku", row.sku)
    _text(found, "name", row.name)
    if not row.name.strip():
        found.append(Problem("name", "must not be empty"))
    _key(found, "category", row.category)
    _known(found, "category", row.category, known.categories, "category")
    _amount(found, "list_price", row.list_price)
    for barcode in row.barcodes:
        try:
            if parse_barcode(barcode) != barcode:
                found.append(Problem("barcode", f"{barcode!r} is not in digits only"))
        except FormatError as exc:
            found.append(Problem("barcode", str(exc)))
    if len(set(row.barcodes)) != len(row.barcodes):
        found.append(Problem("barcode", "a barcode is listed twice"))
    for lang, name in row.names or ():
        _language(found, "names", lang)
        _text(found, f"name_{lang}", name)
    return found


def _member_price(row: MemberPriceRecord, known: Known) -> list[Problem]:
    found: list[Problem] = []
    _key(found, "sku", row.sku)
    _key(found, "tier", row.tier)
    _known(found, "tier", row.tier, known.tiers, "tier")
    _amount(found, "price", row.price)
    if known.list_prices is not None:
        list_price = known.list_prices.get(row.sku)
        if list_price is None:
            found.append(Problem("sku", f"unknown product {row.sku!r}"))
        elif row.price > list_price and not row.above_list:
            found.append(
                Problem(
                    "price",
                    f"{row.price} is above the list price {list_price} "
                    "(set above_list to allow it)",
                )
            )
    return found


def _category_discount(row: CategoryDiscountRecord, known: Known) -> list[Problem]:
    found: list[Problem] = []
    _key(found, "category", row.category)
    _known(found, "category", row.category, known.categories, "category")
    _key(found, "tier", row.tier)
    _known(found, "tier", row.tier, known.tiers, "tier")
    if not 0 <= row.percent_bp <= BP_ONE:
        found.append(Problem("percent", f"must be within 0..100 %: {row.percent_bp / 100} %"))
    return found


def _offer_amounts(row: OfferRecord, found: list[Problem]) -> None:
    if (row.unit_price is None) == (row.percent_bp is None):
        found.append(Problem("unit_price", "set exactly one of unit_price and percent"))
    _amount(found, "unit_price", row.unit_price)
    if row.percent_bp is not None and not 0 <= row.percent_bp <= BP_ONE:
        found.append(Problem("percent", f"must be within 0..100 %: {row.percent_bp / 100} %"))
    if row.stacks and row.percent_bp is None:
        found.append(Problem("stacks", "a stacking offer must be a percentage"))
    if row.unit_price is not None and row.sku is None:
        found.append(Problem("sku", "a unit_price offer names its sku"))


def _offer(row: OfferRecord, known: Known) -> list[Problem]:
    found: list[Problem] = []
    _key(found, "offer_id", row.offer_id)
    _text(found, "title", row.title)
    if not row.title.strip():
        found.append(Problem("title", "must not be empty"))
    _text(found, "message", row.message, MAX_MESSAGE)
    _offer_amounts(row, found)
    if row.sku is not None and row.category is not None:
        found.append(Problem("category", "an offer covers a product or a category, not both"))
    if row.sku is not None and known.list_prices is not None and row.sku not in known.list_prices:
        found.append(Problem("sku", f"unknown product {row.sku!r}"))
    _known(found, "category", row.category, known.categories, "category")
    targets = [t for t in (row.target_member, row.target_segment, row.target_tier) if t]
    if len(targets) > 1:
        found.append(Problem("target_tier", "an offer has at most one target"))
    _known(found, "target_tier", row.target_tier, known.tiers, "tier")
    for column in ("target_member", "target_segment", "sku", "category", "target_tier"):
        _text(found, column, getattr(row, column))
    if row.starts_at and row.ends_at and row.ends_at < row.starts_at:
        found.append(Problem("ends_at", "the offer ends before it starts"))
    for lang, texts in row.texts.items():
        _language(found, "texts", lang)
        for name, value in texts.items():
            _text(found, f"{name}_{lang}", value, MAX_MESSAGE)
    return found


def _member(row: MemberRecord, known: Known) -> list[Problem]:
    found: list[Problem] = []
    try:
        if not _CANONICAL_NUMBER.fullmatch(row.member_no) and (
            parse_member_number(row.member_no) != row.member_no
        ):
            found.append(Problem("member_no", f"not canonical: {row.member_no!r}"))
    except FormatError as exc:
        found.append(Problem("member_no", str(exc)))
    _text(found, "display_name", row.display_name)
    if not row.display_name.strip():
        found.append(Problem("display_name", "must not be empty"))
    _text(found, "full_name", row.full_name)
    _known(found, "tier", row.tier, known.tiers, "tier")
    if row.phone is not None and not _CANONICAL_PHONE.fullmatch(row.phone):
        try:
            if normalise_phone(row.phone) != row.phone:
                found.append(Problem("phone", f"not E.164: {row.phone!r}"))
        except FormatError as exc:
            found.append(Problem("phone", str(exc)))
    for segment in row.segments:
        _key(found, "segments", segment)
        if "," in segment:
            found.append(Problem("segments", f"a segment holds no comma: {segment!r}"))
    if row.status not in MEMBER_STATUSES:
        found.append(Problem("status", f"one of {', '.join(MEMBER_STATUSES)}, not {row.status!r}"))
    return found


def problems(record: Record, known: Known | None = None) -> list[Problem]:
    """Every rule ``record`` breaks, given what the club ``known``s (empty: none)."""
    known = known or Known()
    if isinstance(record, ProductRecord):
        return _product(record, known)
    if isinstance(record, MemberPriceRecord):
        return _member_price(record, known)
    if isinstance(record, CategoryDiscountRecord):
        return _category_discount(record, known)
    if isinstance(record, OfferRecord):
        return _offer(record, known)
    return _member(record, known)


def validate(record: Record, known: Known | None = None) -> None:
    """Check ``record`` (:func:`problems`).

    Raises:
        RecordError: it breaks a rule; ``problems`` lists them.
    """
    found = problems(record, known)
    if found:
        raise RecordError(found)

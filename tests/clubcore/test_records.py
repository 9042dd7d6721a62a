"""clubcore.records: typed rows, their rules, and the readers of file cells."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import jdatetime
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from clubcore.errors import FormatError
from clubcore.records import (
    CategoryDiscountRecord,
    Known,
    MemberPriceRecord,
    MemberRecord,
    OfferRecord,
    ProductRecord,
    RecordError,
    parse_amount,
    parse_barcode,
    parse_day_text,
    parse_flag,
    parse_percent,
    parse_text,
    parse_when,
    problems,
    validate,
)

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SCRIPTS = st.sampled_from([str.maketrans("", ""), PERSIAN, ARABIC])
TEHRAN = ZoneInfo("Asia/Tehran")
KNOWN = Known(
    tiers=frozenset({"basic", "gold"}),
    categories=frozenset({"dairy", "bakery"}),
    list_prices={"P1": 100_000},
)


def _columns(record: object, known: Known = KNOWN) -> list[str]:
    return [p.column for p in problems(record, known)]  # type: ignore[arg-type]


# --- amounts -------------------------------------------------------------------------


@given(amount=st.integers(0, 10**13), script=SCRIPTS, sep=st.sampled_from(["", ",", "٬"]))
def test_amounts_in_any_script_and_grouping_read_back(
    amount: int, script: dict[int, str], sep: str
) -> None:
    text = f"{amount:,}".replace(",", sep).translate(script)
    assert parse_amount(text) == amount
    assert parse_amount(text, scale=10) == amount * 10


@given(tenths=st.integers(0, 10**12))
def test_toman_with_one_decimal_is_whole_rial(tenths: int) -> None:
    text = f"{tenths // 10}.{tenths % 10}"
    assert parse_amount(text, scale=10) == tenths
    assert parse_amount(text.replace(".", "٫").translate(PERSIAN), scale=10) == tenths


def test_amount_refusals() -> None:
    for bad in ("", "abc", "1,23", "12.5", "1.2.3", "١٢x", "--5"):
        with pytest.raises(FormatError):
            parse_amount(bad)
    assert parse_amount("-5") == -5  # read; the rules refuse it
    assert parse_amount(" ۱۲٬۵۰۰ ", 10) == 125_000


@given(text=st.text(max_size=12))
def test_amount_reader_raises_only_format_errors(text: str) -> None:
    try:
        value = parse_amount(text, 10)
    except FormatError:
        return
    assert isinstance(value, int)


@given(bp=st.integers(0, 10_000), script=SCRIPTS)
def test_percentages_read_back(bp: int, script: dict[int, str]) -> None:
    text = f"{bp // 100}.{bp % 100:02d}".translate(script)
    assert parse_percent(text) == bp
    assert parse_percent(text + "%") == bp


def test_percent_refusals() -> None:
    for bad in ("x", "1.234", "inf", "nan", ""):
        with pytest.raises(FormatError):
            parse_percent(bad)


# --- dates ---------------------------------------------------------------------------


@given(
    day=st.dates(date(1990, 1, 1), date(2090, 12, 31)), script=SCRIPTS, sep=st.sampled_from("-/")
)
def test_jalali_and_iso_days_name_the_same_day(day: date, script: dict[int, str], sep: str) -> None:
    jalali = jdatetime.date.fromgregorian(date=day)
    jtext = f"{jalali.year:04d}{sep}{jalali.month:02d}{sep}{jalali.day:02d}".translate(script)
    assert parse_day_text(jtext) == (day, None)
    assert parse_day_text(day.isoformat().translate(script)) == (day, None)


def test_when_forms() -> None:
    start = parse_when("1405-09-10", TEHRAN)
    assert start == datetime(2026, 12, 1, tzinfo=TEHRAN)
    assert parse_when("1405/09/10", TEHRAN, end=True) == datetime(2026, 12, 2, tzinfo=TEHRAN)
    assert parse_when("2026-12-01 08:30", TEHRAN) == datetime(2026, 12, 1, 8, 30, tzinfo=TEHRAN)
    stamp = "2026-12-01T05:00:00+00:00"
    assert parse_when(stamp, TEHRAN) == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert parse_day_text("۱۴۰۵-۰۹-۱۰ ۰۸:۳۰")[1] == time(8, 30)
    for bad in ("1405-13-01", "2026-02-30", "yesterday", "1405-12-31", "2026-12-01 25:00"):
        with pytest.raises(FormatError):
            parse_when(bad, TEHRAN)


# --- barcodes, flags, text -----------------------------------------------------------


@given(body=st.from_regex(r"[0-9]{7}|[0-9]{11}|[0-9]{12}", fullmatch=True), script=SCRIPTS)
def test_barcodes_with_their_check_digit_pass(body: str, script: dict[int, str]) -> None:
    code = body + ean.calc_check_digit(body)
    assert parse_barcode(code.translate(script)) == code


@given(body=st.from_regex(r"[0-9]{12}", fullmatch=True), wrong=st.integers(1, 9))
def test_barcodes_with_a_wrong_check_digit_fail(body: str, wrong: int) -> None:
    bad = str((int(ean.calc_check_digit(body)) + wrong) % 10)
    with pytest.raises(FormatError, match="check digit"):
        parse_barcode(body + bad)


def test_barcode_lengths() -> None:
    for bad in ("123", "12345678901234", "4006381333931x", ""):
        with pytest.raises(FormatError):
            parse_barcode(bad)


def test_flags_and_text() -> None:
    assert parse_flag("بله") and parse_flag("YES") and parse_flag("۱")
    assert not parse_flag("") and not parse_flag(None) and not parse_flag("خیر")
    with pytest.raises(FormatError):
        parse_flag("maybe")
    assert parse_text("  شیر  ") == "شیر"
    for bad in ("", "a\x00b", "\ud800", "x" * 201):
        with pytest.raises(FormatError):
            parse_text(bad)
    assert parse_text("", required=False) == ""


# --- rules ---------------------------------------------------------------------------


def test_a_good_product_passes_and_a_bad_one_names_every_column() -> None:
    validate(ProductRecord("P1", "شیر", "dairy", 100_000, ("4006381333931",)), KNOWN)
    bad = ProductRecord("P|1", "", "toys", -1, ("4006381333932",))
    assert _columns(bad) == ["sku", "name", "category", "list_price", "barcode"]
    with pytest.raises(RecordError) as caught:
        validate(bad, KNOWN)
    assert "unknown category 'toys'" in str(caught.value)


def test_member_price_rules() -> None:
    validate(MemberPriceRecord("P1", "gold", 90_000), KNOWN)
    assert _columns(MemberPriceRecord("P1", "gold", 120_000)) == ["price"]
    validate(MemberPriceRecord("P1", "gold", 120_000, above_list=True), KNOWN)
    assert _columns(MemberPriceRecord("P1", "iron", -1)) == ["tier", "price"]
    assert _columns(MemberPriceRecord("P9", "gold", 1)) == ["sku"]
    assert problems(MemberPriceRecord("P9", "iron", 1)) == []  # nothing known, nothing checked


def test_category_discount_rules() -> None:
    validate(CategoryDiscountRecord("dairy", "gold", 1_000), KNOWN)
    assert _columns(CategoryDiscountRecord("toys", "iron", 10_001)) == [
        "category",
        "tier",
        "percent",
    ]


def test_offer_rules() -> None:
    start = datetime(2026, 12, 1, tzinfo=TEHRAN)
    good = OfferRecord("O1", "Gold week", unit_price=80_000, sku="P1", target_tier="gold",
                       starts_at=start, ends_at=start)  # fmt: skip
    validate(good, KNOWN)
    earlier = start.replace(month=11)
    backwards = OfferRecord("O1", "x", percent_bp=500, starts_at=start, ends_at=earlier)
    assert _columns(backwards) == ["ends_at"]
    assert _columns(OfferRecord("O1", "x")) == ["unit_price"]
    assert _columns(OfferRecord("O1", "x", unit_price=1, stacks=True)) == ["stacks", "sku"]
    two = OfferRecord("O1", "x", percent_bp=1, target_tier="iron", target_segment="s", sku="P9")
    assert _columns(two) == ["sku", "target_tier", "target_tier"]


def test_member_rules() -> None:
    validate(MemberRecord("123", "Ali", "gold", "+989121234567", ("family",)), KNOWN)
    bad = MemberRecord("0123", "", "iron", "0912", ("a,b",), status="gone")
    assert _columns(bad) == ["member_no", "display_name", "tier", "phone", "segments", "status"]

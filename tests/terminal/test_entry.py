"""Tests for terminal.entry: wedge and keypad text into typed entries."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clubcore import cardformat as cf
from clubcore.errors import FormatError
from terminal.entry import (
    MagstripeEntry,
    MemberNumberEntry,
    PhoneEntry,
    SignedCardEntry,
    parse_entry,
)


@pytest.mark.parametrize(
    "text",
    [
        "09123456789",
        "+989123456789",
        "00989123456789",
        "9123456789",
        "۰۹۱۲۳۴۵۶۷۸۹",
        "٠٩١٢٣٤٥٦٧٨٩",
        "+98 912 345 6789",
        "0912-345-6789\r\n",
        "tel:09123456789",
        "TEL:+98-912-345-6789",
    ],
)
def test_iranian_mobile_forms_normalise_to_e164(text: str) -> None:
    assert parse_entry(text) == PhoneEntry("+989123456789")


@pytest.mark.parametrize(
    ("text", "member_no"),
    [
        ("12345", "12345"),
        ("  000123\n", "123"),
        ("۱۲۳۴۵", "12345"),
        ("1234 5678 9012", "123456789012"),
        ("99999999999999", "99999999999999"),
        ("989123456789", "989123456789"),  # no + : not a phone form, a 12-digit number
        ("8123456789", "8123456789"),  # ten digits not starting with 9
    ],
)
def test_member_numbers(text: str, member_no: str) -> None:
    assert parse_entry(text) == MemberNumberEntry(member_no)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "nothing"),
        (" \r\n\t", "nothing"),
        ("0000", "0 does not exist"),
        ("123456789012345", "at most 14"),
        ("12a45", "is not a member number"),
        ("+449123456789", "is not a member number"),
        ("tel:0212345678", "not an Iranian mobile"),
        ("tel:", "not an Iranian mobile"),
        ("CT1:AAAA", "payload"),
        (";123=2513?", "month 13"),
        (";123=25?", "malformed"),
        (";=2512?", "malformed"),
        (";123=2512", "malformed"),
        ("%B123^X^2512?", "is not a member number"),
        ("¹²³", "is not a member number"),  # superscript digits are not digits here
    ],
)
def test_malformed_entries(text: str, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        parse_entry(text)


def test_signed_card_qr_text() -> None:
    key = cf.private_key_from_seed(b"\x01" * 32)
    card = cf.issue_card(cf.CardFields(1, 42, 7, date(2030, 1, 31)), b"", key)
    text = cf.encode_text(card)
    assert parse_entry(text + "\r\n") == SignedCardEntry(card)
    assert parse_entry(text.lower()) == SignedCardEntry(card)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (";1234567890=2512101?", MagstripeEntry("1234567890", date(2025, 12, 31), "101")),
        (";0001234=2802?:", MagstripeEntry("1234", date(2028, 2, 29), "")),
        ("\n;۵۵=2702999?\r\n", MagstripeEntry("55", date(2027, 2, 28), "999")),
    ],
)
def test_magstripe_track2(text: str, expected: MagstripeEntry) -> None:
    assert parse_entry(text) == expected


@given(st.text(max_size=80))
def test_any_text_gives_an_entry_or_format_error(text: str) -> None:
    try:
        result = parse_entry(text)
    except FormatError as exc:
        assert str(exc)
        return
    assert isinstance(result, MemberNumberEntry | PhoneEntry | SignedCardEntry | MagstripeEntry)


@given(st.text(alphabet="0123456789;=?+-: \r\n۰۱۲۳۴۵۶۷۸۹telTEL", max_size=30))
def test_digit_heavy_text_gives_an_entry_or_format_error(text: str) -> None:
    try:
        result = parse_entry(text)
    except FormatError:
        return
    if isinstance(result, MemberNumberEntry):
        assert result.member_no.isdigit() and not result.member_no.startswith("0")
    if isinstance(result, PhoneEntry):
        assert result.e164.startswith("+989") and len(result.e164) == 13


def test_all_names_exist() -> None:
    from terminal import entry

    assert all(hasattr(entry, name) for name in entry.__all__)


def test_check_digits_apply_to_typed_and_swiped_numbers() -> None:
    assert parse_entry("79927398713", check_digit=True) == MemberNumberEntry("79927398713")
    with pytest.raises(FormatError, match="check digit"):
        parse_entry("79927398714", check_digit=True)
    with pytest.raises(FormatError, match="check digit"):
        parse_entry(";79927398714=2512?", check_digit=True)

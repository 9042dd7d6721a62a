"""clubcore.identity: member numbers and phones in any script and form, one canonical form."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clubcore.errors import FormatError
from clubcore.identity import (
    IdMethod,
    is_luhn_valid,
    is_phone,
    luhn_check_digit,
    normalise_digits,
    normalise_phone,
    parse_member_number,
    phone_lookup_key,
)

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SCRIPTS = st.sampled_from([str.maketrans("", ""), PERSIAN, ARABIC])
SEPARATORS = st.sampled_from(["", " ", "-", "\u00a0", "(", ")"])


def _dress(digits: str, script: dict[int, str], seps: list[str]) -> str:
    """``digits`` in ``script`` with a separator after each digit (cycled)."""
    out = [d.translate(script) + seps[i % len(seps)] for i, d in enumerate(digits)]
    return "".join(out)


@given(
    subscriber=st.from_regex(r"9[0-9]{9}", fullmatch=True),
    prefix=st.sampled_from(["0", "+98", "0098", "98", ""]),
    script=SCRIPTS,
    seps=st.lists(SEPARATORS, min_size=1, max_size=4),
)
def test_every_form_of_a_mobile_normalises_to_e164(
    subscriber: str, prefix: str, script: dict[int, str], seps: list[str]
) -> None:
    typed = prefix.translate(script) + _dress(subscriber, script, seps)
    assert normalise_phone(f" {typed}\r\n") == "+98" + subscriber
    assert normalise_phone(normalise_phone(typed)) == normalise_phone(typed)  # idempotent


@given(subscriber=st.from_regex(r"9[0-9]{9}", fullmatch=True), script=SCRIPTS)
def test_the_lookup_key_is_the_same_for_every_form(subscriber: str, script: dict[int, str]) -> None:
    salt = b"salt"
    forms = ["0" + subscriber, "+98" + subscriber, "0098" + subscriber, "98" + subscriber]
    keys = {phone_lookup_key(form.translate(script), salt) for form in forms}
    assert keys == {hashlib.sha256(salt + f"+98{subscriber}".encode()).hexdigest()}


@given(number=st.integers(1, 10**14 - 1), zeros=st.integers(0, 3), script=SCRIPTS,
       seps=st.lists(SEPARATORS, min_size=1, max_size=3))  # fmt: skip
def test_member_numbers_are_canonical_in_any_script(
    number: int, zeros: int, script: dict[int, str], seps: list[str]
) -> None:
    typed = _dress("0" * zeros + str(number), script, seps)
    assert parse_member_number(typed) == str(number)
    assert parse_member_number(str(number)) == str(number)


@given(st.text(max_size=40))
def test_any_text_is_a_member_number_or_a_format_error(text: str) -> None:
    try:
        canonical = parse_member_number(text)
    except FormatError:
        return
    assert canonical.isascii() and canonical.isdigit() and not canonical.startswith("0")


@given(st.text(max_size=40))
def test_any_text_is_a_phone_or_a_format_error(text: str) -> None:
    try:
        e164 = normalise_phone(text)
    except FormatError:
        assert not is_phone(text)
        return
    assert e164.startswith("+989") and len(e164) == 13 and e164[1:].isdigit()


@pytest.mark.parametrize("text", ["", "0", "000", "12a", "1" * 15, "+98912"])
def test_bad_member_numbers(text: str) -> None:
    with pytest.raises(FormatError):
        parse_member_number(text)


@pytest.mark.parametrize("text", ["12345", "0212345678", "+9891234567", "08123456789", ""])
def test_bad_phones(text: str) -> None:
    with pytest.raises(FormatError, match="not an Iranian mobile"):
        normalise_phone(text)


def test_a_bare_98_form_is_a_phone_only_where_a_phone_is_asked_for() -> None:
    assert normalise_phone("989123456789") == "+989123456789"
    assert not is_phone("989123456789")
    assert is_phone("۰۹۱۲ ۳۴۵ ۶۷۸۹") and is_phone("+98 912 345 6789")


def test_digits_and_edges() -> None:
    assert normalise_digits("\t۱۲٣4\r\n") == "1234"


def test_luhn_check_digit() -> None:
    assert luhn_check_digit("7992739871") == "3"
    assert is_luhn_valid("79927398713")
    assert not is_luhn_valid("79927398714")
    assert not is_luhn_valid("7")
    assert parse_member_number("۷۹۹۲۷۳۹۸۷۱۳", check_digit=True) == "79927398713"
    with pytest.raises(FormatError, match="check digit"):
        parse_member_number("79927398714", check_digit=True)
    with pytest.raises(FormatError):
        luhn_check_digit("12x")


@given(st.integers(1, 10**12))
def test_luhn_catches_every_single_digit_typo(number: int) -> None:
    base = str(number)
    full = base + luhn_check_digit(base)
    assert is_luhn_valid(full)
    position = number % len(full)
    typo = full[:position] + str((int(full[position]) + 1) % 10) + full[position + 1 :]
    assert not is_luhn_valid(typo)


def test_the_id_method_vocabulary() -> None:
    assert [m.value for m in IdMethod] == [
        "card", "card-uid", "qr", "magstripe", "number", "phone",
    ]  # fmt: skip

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clubcore.money import BP_ONE, CURRENCIES, apply_percent, format_amount, percent_of

amounts = st.integers(min_value=0, max_value=10**12)
bps = st.integers(min_value=0, max_value=BP_ONE)


def test_percent_rounds_half_up_to_the_minor_unit() -> None:
    assert percent_of(1_000, 1_000) == 100
    assert percent_of(5, 1_000) == 1  # 0.5 rounds up
    assert percent_of(4, 1_000) == 0  # 0.4 rounds down
    assert apply_percent(5, 1_000) == 4  # the customer keeps the half unit


@given(amounts, bps)
def test_percent_stays_within_the_amount(amount: int, bp: int) -> None:
    part = percent_of(amount, bp)
    assert 0 <= part <= amount
    assert apply_percent(amount, bp) + part == amount
    assert abs(part * BP_ONE - amount * bp) <= BP_ONE // 2  # within half a unit


@given(amounts, bps, bps)
def test_percent_is_monotonic(amount: int, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert percent_of(amount, low) <= percent_of(amount, high)


@pytest.mark.parametrize("bad", [(-1, 100), (10, -1), (10, 10_001)])
def test_percent_refuses_out_of_range(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        percent_of(*bad)


def test_format_amount_in_toman_and_rial() -> None:
    assert format_amount(1_234_560, CURRENCIES["IRT"]) == "123,456 toman"
    assert format_amount(1_234_565, CURRENCIES["IRT"]) == "123,456.5 toman"
    assert format_amount(1_234_565, CURRENCIES["IRR"]) == "1,234,565 rial"
    assert format_amount(-1_050, CURRENCIES["EUR"]) == "-10.50 €"
    assert format_amount(1_000, CURRENCIES["EUR"]) == "10.00 €"


@given(st.integers(-(10**15), 10**15))
def test_display_units_are_the_nearest_whole_toman_half_up(amount: int) -> None:
    from clubcore.money import CURRENCIES, round_for_display, to_display_units

    toman = CURRENCIES["IRT"]
    whole = to_display_units(amount, toman)
    assert abs(whole * 10 - amount) <= 5
    if abs(amount) % 10 == 5:
        assert abs(whole * 10) > abs(amount)  # a half goes away from zero
    assert round_for_display(amount, toman) == whole * 10
    assert round_for_display(amount, CURRENCIES["EUR"]) == amount

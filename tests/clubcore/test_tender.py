"""Tender: payments cover the total exactly, cash change, card references, split tender."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clubcore.errors import TenderError
from clubcore.tender import (
    Payment,
    Tender,
    cash_payment,
    change_due,
    check_payments,
    quick_amounts,
    remaining,
    tender_of,
)

TOMAN_NOTES = [10_000, 20_000, 50_000, 100_000, 500_000, 1_000_000, 2_000_000]  # rial


def test_cash_with_change() -> None:
    payment = cash_payment(85_000, 100_000)
    assert payment.change == 15_000 and change_due([payment]) == 15_000
    assert check_payments(85_000, [payment]) == []
    assert tender_of([payment]) is Tender.CASH


def test_too_little_cash_or_payments_that_do_not_add_up_are_refused() -> None:
    assert "at least the amount" in check_payments(85_000, [cash_payment(85_000, 80_000)])[0]
    assert "add up to 80000" in check_payments(85_000, [cash_payment(80_000)])[0]
    assert "needs a payment" in check_payments(1, [])[0]
    assert check_payments(0, []) == []  # all paid in points


def test_card_with_reference_then_cash_is_a_split_tender() -> None:
    payments = [
        Payment(Tender.CARD, 60_000, reference="123456789012"),
        cash_payment(25_000, 50_000),
    ]
    assert check_payments(85_000, payments) == []
    assert tender_of(payments) is Tender.SPLIT and change_due(payments) == 25_000
    assert remaining(85_000, payments[:1]) == 25_000


@pytest.mark.parametrize(
    ("payments", "problem"),
    [
        ([cash_payment(10), cash_payment(10)], "at most one cash"),
        ([cash_payment(10), Payment(Tender.CARD, 10)], "cash payment is the last"),
        ([Payment(Tender.CARD, 20, tendered=30)], "no amount handed over"),
        ([Payment(Tender.CARD, 20, reference="x" * 41)], "card reference"),
        ([Payment(Tender.CASH, 20, 20, reference="r")], "no reference"),
        ([Payment(Tender.SPLIT, 20)], "not cash or card"),
        ([Payment(Tender.CARD, 30), Payment(Tender.CARD, -10)], "not positive"),
    ],
)
def test_malformed_payments_say_what_is_wrong(payments: list[Payment], problem: str) -> None:
    assert any(problem in text for text in check_payments(20, payments))


def test_quick_amounts_round_up_to_notes() -> None:
    assert quick_amounts(85_000, TOMAN_NOTES) == [85_000, 90_000, 100_000, 500_000]
    assert quick_amounts(100_000, TOMAN_NOTES) == [100_000, 500_000, 1_000_000, 2_000_000]
    assert quick_amounts(0, [50, 10]) == [10, 50]
    with pytest.raises(TenderError):
        quick_amounts(-1, TOMAN_NOTES)


@given(
    total=st.integers(0, 10**12),
    card_share=st.integers(0, 100),
    extra=st.integers(0, 10**9),
)
def test_a_split_that_covers_the_total_is_accepted_and_change_is_what_was_handed_over_beyond(
    total: int, card_share: int, extra: int
) -> None:
    card = total * card_share // 100
    cash = total - card
    payments = []
    if card:
        payments.append(Payment(Tender.CARD, card, reference="RRN1"))
    if cash:
        payments.append(cash_payment(cash, cash + extra))
    assert check_payments(total, payments) == []
    assert sum(p.amount for p in payments) == total
    assert change_due(payments) == (extra if cash else 0)
    assert remaining(total, payments) == 0


@given(total=st.integers(1, 10**12), off=st.integers(1, 10**6), over=st.booleans())
def test_payments_that_miss_the_total_by_any_amount_are_refused(
    total: int, off: int, over: bool
) -> None:
    amount = total + off if over else max(total - off, 1)
    if amount == total:
        return
    assert check_payments(total, [cash_payment(amount, amount + off)]) != []


@given(due=st.integers(0, 10**10), notes=st.lists(st.integers(1, 10**7), min_size=1, max_size=8))
def test_every_quick_amount_covers_what_is_due(due: int, notes: list[int]) -> None:
    amounts = quick_amounts(due, notes)
    assert amounts == sorted(set(amounts)) and len(amounts) <= 4
    assert all(a >= due for a in amounts)
    if due:
        assert amounts[0] == due

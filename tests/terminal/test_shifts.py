"""A cashier's shift: sign-in with staff number and PIN, lockouts per person, the cashier,
number and payments of each sale."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clubcore.errors import AuthorizationError, SaleStateError, TenderError
from clubcore.tender import Payment, Tender, cash_payment
from offline_store import sales
from terminal.bootstrap import Terminal
from terminal.demo_data import DEMO_CASHIER, DEMO_CASHIER_PIN, DEMO_MANAGER_PIN
from terminal.pins import set_pin
from terminal.refunds import refund_sale
from terminal.shifts import current_shift, sign_in, sign_out
from tests.conftest import FixedClock

SKU = "P000001"


def test_a_cashier_signs_in_and_each_sale_records_them_and_its_number(terminal: Terminal) -> None:
    assert current_shift(terminal.db) is None
    shift = sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN, opening_float=500_000)
    assert (shift.name, shift.role, shift.opening_float) == ("Sara Ahmadi", "cashier", 500_000)
    assert sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN) == shift  # signed in already
    numbers = []
    for _ in range(3):
        checkout = terminal.checkout()
        checkout.add(SKU)
        sale = checkout.complete()
        numbers.append(sale.sale_no)
        assert sale.cashier_id == DEMO_CASHIER
        assert sales.get_sale(terminal.db, sale.sale_id) == sale
    assert numbers == [1, 2, 3]
    ended = sign_out(terminal)
    assert ended.ended_at is not None and current_shift(terminal.db) is None
    checkout = terminal.checkout()
    checkout.add(SKU)
    assert checkout.complete().cashier_id is None  # nobody signed in


def test_sale_numbers_start_again_each_business_day(terminal: Terminal, clock: FixedClock) -> None:
    for expected in (1, 2):
        checkout = terminal.checkout()
        checkout.add(SKU)
        assert checkout.complete().sale_no == expected
    clock.now += timedelta(days=1)
    checkout = terminal.checkout()
    checkout.add(SKU)
    assert checkout.complete().sale_no == 1


def test_nobody_signs_in_over_someone_elses_shift(terminal: Terminal) -> None:
    set_pin(terminal.db, "102", "Reza", "cashier", "1357")
    sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN)
    with pytest.raises(SaleStateError, match=r"Sara Ahmadi \(101\) is still signed in"):
        sign_in(terminal, "102", "1357")
    with pytest.raises(AuthorizationError):
        sign_out(terminal, force=True, pin="0000")
    sign_out(terminal, force=True, pin=DEMO_MANAGER_PIN)
    assert sign_in(terminal, "102", "1357").staff_id == "102"
    with pytest.raises(AuthorizationError, match="technician, not a cashier"):
        sign_in(terminal, "technician", "4321")


def test_wrong_pins_count_down_lock_one_person_and_start_again(
    terminal: Terminal, clock: FixedClock
) -> None:
    set_pin(terminal.db, "102", "Reza", "cashier", "1357")
    for left in (4, 3, 2, 1):
        with pytest.raises(AuthorizationError, match=rf"\({left} tr(y|ies) left\)"):
            sign_in(terminal, DEMO_CASHIER, "0000")
    with pytest.raises(AuthorizationError, match="now locked for 5 minutes"):
        sign_in(terminal, DEMO_CASHIER, "0000")
    with pytest.raises(AuthorizationError, match="locked for 5 more minutes"):
        sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN)
    assert sign_in(terminal, "102", "1357").staff_id == "102"  # another person is not locked
    sign_out(terminal)
    clock.now += timedelta(minutes=6)
    with pytest.raises(AuthorizationError, match=r"\(4 tries left\)"):  # a fresh count
        sign_in(terminal, DEMO_CASHIER, "0000")
    for _ in range(3):
        with pytest.raises(AuthorizationError):
            sign_in(terminal, DEMO_CASHIER, "0000")
    with pytest.raises(AuthorizationError, match="now locked for 10 minutes"):  # escalates
        sign_in(terminal, DEMO_CASHIER, "0000")
    clock.now += timedelta(minutes=11)
    sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN)  # a right PIN clears the escalation
    sign_out(terminal)
    for _ in range(4):
        with pytest.raises(AuthorizationError):
            sign_in(terminal, DEMO_CASHIER, "0000")
    with pytest.raises(AuthorizationError, match="now locked for 5 minutes"):
        sign_in(terminal, DEMO_CASHIER, "0000")


def test_an_unknown_staff_number_reads_as_a_wrong_pin(terminal: Terminal) -> None:
    with pytest.raises(AuthorizationError, match=r"wrong staff number or PIN \(4 tries left\)"):
        sign_in(terminal, "999", "1111")


def test_wrong_manager_pins_at_the_till_do_not_lock_the_manager_out_by_number(
    terminal: Terminal,
) -> None:
    sale = _sale(terminal)
    for _ in range(5):
        with pytest.raises(AuthorizationError):
            refund_sale(terminal, sale.sale_id, "0000")
    with pytest.raises(AuthorizationError, match="locked"):
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN)
    assert sign_in(terminal, "manager", DEMO_MANAGER_PIN).role == "manager"


def test_no_manager_pin_set_says_so(empty_terminal: Terminal) -> None:
    from terminal.pins import authorize

    with pytest.raises(AuthorizationError, match="no manager PIN is set on this terminal"):
        authorize(empty_terminal.db, "1234", "manager", empty_terminal.clock())


def _sale(terminal: Terminal, quantity: int = 3) -> sales.Sale:
    checkout = terminal.checkout()
    checkout.add(SKU, quantity)
    return checkout.complete()


def test_cash_with_change_card_with_reference_and_split_are_recorded(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add(SKU, 2)
    total = checkout.priced.total
    cash = checkout.complete(payments=[cash_payment(total, total + 70_000)])
    assert cash.tender is Tender.CASH and cash.payments[0].change == 70_000
    checkout.add(SKU)
    total = checkout.priced.total
    card = checkout.complete(payments=[Payment(Tender.CARD, total, reference="502938475610")])
    assert card.tender is Tender.CARD and card.payments[0].reference == "502938475610"
    checkout.add(SKU, 3)
    total = checkout.priced.total
    split = checkout.complete(
        payments=[Payment(Tender.CARD, total - 10_000, reference="1"), cash_payment(10_000, 50_000)]
    )
    assert split.tender is Tender.SPLIT
    for sale in (cash, card, split):
        assert sales.get_sale(terminal.db, sale.sale_id) == sale
    refund = refund_sale(terminal, split.sale_id, DEMO_MANAGER_PIN, {1: 1})
    assert refund.tender is Tender.CASH and refund.payments == ()  # a split is paid back in cash


def test_payments_that_do_not_cover_the_total_change_nothing(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add(SKU)
    total, before = checkout.priced.total, terminal.db["sales"].count
    with pytest.raises(TenderError, match="add up to"):
        checkout.complete(payments=[cash_payment(total - 1)])
    with pytest.raises(TenderError, match="at least the amount"):
        checkout.complete(payments=[cash_payment(total, total - 1)])
    with pytest.raises(TenderError, match="split tender needs"):
        checkout.complete("split")
    assert terminal.db["sales"].count == before and checkout.state.quantities == {SKU: 1}

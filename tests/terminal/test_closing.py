"""Closing the day: cash expected per cashier (floats, change, split, refunds, voids) against
the cash counted, recorded; the close-day command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from clubcore.errors import AuthorizationError
from clubcore.tender import Payment, Tender, cash_payment
from terminal.bootstrap import Terminal
from terminal.cli import cli
from terminal.closing import close_day, closings_of_day, day_figures
from terminal.demo_data import DEMO_CASHIER, DEMO_CASHIER_PIN, DEMO_MANAGER_PIN
from terminal.pins import set_pin
from terminal.refunds import refund_sale, void_sale
from terminal.shifts import sign_in, sign_out

SKU = "P000001"


def ring(terminal: Terminal, quantity: int, payments: list[Payment] | str) -> tuple[int, str]:
    checkout = terminal.checkout()
    checkout.add(SKU, quantity)
    total = checkout.priced.total
    if isinstance(payments, str):
        sale = checkout.complete(payments)
    else:
        sale = checkout.complete(payments=[_fill(p, total) for p in payments])
    return total, sale.sale_id


def _fill(payment: Payment, total: int) -> Payment:
    """A payment with amount 0 stands for "the rest"."""
    return payment if payment.amount else cash_payment(total, total + 30_000)


def test_a_day_with_two_cashiers_closes_with_a_cash_difference(terminal: Terminal) -> None:
    set_pin(terminal.db, "102", "Reza Karimi", "cashier", "1357")
    sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN, opening_float=1_000_000)
    cash1, _ = ring(terminal, 1, [Payment(Tender.CASH, 0)])  # cash with 30,000 change
    card1, card_sale = ring(terminal, 2, "card")
    cash3, _ = ring(terminal, 3, "cash")
    sign_out(terminal)
    sign_in(terminal, "102", "1357", opening_float=500_000)
    checkout = terminal.checkout()
    checkout.add(SKU, 3)
    total = checkout.priced.total
    split = checkout.complete(payments=[Payment(Tender.CARD, total - 100_000, reference="9"),
                                        cash_payment(100_000, 200_000)])  # fmt: skip
    refund = refund_sale(terminal, split.sale_id, DEMO_MANAGER_PIN, {1: 1})  # paid back in cash
    void = void_sale(terminal, card_sale, DEMO_MANAGER_PIN)  # paid back to the card

    figures = day_figures(terminal.db, terminal.local_now().date(), terminal.timezone)
    reza, sara = figures.cashiers  # by name
    assert (sara.name, sara.sales, sara.cash, sara.card) == (
        "Sara Ahmadi", 3, cash1 + cash3, card1,
    )  # fmt: skip
    assert sara.expected_cash == 1_000_000 + cash1 + cash3
    assert (reza.sales, reza.refunds, reza.voids) == (1, 1, 1)
    assert reza.cash == 100_000 + refund.total and reza.card == total - 100_000 + void.total
    assert reza.returned == -(refund.total + void.total)
    expected = 1_500_000 + cash1 + cash3 + 100_000 + refund.total
    assert figures.expected_cash == expected

    with pytest.raises(AuthorizationError):
        close_day(terminal, expected, "102", "0000")
    closed = close_day(terminal, expected - 20_000, "102", "1357")
    assert closed.difference == -20_000 and closed.closed_by == "102"
    [recorded] = closings_of_day(terminal.db, closed.business_date)
    assert recorded["difference"] == -20_000 and len(recorded["cashiers"]) == 2
    assert recorded["cashiers"][0]["expected_cash"] == 500_000 + 100_000 + refund.total


def test_close_day_command_previews_then_records(terminal: Terminal) -> None:
    sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN, opening_float=200_000)
    total, _ = ring(terminal, 1, "cash")
    data_dir = str(terminal.data_dir)
    day = terminal.local_now().date().isoformat()  # the CLI's clock is the real one
    runner = CliRunner()
    preview = runner.invoke(cli, ["--data-dir", data_dir, "close-day", "--date", day], obj={})
    assert preview.exit_code == 0, preview.stderr
    assert "Sara Ahmadi" in preview.stdout and "cash expected" in preview.stdout
    assert closings_of_day(terminal.db, terminal.local_now().date()) == []
    counted = str(200_000 + total + 10)
    closed = runner.invoke(cli, ["--data-dir", data_dir, "close-day", "--counted", counted,
                                 "--date", day, "--staff", "manager",
                                 "--pin", DEMO_MANAGER_PIN], obj={})  # fmt: skip
    assert closed.exit_code == 0, closed.stderr
    assert "difference        1 toman (over)" in closed.stdout
    as_json = runner.invoke(cli, ["--data-dir", data_dir, "close-day", "--json", "--date", day],
                            obj={})  # fmt: skip
    assert json.loads(as_json.stdout)["expected_cash"] == 200_000 + total

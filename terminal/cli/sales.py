"""Selling at the command line: ``sale``, ``void``, ``refund``."""

from __future__ import annotations

from typing import Any

import click

from clubcore.errors import FormatError
from clubcore.identity import IdMethod
from clubcore.sale import Sale
from clubcore.tender import Payment, Tender, cash_payment
from clubcore.wire import sale_to_wire
from offline_store import members
from terminal.bootstrap import Terminal
from terminal.checkout import Checkout
from terminal.cli.base import PIN_ENV, cli, emit_json, handle_errors, opened, parse_item
from terminal.receipt import receipt_text
from terminal.receipts.printer import PrinterError
from terminal.receipts.service import print_receipt
from terminal.refunds import refund_sale, void_sale

__all__ = ["refund", "sale", "void"]


def _identify(
    terminal: Terminal, checkout: Checkout, member: str | None, phone: str | None
) -> None:
    if member:
        checkout.identify(member, IdMethod.NUMBER)
    elif phone:
        checkout.identify_member(members.member_by_phone(terminal.db, phone), IdMethod.PHONE)


def _print_sale(terminal: Terminal, sale: Sale, as_json: bool) -> None:
    name = balance = None
    if sale.member_no:
        member = members.get_member(terminal.db, sale.member_no)
        name, balance = member.display_name, member.points_balance
    if as_json:
        emit_json({"sale": sale_to_wire(sale), "member_name": name, "points_balance": balance})
    else:
        click.echo(receipt_text(sale, terminal.currency, name, balance))


@cli.command()
@click.option(
    "--member", "member", metavar="NUMBER", help="Identify the customer by member number."
)
@click.option("--phone", metavar="PHONE", help="Identify the customer by mobile number.")
@click.option(
    "--item",
    "items",
    metavar="SKU[:QTY]",
    multiple=True,
    required=True,
    help="Product SKU or barcode, optional quantity. Repeatable.",
)
@click.option("--redeem", type=int, default=0, metavar="POINTS", help="Points to redeem.")
@click.option(
    "--tender",
    type=click.Choice([Tender.CASH.value, Tender.CARD.value]),
    default="cash",
    show_default=True,
    help="How the customer pays (all of it, unless --card-amount splits it).",
)
@click.option(
    "--tendered",
    type=click.IntRange(min=0),
    metavar="AMOUNT",
    help="Cash handed over, in minor units (rial); the receipt shows the change.",
)
@click.option("--card-ref", metavar="REF", help="The bank terminal's reference number.")
@click.option(
    "--card-amount",
    type=click.IntRange(min=1),
    metavar="AMOUNT",
    help="Split tender: this much by card (with --card-ref), the rest in cash.",
)
@click.option(
    "--print",
    "to_printer",
    is_flag=True,
    help="Print the receipt on the lane's printer (a printer fault does not undo the sale).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sale as JSON.")
@click.pass_context
@handle_errors
def sale(
    ctx: click.Context,
    /,
    member: str | None,
    phone: str | None,
    items: tuple[str, ...],
    redeem: int,
    to_printer: bool,
    as_json: bool,
    **tender: Any,
) -> None:
    """Ring up and complete a sale; print the receipt.

    Without --member or --phone the customer is a non-member and pays list
    prices. Nothing is recorded unless every item, the member, the
    redemption and the payment are valid. The sale records the cashier
    signed in ('shift sign-in') and gets the lane's next number for the day.
    """
    if member and phone:
        raise FormatError("give --member or --phone, not both")
    parsed = [parse_item(text) for text in items]
    with opened(ctx) as terminal:
        checkout = terminal.checkout()
        _identify(terminal, checkout, member, phone)
        for code, qty in parsed:
            checkout.add(code, qty)
        if redeem:
            checkout.redeem(redeem)
        payments = _payments(checkout.priced.total, **tender)
        done = checkout.complete(payments=payments)
        _print_sale(terminal, done, as_json)
        if to_printer:
            try:
                print_receipt(terminal, done)
            except PrinterError as exc:
                click.echo(f"warning: {exc.message}; the sale is recorded", err=True)
                click.echo(f"hint: club-terminal receipt {done.sale_id} --print", err=True)


def _payments(
    total: int,
    tender: str,
    tendered: int | None,
    card_ref: str | None,
    card_amount: int | None,
) -> list[Payment]:
    """The payments the options describe, for a sale of ``total``."""
    payments: list[Payment] = []
    cash = total
    if card_amount is not None or tender == Tender.CARD:
        card = total if card_amount is None else min(card_amount, total)
        if card:
            payments.append(Payment(Tender.CARD, card, reference=card_ref))
        cash = total - card
    elif card_ref is not None:
        raise FormatError("--card-ref goes with --tender card or --card-amount")
    if cash:
        payments.append(cash_payment(cash, tendered))
    elif tendered is not None:
        raise FormatError("--tendered: nothing is left to pay in cash")
    return payments


def _pin(pin: str | None) -> str:
    return pin or click.prompt("Manager PIN", hide_input=True, err=True)


@cli.command()
@click.argument("sale_id")
@click.option("--pin", envvar=PIN_ENV, help=f"Manager PIN [env {PIN_ENV}; asked if missing].")
@click.option("--reason", default="", help="Why the sale is voided.")
@click.option("--json", "as_json", is_flag=True, help="Print the void record as JSON.")
@click.pass_context
@handle_errors
def void(ctx: click.Context, sale_id: str, pin: str | None, reason: str, as_json: bool) -> None:
    """Void a whole completed sale (a new record; needs a manager PIN)."""
    with opened(ctx) as terminal:
        record = void_sale(terminal, sale_id, _pin(pin), reason)
        _print_sale(terminal, record, as_json)


@cli.command()
@click.argument("sale_id")
@click.option(
    "--line",
    "lines",
    metavar="LINE[:QTY]",
    multiple=True,
    help="Line number to refund, optional quantity [default: all left].",
)
@click.option("--pin", envvar=PIN_ENV, help=f"Manager PIN [env {PIN_ENV}; asked if missing].")
@click.option("--reason", default="", help="Why the items are refunded.")
@click.option("--json", "as_json", is_flag=True, help="Print the refund record as JSON.")
@click.pass_context
@handle_errors
def refund(
    ctx: click.Context,
    sale_id: str,
    lines: tuple[str, ...],
    pin: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Refund lines of a completed sale (a new record; needs a manager PIN)."""
    quantities: dict[int, int] | None = None
    if lines:
        quantities = {}
        for text in lines:
            number, qty = parse_item(text)
            if not number.isdigit():
                raise FormatError(f"--line {text!r}: expected LINE or LINE:QTY")
            quantities[int(number)] = qty
    with opened(ctx) as terminal:
        record = refund_sale(terminal, sale_id, _pin(pin), quantities, reason)
        _print_sale(terminal, record, as_json)

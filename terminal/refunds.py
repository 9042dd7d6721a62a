"""Voids and refunds after completion: new records that reference the original.

Nothing is deleted or edited. A *void* reverses a whole sale that has had no
refund yet; a *refund* returns some quantity of some lines. Both need a
manager PIN. Amounts, points discount, points earned and points redeemed are
shared out by cumulative proportion, so that refunding every line in any
number of steps gives back exactly the original figures, never a unit more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from clubcore.errors import QuantityError, SaleStateError
from clubcore.sale import Sale, SaleKind, SaleLine, new_sale_id, returned_share
from clubcore.tender import Tender
from offline_store import sales
from terminal.pins import authorize
from terminal.shifts import current_shift

if TYPE_CHECKING:
    from terminal.bootstrap import Terminal

__all__ = ["refund_sale", "void_sale"]


def _lines_to_return(
    original: Sale, done: Mapping[int, int], quantities: Mapping[int, int] | None
) -> list[SaleLine]:
    by_no = {line.line_no: line for line in original.lines}
    if quantities is None:
        quantities = {n: line.quantity - done.get(n, 0) for n, line in by_no.items()}
        quantities = {n: q for n, q in quantities.items() if q > 0}
    if not quantities:
        raise SaleStateError(f"sale {original.sale_id} has been fully refunded already")
    lines = []
    for line_no, qty in sorted(quantities.items()):
        line = by_no.get(line_no)
        if line is None:
            raise SaleStateError(f"sale {original.sale_id} has no line {line_no}")
        left = line.quantity - done.get(line_no, 0)
        if not 1 <= qty <= left:
            raise QuantityError(f"line {line_no}: {left} left to refund, {qty} asked")
        lines.append(dataclasses.replace(line, quantity=-qty))
    return lines


def refund_sale(
    terminal: Terminal,
    sale_id: str,
    pin: str | None,
    quantities: Mapping[int, int] | None = None,
    reason: str = "",
) -> Sale:
    """Refund ``quantities`` (line number -> quantity) of a sale; None: all that is left.

    Returns the new refund (or void) record, already durably recorded.

    Raises:
        AuthorizationError: no or wrong manager PIN.
        UnknownSaleError: no such sale.
        SaleStateError: not a sale, or nothing left to refund.
        QuantityError: more than is left on a line.
    """
    db = terminal.db
    staff_id = authorize(db, pin, "manager", terminal.clock())
    original = sales.get_sale(db, sale_id)
    if original.kind is not SaleKind.SALE:
        raise SaleStateError(f"{sale_id} is a {original.kind}, not a sale")
    done = sales.refunded_quantities(db, sale_id)
    lines = _lines_to_return(original, done, quantities)
    by_no = {line.line_no: line for line in original.lines}
    before = sum(by_no[n].unit_price * q for n, q in done.items())
    now_back = -sum(line.line_total for line in lines)
    after = before + now_back
    whole = original.subtotal

    def share(amount: int) -> int:
        return returned_share(amount, before, after, whole)

    full = not done and after == whole
    points_discount = share(original.points_discount)
    created = terminal.clock()
    local = created.astimezone(terminal.timezone)
    shift = current_shift(db)
    refund = Sale(
        sale_id=new_sale_id(),
        kind=SaleKind.VOID if full else SaleKind.REFUND,
        ref_sale_id=sale_id,
        terminal_id=terminal.terminal_id,
        store_id=terminal.store_id,
        created_at=created,
        business_date=local.date(),
        hour=local.hour,
        rules_version=original.rules_version,
        currency=original.currency,
        subtotal_list=sum(line.list_total for line in lines),
        member_discount=sum(line.list_total - line.line_total for line in lines),
        subtotal=-now_back,
        points_redeemed=-share(original.points_redeemed),
        points_discount=-points_discount,
        total=-(now_back - points_discount),
        points_earned=-share(original.points_earned),
        tender=Tender.CASH if original.tender is Tender.SPLIT else original.tender,
        lines=tuple(lines),
        member_no=original.member_no,
        tier=original.tier,
        id_method=original.id_method,
        staff_id=staff_id,
        reason=reason or None,
        cashier_id=shift.staff_id if shift else None,
        sale_no=sales.next_sale_no(db, local.date()),
    )
    sales.record_sale(db, refund)
    return refund


def void_sale(terminal: Terminal, sale_id: str, pin: str | None, reason: str = "") -> Sale:
    """Void a whole sale that has no refund yet.

    Raises:
        the same as :func:`refund_sale`, and SaleStateError when part was refunded.
    """
    if sales.refunded_quantities(terminal.db, sale_id):
        raise SaleStateError(
            f"sale {sale_id} has refunds already", hint="refund the remaining lines instead"
        )
    return refund_sale(terminal, sale_id, pin, None, reason)

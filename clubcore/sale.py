"""A recorded sale, void or refund, and its wire form.

A sale is never edited or deleted once recorded. A void (the whole sale) or a
refund (some lines) is a new record of kind ``void`` / ``refund`` that
references the original; its quantities, amounts and points are negative, so
sums over all records give net figures.

The ``sale_id`` is also the idempotency key the sync protocol pushes it with;
the wire form is :class:`clubcore.wire.WireSale` (``sale_to_wire``,
``sale_from_wire``).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from clubcore.money import percent_of
from clubcore.points import PointsPolicy, points_earned
from clubcore.pricing import MAX_QUANTITY, PricedBasket, PricedLine, PriceSource
from clubcore.tender import Payment, Tender, check_payments

__all__ = [
    "LINE_FIELDS",
    "SALE_FIELDS",
    "Payment",
    "Sale",
    "SaleKind",
    "SaleLine",
    "Tender",
    "check_arithmetic",
    "check_points",
    "check_return",
    "new_sale_id",
    "returned_share",
]


class SaleKind(enum.StrEnum):
    SALE = "sale"
    VOID = "void"
    REFUND = "refund"


def new_sale_id() -> str:
    """A fresh, globally unique sale id (a UUID4 in canonical text form)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class SaleLine:
    line_no: int
    sku: str
    name: str
    category: str
    quantity: int
    list_unit: int
    unit_price: int
    source: str
    offer_id: str | None = None
    stacked_offer_id: str | None = None

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    def values(self) -> tuple[object, ...]:
        """The fields in declaration order (cheaper than ``dataclasses.astuple``)."""
        return tuple(getattr(self, name) for name in LINE_FIELDS)

    @property
    def list_total(self) -> int:
        return self.list_unit * self.quantity

    @classmethod
    def from_priced(cls, line: PricedLine) -> SaleLine:
        return cls(
            line.line_no,
            line.sku,
            line.name,
            line.category,
            line.quantity,
            line.list_unit,
            line.unit_price,
            str(line.source),
            line.offer_id,
            line.stacked_offer_id,
        )


@dataclass(frozen=True, slots=True)
class Sale:
    """One recorded transaction, as stored locally and pushed to the server.

    ``id_method`` is how the member was identified, a
    :class:`clubcore.identity.IdMethod` value (text, so that records written
    before the vocabulary was fixed still load; ``None`` for non-members).
    ``currency`` is the ISO code amounts are counted in (``IRR`` for a club
    whose ``currency`` setting is ``IRT``: rial shown in toman).

    Added later, all optional (a record without them is as valid as before):
    ``cashier_id``, the staff number of the cashier signed in when it was
    recorded; ``sale_no``, its number on this lane for its business day
    (1, 2, 3, ... over sales, voids and refunds; on screen and on the
    receipt); ``payments``, how it was paid (:mod:`clubcore.tender`; empty for
    records made before payments were kept, and for voids and refunds).
    ``staff_id`` is who authorised a void or refund (a manager).
    """

    sale_id: str
    kind: SaleKind
    terminal_id: str
    store_id: str
    created_at: datetime
    business_date: date
    hour: int
    rules_version: int
    currency: str
    subtotal_list: int
    member_discount: int
    subtotal: int
    points_redeemed: int
    points_discount: int
    total: int
    points_earned: int
    tender: Tender
    lines: tuple[SaleLine, ...] = field(default=())
    member_no: str | None = None
    tier: str | None = None
    id_method: str | None = None
    ref_sale_id: str | None = None
    staff_id: str | None = None
    reason: str | None = None
    cashier_id: str | None = None
    sale_no: int | None = None
    payments: tuple[Payment, ...] = ()

    @classmethod
    def from_basket(
        cls, basket: PricedBasket, *, tender: Tender, id_method: str | None, **context: Any
    ) -> Sale:
        """A new sale from a priced basket; ``context`` gives ids, times and currency."""
        customer = basket.customer
        return cls(
            kind=SaleKind.SALE,
            rules_version=basket.rules_version,
            subtotal_list=basket.subtotal_list,
            member_discount=basket.member_discount,
            subtotal=basket.subtotal,
            points_redeemed=basket.points_redeemed,
            points_discount=basket.points_discount,
            total=basket.total,
            points_earned=basket.points_earned,
            tender=tender,
            lines=tuple(SaleLine.from_priced(line) for line in basket.lines),
            member_no=customer.member_no if customer else None,
            tier=customer.tier if customer else None,
            id_method=id_method if customer else None,
            **context,
        )


#: field names, in order; ``SALE_FIELDS`` leaves out ``lines`` and ``payments``
LINE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(SaleLine))
SALE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Sale) if f.name not in ("lines", "payments")
)


# -- consistency checks: the invariants the lane's own records always hold ------------------

_SOURCES = frozenset(str(source) for source in PriceSource)


def check_arithmetic(sale: Sale) -> list[str]:
    """What does not add up in ``sale`` on its own; an empty list when it is consistent.

    Every record the lane's checkout (:meth:`Sale.from_basket`) and its voids
    and refunds (``terminal/refunds.py``) produce holds these, whatever the
    rules it was priced with:

    - at least one line; a sale's line numbers run 1, 2, 3, ...; a return's
      are ascending (they are the original's); a quantity within
      1..:data:`~clubcore.pricing.MAX_QUANTITY`, negated in a void or refund
      (whose unit prices are the original's); a known price source;
    - every line: ``0 <= unit_price <= list_unit``; a sale line without a
      member: the list price from the ``list`` source, without offers;
    - ``subtotal_list``, ``subtotal`` and ``member_discount`` are the sums of
      the lines' ``list_unit x quantity``, ``unit_price x quantity`` and their
      difference; ``total = subtotal - points_discount``;
    - a sale: no ``ref_sale_id``; points redeemed, points discount and points
      earned not negative, none of them without a member; a points discount
      if and only if points are redeemed, and at most the subtotal;
    - a void or refund: a ``ref_sale_id``; points and ``total`` not positive;
    - payments, when a sale has them, as :func:`clubcore.tender.check_payments`
      says, and its ``tender`` is theirs (``split`` for several); a ``sale_no``
      is at least 1.

    The club's points rules are checked by :func:`check_points`, and a return
    against the sale it reverses by :func:`check_return`.
    """
    if not sale.lines:
        return ["a sale record needs at least one line"]
    is_sale = sale.kind is SaleKind.SALE
    problems = _line_problems(sale, is_sale)
    for name, expected in (
        ("subtotal_list", sum(line.list_total for line in sale.lines)),
        ("subtotal", sum(line.line_total for line in sale.lines)),
        ("member_discount", sum(line.list_total - line.line_total for line in sale.lines)),
        ("total", sale.subtotal - sale.points_discount),
    ):
        if getattr(sale, name) != expected:
            source = "subtotal - points_discount" if name == "total" else "the sum of the lines"
            problems.append(f"{name} {getattr(sale, name)} is not {source} ({expected})")
    problems += _points_problems(sale) if is_sale else _return_problems(sale)
    problems += _payment_problems(sale)
    return problems


def _payment_problems(sale: Sale) -> list[str]:
    problems: list[str] = []
    if sale.sale_no is not None and sale.sale_no < 1:
        problems.append(f"sale number {sale.sale_no} is not positive")
    if not sale.payments:
        return problems
    if sale.kind is not SaleKind.SALE:
        return [*problems, f"a {sale.kind} records no payments"]
    problems += check_payments(sale.total, sale.payments)
    kinds = {p.tender for p in sale.payments}
    expected = Tender.SPLIT if len(sale.payments) > 1 else next(iter(kinds))
    if sale.tender is not expected:
        problems.append(f"tender {sale.tender} is not that of the payments ({expected})")
    return problems


def _line_problems(sale: Sale, is_sale: bool) -> list[str]:
    problems: list[str] = []
    numbers = [line.line_no for line in sale.lines]
    if is_sale and numbers != list(range(1, len(numbers) + 1)):
        problems.append("the line numbers of a sale must run 1, 2, 3, ... in order")
    if not is_sale and (numbers[0] < 1 or numbers != sorted(set(numbers))):
        problems.append(f"the line numbers of a {sale.kind} must be ascending and positive")
    for line in sale.lines:
        where = f"line {line.line_no}: "
        if not 1 <= (line.quantity if is_sale else -line.quantity) <= MAX_QUANTITY:
            problems.append(f"{where}quantity {line.quantity} is out of range")
        if line.source not in _SOURCES:
            problems.append(f"{where}unknown price source {line.source!r:.40}")
        if not 0 <= line.unit_price <= line.list_unit:
            problems.append(f"{where}unit price {line.unit_price} is not within 0..list price")
        elif (
            is_sale
            and sale.member_no is None
            and (
                line.unit_price != line.list_unit
                or line.source != PriceSource.LIST
                or line.offer_id is not None
                or line.stacked_offer_id is not None
            )
        ):
            problems.append(f"{where}a non-member pays the list price, without offers")
    return problems


def _points_problems(sale: Sale) -> list[str]:
    problems: list[str] = []
    if sale.ref_sale_id is not None:
        problems.append("a sale must not reference another sale (ref_sale_id)")
    if min(sale.points_redeemed, sale.points_discount, sale.points_earned) < 0:
        problems.append("points redeemed, points discount and points earned must not be negative")
    if sale.member_no is None and (
        sale.points_redeemed or sale.points_discount or sale.points_earned
    ):
        problems.append("points on a sale without a member")
    if (sale.points_redeemed == 0) != (sale.points_discount == 0):
        problems.append("a points discount needs points redeemed, and the other way round")
    if sale.points_discount > sale.subtotal:
        problems.append(f"points discount {sale.points_discount} exceeds the subtotal")
    return problems


def _return_problems(sale: Sale) -> list[str]:
    problems: list[str] = []
    if not sale.ref_sale_id:
        problems.append(f"a {sale.kind} must name the sale it reverses (ref_sale_id)")
    if max(sale.points_redeemed, sale.points_discount, sale.points_earned, sale.total) > 0:
        problems.append(f"the points and total of a {sale.kind} must not be positive")
    return problems


def check_points(sale: Sale, policy: PointsPolicy, earn_multiplier_bp: int) -> list[str]:
    """What breaks the club's points rules in a sale priced under them; empty when nothing.

    Only for a sale (a return is checked against its original by
    :func:`check_return`), and only meaningful under the rule-set version the
    sale was priced with: ``policy`` is that version's points policy and
    ``earn_multiplier_bp`` the multiplier of the sale's ``tier`` (1x for a tier
    the rules do not know, as pricing does). Checks, as
    :func:`~clubcore.pricing.price_basket` prices:

    - ``points_discount = points_redeemed x point_value``;
    - a redemption uses at least ``min_redeem`` points and pays at most
      ``max_redeem_bp`` of the subtotal;
    - ``points_earned`` is at most what ``total`` earns at the multiplier (the
      lane gives exactly that; fewer costs the club nothing and is accepted).

    The member's balance is not checked here: an offline redemption may
    overdraw it (the server keeps such a sale and flags it).
    """
    if sale.kind is not SaleKind.SALE:
        return []
    problems: list[str] = []
    redeemed = sale.points_redeemed
    if sale.points_discount != redeemed * policy.point_value:
        problems.append(
            f"points discount {sale.points_discount} is not {redeemed} points x "
            f"point value {policy.point_value}"
        )
    if redeemed > 0 and redeemed < policy.min_redeem:
        problems.append(f"{redeemed} points redeemed; at least {policy.min_redeem} at once")
    cap = percent_of(max(sale.subtotal, 0), policy.max_redeem_bp)
    if redeemed > 0 and redeemed * policy.point_value > cap:
        problems.append(f"the points pay more than {policy.max_redeem_bp / 100:g} % of the sale")
    most = points_earned(sale.total, earn_multiplier_bp, policy)
    if sale.points_earned > most:
        problems.append(f"points earned {sale.points_earned} exceed the {most} the sale earns")
    return problems


def returned_share(amount: int, before: int, after: int, whole: int) -> int:
    """The part of ``amount`` given back as the returned base moves ``before`` -> ``after``.

    Out of a sale's subtotal ``whole``; rounding down the running totals makes
    all the returns of a sale together give back exactly ``amount``, never more.
    The lane's refunds (``terminal/refunds.py``) and the server's check use it.
    """
    if whole == 0:
        return 0
    return amount * after // whole - amount * before // whole


def check_return(ret: Sale, original: Sale, earlier: Sequence[Sale]) -> list[str]:
    """What is wrong with a void or refund given the sale it reverses; empty when nothing.

    ``earlier`` are the returns of ``original`` recorded before ``ret`` (in any
    order). As the lane records them (``terminal/refunds.py``):

    - ``original`` is a sale (not a return) of the same member and currency;
    - each line is a line of the original, with its SKU and unit prices and
      a negated quantity, and the quantity returned by ``earlier`` and ``ret``
      together stays within the original's;
    - a void is the first return of its sale and gives back its whole subtotal;
    - points discount, points earned and points redeemed are the original's
      shared out by the cumulative refunded base: moving it from ``before`` to
      ``after`` out of the original's subtotal ``whole`` gives back
      ``x * after // whole - x * before // whole`` of each figure ``x``, so all
      the returns of a sale together give back exactly its figures, never more.
    """
    if original.kind is not SaleKind.SALE:
        return [f"{ret.kind} of {original.sale_id}, which is a {original.kind}, not a sale"]
    problems: list[str] = []
    if ret.member_no != original.member_no or ret.currency != original.currency:
        problems.append("member or currency differs from the referenced sale's")
    problems += _returned_line_problems(ret, original, earlier)
    whole = original.subtotal
    before = -sum(e.subtotal for e in earlier)
    after = before - ret.subtotal
    if ret.kind is SaleKind.VOID and (earlier or after != whole):
        problems.append("a void must be the first return of its sale and give all of it back")
    for name in ("points_discount", "points_earned", "points_redeemed"):
        expected = -returned_share(getattr(original, name), before, after, whole)
        if getattr(ret, name) != expected:
            problems.append(f"{name} {getattr(ret, name)} is not the returned share ({expected})")
    return problems


def _returned_line_problems(ret: Sale, original: Sale, earlier: Sequence[Sale]) -> list[str]:
    problems: list[str] = []
    by_no = {line.line_no: line for line in original.lines}
    done: dict[int, int] = {}
    for line in (line for e in earlier for line in e.lines):
        done[line.line_no] = done.get(line.line_no, 0) - line.quantity
    for line in ret.lines:
        first = by_no.get(line.line_no)
        if first is None:
            problems.append(f"line {line.line_no} is not a line of the referenced sale")
            continue
        prices = (line.list_unit, line.unit_price)
        if line.sku != first.sku or prices != (first.list_unit, first.unit_price):
            problems.append(f"line {line.line_no}: SKU or prices differ from the referenced sale")
        left = first.quantity - done.get(line.line_no, 0)
        if -line.quantity > left:
            problems.append(f"line {line.line_no}: {-line.quantity} returned, {max(left, 0)} left")
    return problems

"""The headless checkout: a basket, a customer, points, and completion.

The UI and the CLI drive a :class:`Checkout`; it never touches a screen. Every
action re-prices the whole basket; an action the pricing refuses (unknown
product, bad quantity, member-only item, redemption over a limit) raises and
leaves the checkout exactly as it was.

Completing writes the sale, its points entries and its outbox entry in one
SQLite transaction (:func:`offline_store.sales.record_sale`); the cashier may
say "done" only after :meth:`Checkout.complete` returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from clubcore.errors import RedemptionError, SaleStateError, TenderError, UnknownMemberError
from clubcore.identity import IdMethod
from clubcore.pricing import BasketItem, PricedBasket, ProductPricing, price_basket
from clubcore.sale import Sale, new_sale_id
from clubcore.tender import Payment, Tender, cash_payment, check_payments, tender_of
from offline_store import members, pricing_data, sales
from offline_store.cards import StoreCardDirectory
from offline_store.members import Member
from terminal import verifier
from terminal.readers.base import CardRead
from terminal.shifts import current_shift
from terminal.verifier import Identification

if TYPE_CHECKING:
    from terminal.bootstrap import Terminal

__all__ = ["Checkout", "CheckoutState"]


@dataclass(frozen=True, slots=True)
class CheckoutState:
    """Everything a checkout holds; replaced whole on each accepted action."""

    quantities: dict[str, int] = field(default_factory=dict)  # sku -> qty, in line order
    member: Member | None = None
    id_method: IdMethod | None = None
    unsynced: bool = False  # a signed card whose member this lane has not synced yet
    redeem_points: int = 0


class Checkout:
    """One customer's basket on one terminal."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.db = terminal.db
        self.rules = pricing_data.load_rules(self.db)
        self.state = CheckoutState()
        self._products: dict[str, ProductPricing] = {}
        self.priced = self._price(self.state)

    # -- pricing ---------------------------------------------------------

    def _redeem_cap(self, member: Member) -> int:
        """Points the offline policy still allows this member to redeem."""
        cap = self.terminal.settings.redeem_cap_points
        return max(cap - members.pending_redemptions(self.db, member.member_no), 0)

    def _price(self, state: CheckoutState, now: datetime | None = None) -> PricedBasket:
        missing = [sku for sku in state.quantities if sku not in self._products]
        if missing:
            self._products.update(pricing_data.pricing_for(self.db, missing))
        items = [BasketItem(self._products[sku], qty) for sku, qty in state.quantities.items()]
        member = state.member
        customer = None
        offers = []
        now = self.terminal.clock() if now is None else now
        if member is not None:
            customer = member.customer
            offers = pricing_data.offers_for(self.db, member.member_no, now)
        return price_basket(
            items,
            customer,
            self.rules,
            offers,
            now=now,
            redeem_points=state.redeem_points,
            points_balance=member.points_balance if member else 0,
            redeem_cap=self._redeem_cap(member) if member and state.redeem_points else None,
        )

    def _apply(self, state: CheckoutState) -> PricedBasket:
        priced = self._price(state)  # raises before anything changes
        self.state, self.priced = state, priced
        return priced

    # -- basket ------------------------------------------------------------

    def add(self, code: str, quantity: int = 1) -> PricedBasket:
        """Add ``quantity`` of a product by SKU or barcode (merging with its line).

        Raises:
            UnknownProductError, QuantityError, MemberOnlyItemError, RedemptionError.
        """
        sku = pricing_data.find_product(self.db, code)
        quantities = dict(self.state.quantities)
        quantities[sku] = quantities.get(sku, 0) + quantity
        if quantity < 1:
            quantities[sku] = quantity  # let pricing reject it with its message
        return self._apply(dataclasses.replace(self.state, quantities=quantities))

    def set_quantity(self, sku: str, quantity: int) -> PricedBasket:
        """Change a line's quantity.

        Raises:
            SaleStateError: the SKU is not in the basket.
            QuantityError: quantity below 1 or too large (remove the line instead).
        """
        if sku not in self.state.quantities:
            raise SaleStateError(f"{sku} is not in the basket")
        quantities = {**self.state.quantities, sku: quantity}
        return self._apply(dataclasses.replace(self.state, quantities=quantities))

    def remove(self, sku: str) -> PricedBasket:
        """Remove a line. Raises SaleStateError when it is not in the basket."""
        if sku not in self.state.quantities:
            raise SaleStateError(f"{sku} is not in the basket")
        quantities = {k: v for k, v in self.state.quantities.items() if k != sku}
        return self._apply(dataclasses.replace(self.state, quantities=quantities))

    # -- the customer --------------------------------------------------------

    def identify(self, member_no: str, id_method: IdMethod = IdMethod.NUMBER) -> PricedBasket:
        """Identify the customer as member ``member_no`` (as typed); the basket re-prices.

        Raises:
            FormatError: not a member number.
            UnknownMemberError: unknown, suspended or closed member.
        """
        return self.identify_member(members.get_member(self.db, member_no), id_method)

    def identify_member(
        self, member: Member, id_method: IdMethod, *, unsynced: bool = False
    ) -> PricedBasket:
        """Identify the customer from an already looked-up member."""
        if not member.active:
            raise UnknownMemberError(
                f"membership {member.member_no} is {member.status}",
                hint="the member should contact the club",
            )
        state = dataclasses.replace(
            self.state, member=member, id_method=id_method, unsynced=unsynced, redeem_points=0
        )
        return self._apply(state)

    def identify_read(self, read: CardRead) -> Identification:
        """Identify the customer from a card read, scan or keyed entry, or refuse it.

        The read is verified offline (:func:`terminal.verifier.identify`); a
        validly signed card of a member this terminal has not synced yet is
        accepted at the base tier with no points, and flagged.

        Raises:
            CardRejectedError: the card is refused; ``reason`` says why.
            UnknownMemberError: the member's membership is not active.
        """
        today = self.terminal.local_now().date()
        found = verifier.identify(read, StoreCardDirectory(self.db), today=today)
        if found.member is None:
            member = Member(
                found.member_no, "New member", self._base_tier(), frozenset(), 0, 0, "active"
            )
        else:
            member = members.get_member(self.db, found.member_no)
        self.identify_member(member, found.method, unsynced=found.member is None)
        return found

    def _base_tier(self) -> str:
        assignable = [t for t in self.rules.tiers.values() if t.assignable]
        return min(assignable, key=lambda t: t.rank).code if assignable else "basic"

    def drop_member(self) -> PricedBasket:
        """Forget the customer: list prices again, no redemption.

        Raises:
            MemberOnlyItemError: the basket holds a member-only item.
        """
        state = dataclasses.replace(
            self.state, member=None, id_method=None, unsynced=False, redeem_points=0
        )
        return self._apply(state)

    def redeem(self, points: int) -> PricedBasket:
        """Redeem ``points`` on this sale (0 cancels a redemption).

        Raises:
            RedemptionError: no member, or over the balance, the cap or the offline policy.
        """
        if self.state.member is None and points:
            raise RedemptionError("identify the member before redeeming points")
        weak = self.state.id_method is IdMethod.CARD_UID
        if points and weak and not self.terminal.settings.redeem_uid_only:
            raise RedemptionError(
                "points cannot be redeemed with this card type",
                hint="ask for the member's club card, or identify them by number",
            )
        return self._apply(dataclasses.replace(self.state, redeem_points=points))

    def max_redeemable(self) -> int:
        """The most points the identified member can redeem on this basket now."""
        member = self.state.member
        if member is None:
            return 0
        from clubcore.points import max_redeemable

        return max_redeemable(
            self.priced.subtotal, member.points_balance, self.rules.points, self._redeem_cap(member)
        )

    # -- ending --------------------------------------------------------------

    def complete(
        self, tender: Tender | str = Tender.CASH, payments: Sequence[Payment] | None = None
    ) -> Sale:
        """Record the sale durably and start a new, empty basket.

        Arguments:
            tender: without ``payments``: the whole total paid this way (cash:
                exact money; card: no reference).
            payments: how the total is paid (:mod:`clubcore.tender`): they
                must add up to the total as priced now.

        The sale records the cashier signed in (:mod:`terminal.shifts`; none
        when nobody is) and gets the lane's next number for its business day.

        Raises:
            SaleStateError: the basket is empty.
            TenderError: the payments do not cover the total, or are malformed.
            ValueError: an unknown tender.
        """
        if not self.state.quantities:
            raise SaleStateError("the basket is empty")
        created = self.terminal.clock()
        # priced again at the very time the sale records (offers may have started or ended
        # meanwhile, the sync may have brought a new rule set): the club re-prices it at
        # ``created_at`` under the version it names and must find the same
        self.rules = pricing_data.load_rules(self.db)
        self._products.update(pricing_data.pricing_for(self.db, list(self.state.quantities)))
        self.priced = self._price(self.state, created)
        total = self.priced.total
        if payments is None:
            one = Tender(tender)
            if one is Tender.SPLIT:
                raise TenderError("a split tender needs its payments")
            single = cash_payment(total) if one is Tender.CASH else Payment(one, total)
            payments = (single,) if total else ()
        problems = check_payments(total, payments)
        if problems:
            raise TenderError("; ".join(problems))
        local = created.astimezone(self.terminal.timezone)
        shift = current_shift(self.db)
        sale = Sale.from_basket(
            self.priced,
            tender=tender_of(payments) if payments else Tender(tender),
            id_method=self.state.id_method,
            sale_id=new_sale_id(),
            terminal_id=self.terminal.terminal_id,
            store_id=self.terminal.store_id,
            created_at=created,
            business_date=local.date(),
            hour=local.hour,
            currency=self.terminal.currency.code,
            cashier_id=shift.staff_id if shift else None,
            sale_no=sales.next_sale_no(self.db, local.date()),
            payments=tuple(payments),
        )
        sales.record_sale(self.db, sale)
        self.void()
        return sale

    def void(self) -> None:
        """Discard the basket before completion (nothing was recorded)."""
        self.rules = pricing_data.load_rules(self.db)
        self.state = CheckoutState()
        self.priced = self._price(self.state)

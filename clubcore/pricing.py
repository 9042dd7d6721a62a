"""Member-only pricing: a pure engine that prices a basket for a customer.

Precedence (deterministic; this docstring is the documentation):

1. A non-member pays the list price. A member-only item cannot be sold to a
   non-member (:class:`~clubcore.errors.MemberOnlyItemError`).
2. For a member of tier *T*, each line's unit price is the **lowest** of these
   candidates (best price wins; they do not add up):

   - the list price;
   - the member price of the product for *T*;
   - the list price less the category percentage for *T*;
   - each active, non-stacking offer that targets the member and covers the
     product: a fixed unit price, or a percentage off the list price.

   Ties go to the first in this order: personal offer, segment offer, tier
   offer, offer to all members, member price, category percentage, list
   price; then the lower offer id.
3. Then at most one *stacking* offer (a percentage) applies on top of that
   price: the one with the largest percentage, ties to the lower offer id.
4. A unit price is never negative. Money is integer minor units; percentages
   round as :mod:`clubcore.money` documents. ``line total = unit price x
   quantity``, and the basket total is the sum of line totals less any points
   discount.

An offer *targets* a member when it names that member, or one of the
member's segments, or the member's tier, or none of them (all members); and
*covers* a product when it names its SKU, or its category, or neither (every
product). It is *active* when ``starts_at <= now < ends_at`` (open ends
allowed).

Every priced basket carries the rule-set version it was priced with, so the
server can re-price and audit any sale.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from clubcore.errors import MemberOnlyItemError, QuantityError, RedemptionError
from clubcore.money import BP_ONE, apply_percent
from clubcore.points import PointsPolicy, points_earned, redemption_discount
from clubcore.tiers import Tier

__all__ = [
    "MAX_QUANTITY",
    "BasketItem",
    "Customer",
    "Offer",
    "PriceSource",
    "PricedBasket",
    "PricedLine",
    "ProductPricing",
    "RuleSet",
    "price_basket",
    "price_line",
    "targeted_offers",
]

#: the largest quantity one line may carry
MAX_QUANTITY = 9_999


class PriceSource(enum.StrEnum):
    """Where a line's unit price came from, best first in tie-break order."""

    OFFER_MEMBER = "offer-member"
    OFFER_SEGMENT = "offer-segment"
    OFFER_TIER = "offer-tier"
    OFFER_ALL = "offer-all"
    MEMBER_PRICE = "member-price"
    CATEGORY = "category"
    LIST = "list"


_SOURCE_ORDER = {source: index for index, source in enumerate(PriceSource)}


@dataclass(frozen=True, slots=True)
class ProductPricing:
    """What the engine needs to know about one product.

    Attributes:
        member_prices: tier code -> member unit price.
        category_discounts_bp: tier code -> percentage (bp) off list for the
            product's category.
    """

    sku: str
    name: str
    category: str
    list_price: int
    member_only: bool = False
    member_prices: Mapping[str, int] = field(default_factory=dict)
    category_discounts_bp: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Customer:
    """An identified member, as pricing sees them."""

    member_no: str
    tier: str
    segments: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Offer:
    """A time-boxed offer: a unit price or a percentage, for a target and a scope.

    Exactly one of ``unit_price`` and ``percent_bp`` is set; a stacking offer
    must be a percentage.
    """

    offer_id: str
    title: str
    unit_price: int | None = None
    percent_bp: int | None = None
    sku: str | None = None
    category: str | None = None
    target_member: str | None = None
    target_segment: str | None = None
    target_tier: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    stacks: bool = False
    message: str = ""
    #: translations of title and message: (language code, title, message)
    texts: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        if (self.unit_price is None) == (self.percent_bp is None):
            raise ValueError(f"offer {self.offer_id}: set exactly one of unit_price, percent_bp")
        if self.unit_price is not None and self.unit_price < 0:
            raise ValueError(f"offer {self.offer_id}: unit_price must not be negative")
        if self.percent_bp is not None and not 0 <= self.percent_bp <= BP_ONE:
            raise ValueError(f"offer {self.offer_id}: percent_bp must be within 0..10000")
        if self.stacks and self.percent_bp is None:
            raise ValueError(f"offer {self.offer_id}: a stacking offer must be a percentage")

    def text_in(self, lang: str) -> tuple[str, str]:
        """(title, message) in language ``lang``; the offer's own words if untranslated."""
        for code, title, message in self.texts:
            if code == lang:
                return title, message
        return self.title, self.message

    def is_active(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (
            self.ends_at is None or now < self.ends_at
        )

    def target_source(self, customer: Customer) -> PriceSource | None:
        """How this offer targets ``customer`` (its tie-break rank), or None."""
        if self.target_member is not None:
            return PriceSource.OFFER_MEMBER if self.target_member == customer.member_no else None
        if self.target_segment is not None:
            ok = self.target_segment in customer.segments
            return PriceSource.OFFER_SEGMENT if ok else None
        if self.target_tier is not None:
            return PriceSource.OFFER_TIER if self.target_tier == customer.tier else None
        return PriceSource.OFFER_ALL

    def covers(self, product: ProductPricing) -> bool:
        if self.sku is not None:
            return self.sku == product.sku
        if self.category is not None:
            return self.category == product.category
        return True

    def unit_price_for(self, base: int) -> int:
        if self.unit_price is not None:
            return self.unit_price
        return apply_percent(base, self.percent_bp or 0)


def targeted_offers(offers: Iterable[Offer], customer: Customer) -> tuple[Offer, ...]:
    """The offers aimed at ``customer`` (by number, segment, tier, or at everyone).

    The same test :func:`price_basket` applies (:meth:`Offer.target_source`),
    for showing a member their offers.
    """
    return tuple(offer for offer in offers if offer.target_source(customer) is not None)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The versioned rules a basket is priced with, besides per-product data."""

    version: int
    tiers: Mapping[str, Tier]
    points: PointsPolicy = field(default_factory=PointsPolicy)


@dataclass(frozen=True, slots=True)
class BasketItem:
    product: ProductPricing
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    line_no: int
    sku: str
    name: str
    category: str
    quantity: int
    list_unit: int
    unit_price: int
    source: PriceSource
    offer_id: str | None = None
    stacked_offer_id: str | None = None

    @property
    def list_total(self) -> int:
        return self.list_unit * self.quantity

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def discount(self) -> int:
        return self.list_total - self.line_total


@dataclass(frozen=True, slots=True)
class PricedBasket:
    """A basket priced for one customer under one rule-set version."""

    lines: tuple[PricedLine, ...]
    customer: Customer | None
    rules_version: int
    points_redeemed: int = 0
    points_discount: int = 0
    points_earned: int = 0

    @property
    def subtotal_list(self) -> int:
        return sum(line.list_total for line in self.lines)

    @property
    def subtotal(self) -> int:
        """The sum of line totals, before any points discount."""
        return sum(line.line_total for line in self.lines)

    @property
    def member_discount(self) -> int:
        return sum(line.discount for line in self.lines)

    @property
    def total(self) -> int:
        """What the customer pays."""
        return self.subtotal - self.points_discount


@dataclass(frozen=True, slots=True)
class _Targeted:
    """A customer's applicable offers, sorted out once per basket."""

    base: tuple[tuple[Offer, PriceSource], ...]  # non-stacking offers and their rank
    stacking: tuple[Offer, ...]  # best first: largest percentage, then lower id

    @classmethod
    def of(cls, customer: Customer, offers: Iterable[Offer]) -> _Targeted:
        base, stacking = [], []
        for offer in offers:
            source = offer.target_source(customer)
            if source is None:
                continue
            if offer.stacks:
                stacking.append(offer)
            else:
                base.append((offer, source))
        stacking.sort(key=lambda o: (-(o.percent_bp or 0), o.offer_id))
        return cls(tuple(base), tuple(stacking))


def _member_price(
    product: ProductPricing, tier: str, targeted: _Targeted
) -> tuple[int, PriceSource, str | None, str | None]:
    """(unit price, source, offer id, stacked offer id) for a member of ``tier``."""
    best = (product.list_price, _SOURCE_ORDER[PriceSource.LIST], "")
    source, offer_id = PriceSource.LIST, None
    member_price = product.member_prices.get(tier)
    if member_price is not None:
        key = (member_price, _SOURCE_ORDER[PriceSource.MEMBER_PRICE], "")
        if key < best:
            best, source = key, PriceSource.MEMBER_PRICE
    bp = product.category_discounts_bp.get(tier)
    if bp is not None:
        key = (apply_percent(product.list_price, bp), _SOURCE_ORDER[PriceSource.CATEGORY], "")
        if key < best:
            best, source = key, PriceSource.CATEGORY
    for offer, offer_source in targeted.base:
        if offer.covers(product):
            key = (
                offer.unit_price_for(product.list_price),
                _SOURCE_ORDER[offer_source],
                offer.offer_id,
            )
            if key < best:
                best, source, offer_id = key, offer_source, offer.offer_id
    unit = max(best[0], 0)
    for offer in targeted.stacking:
        if offer.covers(product):
            return offer.unit_price_for(unit), source, offer_id, offer.offer_id
    return unit, source, offer_id, None


def price_line(
    line_no: int,
    item: BasketItem,
    customer: Customer | None,
    offers: Sequence[Offer] | _Targeted = (),
) -> PricedLine:
    """Price one line (see the module docstring for precedence).

    ``offers`` must already be filtered to the active ones.

    Raises:
        QuantityError: quantity below 1 or above :data:`MAX_QUANTITY`.
        MemberOnlyItemError: a member-only product without a customer.
    """
    product, quantity = item.product, item.quantity
    if not 1 <= quantity <= MAX_QUANTITY:
        raise QuantityError(f"quantity must be between 1 and {MAX_QUANTITY}, not {quantity}")
    unit, source, offer_id, stacked_id = product.list_price, PriceSource.LIST, None, None
    if customer is None:
        if product.member_only:
            raise MemberOnlyItemError(
                f"{product.name} is for club members only",
                hint="identify the member first, or remove the item",
            )
    else:
        targeted = offers if isinstance(offers, _Targeted) else _Targeted.of(customer, offers)
        unit, source, offer_id, stacked_id = _member_price(product, customer.tier, targeted)
    return PricedLine(
        line_no=line_no,
        sku=product.sku,
        name=product.name,
        category=product.category,
        quantity=quantity,
        list_unit=product.list_price,
        unit_price=unit,
        source=source,
        offer_id=offer_id,
        stacked_offer_id=stacked_id,
    )


def price_basket(
    items: Sequence[BasketItem],
    customer: Customer | None,
    rules: RuleSet,
    offers: Iterable[Offer] = (),
    *,
    now: datetime,
    redeem_points: int = 0,
    points_balance: int = 0,
    redeem_cap: int | None = None,
) -> PricedBasket:
    """Price a basket for ``customer`` (None: a non-member) at ``now``.

    Arguments:
        items: the basket, in line order.
        customer: the identified member, or None.
        rules: the versioned rule set (tiers, points policy).
        offers: candidate offers; inactive ones are ignored.
        now: the time the offers are judged at (timezone-aware).
        redeem_points: points the member redeems on this sale.
        points_balance: the member's available balance.
        redeem_cap: an extra cap on points (the offline policy), or None.

    Raises:
        QuantityError, MemberOnlyItemError: a line cannot be priced.
        RedemptionError: the redemption exceeds a limit, or there is no member.
    """
    targeted = _Targeted((), ())
    if customer is not None:
        targeted = _Targeted.of(customer, (o for o in offers if o.is_active(now)))
    lines = tuple(price_line(n, item, customer, targeted) for n, item in enumerate(items, 1))
    basket = PricedBasket(lines, customer, rules.version)
    if customer is None:
        if redeem_points:
            raise RedemptionError("points can only be redeemed by an identified member")
        return basket
    discount = redemption_discount(
        redeem_points, basket.subtotal, points_balance, rules.points, redeem_cap
    )
    tier = rules.tiers.get(customer.tier)
    multiplier = tier.earn_multiplier_bp if tier is not None else BP_ONE
    paid = basket.subtotal - discount
    return PricedBasket(
        lines,
        customer,
        rules.version,
        points_redeemed=redeem_points,
        points_discount=discount,
        points_earned=points_earned(paid, multiplier, rules.points),
    )

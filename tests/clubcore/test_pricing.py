from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clubcore.errors import MemberOnlyItemError, QuantityError, RedemptionError
from clubcore.points import PointsPolicy
from clubcore.pricing import (
    BasketItem,
    Customer,
    Offer,
    PricedBasket,
    PriceSource,
    ProductPricing,
    RuleSet,
    price_basket,
    targeted_offers,
)
from clubcore.tiers import Tier

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TIERS = {
    "basic": Tier("basic", "Basic", 1),
    "gold": Tier("gold", "Gold", 3, 60_000, earn_multiplier_bp=15_000),
}
RULES = RuleSet(7, TIERS, PointsPolicy(earn_per_amount=1_000, point_value=10, max_redeem_bp=5_000))
GOLD = Customer("1001", "gold", frozenset({"family"}))


def product(sku: str = "A", price: int = 10_000, **kw: object) -> ProductPricing:
    return ProductPricing(
        sku=sku,
        name=f"item {sku}",
        category=str(kw.pop("category", "dairy")),
        list_price=price,
        **kw,
    )  # type: ignore[arg-type]


def one(
    p: ProductPricing,
    customer: Customer | None = GOLD,
    offers: list[Offer] | None = None,
    qty: int = 1,
):  # type: ignore[no-untyped-def]
    return price_basket([BasketItem(p, qty)], customer, RULES, offers or [], now=NOW).lines[0]


# -- precedence, by example ---------------------------------------------------


def test_non_member_pays_list_price_even_with_member_prices() -> None:
    line = one(product(member_prices={"gold": 8_000}), customer=None)
    assert (line.unit_price, line.source) == (10_000, PriceSource.LIST)


def test_member_price_for_the_members_tier_only() -> None:
    p = product(member_prices={"gold": 8_000, "basic": 9_500})
    assert one(p).unit_price == 8_000
    assert one(p, Customer("2", "basic")).unit_price == 9_500
    assert one(p, Customer("3", "silver")).unit_price == 10_000


def test_best_price_wins_between_member_price_and_category_percentage() -> None:
    p = product(member_prices={"gold": 9_000}, category_discounts_bp={"gold": 1_500})
    line = one(p)
    assert (line.unit_price, line.source) == (8_500, PriceSource.CATEGORY)


def test_ties_go_to_the_more_specific_source() -> None:
    p = product(member_prices={"gold": 9_000}, category_discounts_bp={"gold": 1_000})
    assert one(p).source is PriceSource.MEMBER_PRICE
    offers = [
        Offer("all", "all members", unit_price=9_000),
        Offer("seg", "family", unit_price=9_000, target_segment="family"),
        Offer("me", "personal", unit_price=9_000, target_member="1001"),
    ]
    line = one(p, offers=offers)
    assert (line.source, line.offer_id) == (PriceSource.OFFER_MEMBER, "me")


def test_offers_target_member_segment_tier_or_all() -> None:
    p = product()
    assert one(p, offers=[Offer("x", "", unit_price=5, target_member="9999")]).unit_price == 10_000
    assert (
        one(p, offers=[Offer("x", "", unit_price=5, target_segment="student")]).unit_price == 10_000
    )
    assert one(p, offers=[Offer("x", "", unit_price=5, target_tier="basic")]).unit_price == 10_000
    assert one(p, offers=[Offer("x", "", unit_price=5, target_tier="gold")]).unit_price == 5
    assert one(p, offers=[Offer("x", "", unit_price=5)]).unit_price == 5


def test_offer_scope_sku_or_category() -> None:
    p = product("A", category="dairy")
    assert one(p, offers=[Offer("x", "", percent_bp=5_000, sku="B")]).unit_price == 10_000
    assert one(p, offers=[Offer("x", "", percent_bp=5_000, category="meat")]).unit_price == 10_000
    assert one(p, offers=[Offer("x", "", percent_bp=5_000, category="dairy")]).unit_price == 5_000


def test_offer_outside_its_time_box_is_ignored() -> None:
    hour = timedelta(hours=1)
    later = Offer("later", "", unit_price=1, starts_at=NOW + hour)
    over = Offer("over", "", unit_price=1, ends_at=NOW)  # ends exactly now: over
    now = Offer("now", "", unit_price=2, starts_at=NOW, ends_at=NOW + hour)
    assert one(product(), offers=[later, over]).unit_price == 10_000
    assert one(product(), offers=[later, over, now]).offer_id == "now"


def test_a_stacking_offer_applies_on_top_of_the_best_price() -> None:
    p = product(member_prices={"gold": 8_000})
    offers = [
        Offer("s5", "", percent_bp=500, stacks=True),
        Offer("s10", "", percent_bp=1_000, stacks=True),
        Offer("s10b", "", percent_bp=1_000, stacks=True),
    ]
    line = one(p, offers=offers)
    assert (line.unit_price, line.stacked_offer_id) == (7_200, "s10")


def test_member_only_item_is_refused_to_a_non_member() -> None:
    p = product(member_only=True)
    with pytest.raises(MemberOnlyItemError, match="for club members only"):
        one(p, customer=None)
    assert one(p).unit_price == 10_000


@pytest.mark.parametrize("qty", [0, -1, 10_000])
def test_quantity_out_of_range(qty: int) -> None:
    with pytest.raises(QuantityError):
        one(product(), qty=qty)


def test_offer_validation() -> None:
    with pytest.raises(ValueError):
        Offer("x", "", unit_price=1, percent_bp=1)
    with pytest.raises(ValueError):
        Offer("x", "", unit_price=1, stacks=True)
    with pytest.raises(ValueError):
        Offer("x", "", percent_bp=10_001)


# -- points -------------------------------------------------------------------


def test_points_earned_with_tier_multiplier_on_what_is_paid() -> None:
    items = [BasketItem(product(price=10_000), 3)]
    basket = price_basket(items, GOLD, RULES, now=NOW, redeem_points=100, points_balance=500)
    assert basket.points_discount == 1_000  # 100 points x 10
    assert basket.total == 29_000
    assert basket.points_earned == 29_000 * 15_000 // (1_000 * 10_000)  # 43


def test_redemption_limits() -> None:
    items = [BasketItem(product(price=10_000), 1)]
    with pytest.raises(RedemptionError, match="has 50 points"):
        price_basket(items, GOLD, RULES, now=NOW, redeem_points=60, points_balance=50)
    with pytest.raises(RedemptionError, match="at most 500 points"):  # 50 % of 10,000 / 10
        price_basket(items, GOLD, RULES, now=NOW, redeem_points=501, points_balance=9_999)
    with pytest.raises(RedemptionError, match="at most 20 points"):
        price_basket(
            items, GOLD, RULES, now=NOW, redeem_points=21, points_balance=999, redeem_cap=20
        )
    with pytest.raises(RedemptionError, match="identified member"):
        price_basket(items, None, RULES, now=NOW, redeem_points=1)
    with pytest.raises(RedemptionError, match="positive"):
        price_basket(items, GOLD, RULES, now=NOW, redeem_points=-5, points_balance=10)


# -- properties ---------------------------------------------------------------

skus = st.sampled_from(["A", "B", "C", "D", "E"])
prices = st.integers(min_value=0, max_value=5_000_000)
tier_codes = st.sampled_from(["basic", "gold", "silver"])


@st.composite
def products(draw: st.DrawFn, sku: str) -> ProductPricing:
    return ProductPricing(
        sku=sku,
        name=sku,
        category=draw(st.sampled_from(["dairy", "meat"])),
        list_price=draw(prices),
        member_only=draw(st.booleans()),
        member_prices=draw(st.dictionaries(tier_codes, prices, max_size=3)),
        category_discounts_bp=draw(st.dictionaries(tier_codes, st.integers(0, 10_000), max_size=3)),
    )


@st.composite
def offers(draw: st.DrawFn) -> Offer:
    stacks = draw(st.booleans())
    fixed = not stacks and draw(st.booleans())
    return Offer(
        offer_id=draw(st.text("abcdef", min_size=1, max_size=3)),
        title="",
        unit_price=draw(prices) if fixed else None,
        percent_bp=None if fixed else draw(st.integers(0, 10_000)),
        sku=draw(st.none() | skus),
        category=draw(st.none() | st.sampled_from(["dairy", "meat"])),
        target_member=draw(st.none() | st.sampled_from(["1001", "1002"])),
        target_tier=draw(st.none() | tier_codes),
        target_segment=draw(st.none() | st.sampled_from(["family", "student"])),
        stacks=stacks,
    )


@st.composite
def baskets(draw: st.DrawFn) -> list[BasketItem]:
    chosen = draw(st.lists(skus, min_size=1, max_size=5, unique=True))
    return [BasketItem(draw(products(sku)), draw(st.integers(1, 50))) for sku in chosen]


customers = st.builds(
    Customer,
    member_no=st.sampled_from(["1001", "1002", "1003"]),
    tier=tier_codes,
    segments=st.frozensets(st.sampled_from(["family", "student"])),
)


@settings(max_examples=300)
@given(baskets(), customers, st.lists(offers(), max_size=6))
def test_a_member_never_pays_more_than_list(
    items: list[BasketItem], customer: Customer, candidate_offers: list[Offer]
) -> None:
    basket = price_basket(items, customer, RULES, candidate_offers, now=NOW)
    for line in basket.lines:
        assert 0 <= line.unit_price <= line.list_unit
        assert line.discount >= 0


@settings(max_examples=300)
@given(baskets(), customers, st.lists(offers(), max_size=6), st.integers(0, 2_000))
def test_totals_equal_the_sum_of_lines(
    items: list[BasketItem], customer: Customer, candidate_offers: list[Offer], points: int
) -> None:
    try:
        basket = price_basket(
            items,
            customer,
            RULES,
            candidate_offers,
            now=NOW,
            redeem_points=points,
            points_balance=1_000,
        )
    except RedemptionError:
        return
    assert basket.subtotal == sum(line.unit_price * line.quantity for line in basket.lines)
    assert basket.subtotal_list == sum(line.list_unit * line.quantity for line in basket.lines)
    assert basket.member_discount == basket.subtotal_list - basket.subtotal
    assert basket.total == basket.subtotal - basket.points_discount >= 0
    assert basket.points_discount == points * RULES.points.point_value


@settings(max_examples=200)
@given(baskets(), customers, st.lists(offers(), max_size=6), st.randoms())
def test_pricing_is_deterministic_whatever_the_order(
    items: list[BasketItem], customer: Customer, candidate_offers: list[Offer], rnd
) -> None:  # type: ignore[no-untyped-def]
    first = price_basket(items, customer, RULES, candidate_offers, now=NOW)
    shuffled = list(candidate_offers)
    rnd.shuffle(shuffled)
    again = price_basket(items, customer, RULES, shuffled, now=NOW)

    def key(basket: PricedBasket) -> list[tuple[object, ...]]:
        return [(ln.unit_price, ln.source, ln.offer_id, ln.stacked_offer_id) for ln in basket.lines]

    assert key(first) == key(again)
    # a line is priced the same alone as in any basket
    for item, line in zip(items, first.lines, strict=True):
        alone = price_basket([item], customer, RULES, candidate_offers, now=NOW).lines[0]
        assert alone.unit_price == line.unit_price


@given(baskets())
def test_non_members_pay_list_or_are_refused(items: list[BasketItem]) -> None:
    if any(item.product.member_only for item in items):
        with pytest.raises(MemberOnlyItemError):
            price_basket(items, None, RULES, now=NOW)
        return
    basket = price_basket(items, None, RULES, now=NOW)
    assert basket.total == basket.subtotal_list
    assert basket.points_earned == 0


def test_targeted_offers_are_the_ones_pricing_would_consider() -> None:
    offers = [
        Offer("me", "", unit_price=5, target_member="1001"),
        Offer("other", "", unit_price=5, target_member="9999"),
        Offer("family", "", unit_price=5, target_segment="family"),
        Offer("student", "", unit_price=5, target_segment="student"),
        Offer("gold", "", unit_price=5, target_tier="gold"),
        Offer("basic", "", unit_price=5, target_tier="basic"),
        Offer("all", "", unit_price=5),
    ]
    customer = Customer("1001", "gold", frozenset({"family"}))
    shown = [offer.offer_id for offer in targeted_offers(offers, customer)]
    assert shown == ["me", "family", "gold", "all"]

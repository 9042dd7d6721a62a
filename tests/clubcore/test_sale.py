"""The consistency checks of a sale record: what the lane produces passes, tampering fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clubcore.money import BP_ONE
from clubcore.points import PointsPolicy, max_redeemable
from clubcore.pricing import BasketItem, Customer, Offer, RuleSet, price_basket
from clubcore.sale import (
    Sale,
    SaleKind,
    SaleLine,
    Tender,
    check_arithmetic,
    check_points,
    check_return,
    new_sale_id,
)
from clubcore.wire import sale_from_wire, sale_to_wire
from tests.clubcore.test_pricing import NOW, TIERS, baskets, customers, offers

policies = st.builds(
    PointsPolicy,
    earn_per_amount=st.integers(1, 20_000),
    point_value=st.integers(1, 1_000),
    max_redeem_bp=st.integers(0, BP_ONE),
    min_redeem=st.integers(1, 200),
)


def multiplier(rules: RuleSet, sale: Sale) -> int:
    """The earn multiplier of the sale's tier, as pricing takes it."""
    tier = rules.tiers.get(sale.tier or "")
    return tier.earn_multiplier_bp if tier is not None else BP_ONE


def problems(sale: Sale, rules: RuleSet) -> list[str]:
    return check_arithmetic(sale) + check_points(sale, rules.points, multiplier(rules, sale))


@st.composite
def lane_sales(draw: st.DrawFn) -> tuple[Sale, RuleSet]:
    """A sale as the lane's checkout records it: priced by the real engine, maybe redeeming."""
    rules = RuleSet(3, TIERS, draw(policies))
    items: list[BasketItem] = draw(baskets())
    customer: Customer | None = draw(st.none() | customers)
    if customer is None:
        items = [dataclasses.replace(i, product=dataclasses.replace(i.product, member_only=False))
                 for i in items]  # fmt: skip
    candidate_offers: list[Offer] = draw(st.lists(offers(), max_size=6))
    priced = price_basket(items, customer, rules, candidate_offers, now=NOW)
    redeem = 0
    if customer is not None:
        most = max_redeemable(priced.subtotal, 10**9, rules.points)
        if most >= rules.points.min_redeem and draw(st.booleans()):
            redeem = draw(st.integers(rules.points.min_redeem, most))
        priced = price_basket(items, customer, rules, candidate_offers, now=NOW,
                              redeem_points=redeem, points_balance=10**9)  # fmt: skip
    sale = Sale.from_basket(
        priced, tender=Tender.CARD, id_method="card" if customer else None,
        sale_id=new_sale_id(), terminal_id="lane-1", store_id="store-1", created_at=NOW,
        business_date=NOW.date(), hour=13, currency="IRR",
    )  # fmt: skip
    return sale, rules


def lane_return(original: Sale, earlier: Sequence[Sale], quantities: Mapping[int, int]) -> Sale:
    """A void or refund with the arithmetic of ``terminal/refunds.py`` (tests/club_server
    pushes the lane's real ones)."""
    by_no = {line.line_no: line for line in original.lines}
    done: dict[int, int] = {}
    for line in (line for e in earlier for line in e.lines):
        done[line.line_no] = done.get(line.line_no, 0) - line.quantity
    lines = [dataclasses.replace(by_no[n], quantity=-q) for n, q in sorted(quantities.items())]
    before = sum(by_no[n].unit_price * q for n, q in done.items())
    now_back = -sum(line.line_total for line in lines)
    after, whole = before + now_back, original.subtotal

    def share(amount: int) -> int:
        return amount * after // whole - amount * before // whole if whole else 0

    points_discount = share(original.points_discount)
    return dataclasses.replace(
        original, sale_id=new_sale_id(), ref_sale_id=original.sale_id, lines=tuple(lines),
        kind=SaleKind.VOID if not done and after == whole else SaleKind.REFUND,
        subtotal_list=sum(line.list_total for line in lines),
        member_discount=sum(line.list_total - line.line_total for line in lines),
        subtotal=-now_back, points_discount=-points_discount, total=-(now_back - points_discount),
        points_redeemed=-share(original.points_redeemed),
        points_earned=-share(original.points_earned),
    )  # fmt: skip


# -- what the lane produces passes ------------------------------------------------------


@settings(max_examples=300)
@given(lane_sales())
def test_every_sale_the_lane_prices_passes(drawn: tuple[Sale, RuleSet]) -> None:
    sale, rules = drawn
    assert problems(sale, rules) == []
    assert problems(sale_from_wire(sale_to_wire(sale)), rules) == []


@settings(max_examples=200)
@given(lane_sales(), st.data())
def test_returns_in_any_steps_pass_and_give_back_exactly_the_sale(
    drawn: tuple[Sale, RuleSet], data: st.DataObject
) -> None:
    sale, _ = drawn
    left = {line.line_no: line.quantity for line in sale.lines}
    returns: list[Sale] = []
    while any(left.values()) and data.draw(st.integers(0, 9)) > 0:
        chosen = {n: data.draw(st.integers(0, q)) for n, q in left.items() if q}
        chosen = {n: q for n, q in chosen.items() if q}
        if not chosen:
            continue
        ret = lane_return(sale, returns, chosen)
        assert check_arithmetic(ret) == [] and check_return(ret, sale, returns) == []
        returns.append(ret)
        left = {n: q - chosen.get(n, 0) for n, q in left.items()}
    if not any(left.values()):
        for name in ("subtotal", "total", "points_discount", "points_earned", "points_redeemed"):
            assert sum(getattr(r, name) for r in returns) == -getattr(sale, name), name
        extra = lane_return(sale, returns[:-1], {sale.lines[0].line_no: 1})
        assert any("left" in p for p in check_return(extra, sale, returns))


# -- tampering fails -------------------------------------------------------------------

SALE_FIELDS = ("subtotal_list", "member_discount", "subtotal", "points_redeemed",
               "points_discount", "total", "points_earned")  # fmt: skip
LINE_FIELDS = ("quantity", "list_unit", "unit_price")


@settings(max_examples=300)
@given(lane_sales(), st.sampled_from(SALE_FIELDS + LINE_FIELDS), st.integers(1, 10**6),
       st.booleans(), st.data())  # fmt: skip
def test_changing_any_one_figure_is_caught(
    drawn: tuple[Sale, RuleSet], field: str, size: int, up: bool, data: st.DataObject
) -> None:
    sale, rules = drawn
    delta = size if up or field == "points_earned" else -size  # earning fewer costs nobody
    if field in LINE_FIELDS:
        n = data.draw(st.integers(0, len(sale.lines) - 1))
        line = sale.lines[n]
        assume(field != "quantity" or line.list_unit > 0)  # a free line's count adds no money
        changed = dataclasses.replace(line, **{field: getattr(line, field) + delta})
        tampered = dataclasses.replace(sale, lines=(*sale.lines[:n], changed, *sale.lines[n + 1 :]))
    else:
        tampered = dataclasses.replace(sale, **{field: getattr(sale, field) + delta})
    assert problems(tampered, rules)


@settings(max_examples=100)
@given(lane_sales(), st.data())
def test_changing_a_returns_points_is_caught(
    drawn: tuple[Sale, RuleSet], data: st.DataObject
) -> None:
    sale, _ = drawn
    ret = lane_return(sale, [], {line.line_no: line.quantity for line in sale.lines})
    field = data.draw(st.sampled_from(["points_earned", "points_redeemed", "points_discount"]))
    tampered = dataclasses.replace(ret, **{field: getattr(ret, field) - 1})
    assert check_arithmetic(tampered) + check_return(tampered, sale, [])


# -- examples, with the reasons -----------------------------------------------------------


def example(**changes: object) -> Sale:
    line = SaleLine(1, "A", "Milk", "dairy", 2, 1_000, 900, "member-price")
    sale = Sale(
        sale_id="s-1", kind=SaleKind.SALE, terminal_id="t", store_id="s", created_at=NOW,
        business_date=NOW.date(), hour=13, rules_version=3, currency="IRR", subtotal_list=2_000,
        member_discount=200, subtotal=1_800, points_redeemed=0, points_discount=0, total=1_800,
        points_earned=0, tender=Tender.CASH, lines=(line,), member_no="1001", tier="gold",
    )  # fmt: skip
    return dataclasses.replace(sale, **changes)  # type: ignore[arg-type]


def test_reasons_name_the_figure_and_what_it_should_be() -> None:
    assert check_arithmetic(example()) == []
    assert check_arithmetic(example(subtotal=1_900, total=1_900)) == [
        "subtotal 1900 is not the sum of the lines (1800)"
    ]
    assert check_arithmetic(example(total=1_000)) == [
        "total 1000 is not subtotal - points_discount (1800)"
    ]
    assert check_arithmetic(example(lines=())) == ["a sale record needs at least one line"]
    guest = example(member_no=None, tier=None)
    assert check_arithmetic(guest) == ["line 1: a non-member pays the list price, without offers"]
    policy = PointsPolicy(earn_per_amount=100, point_value=10, max_redeem_bp=5_000, min_redeem=5)
    assert check_points(example(points_earned=18), policy, BP_ONE) == []
    assert check_points(example(points_earned=19), policy, BP_ONE) == [
        "points earned 19 exceed the 18 the sale earns"
    ]
    greedy = example(points_redeemed=100, points_discount=1_000, total=800)
    assert check_points(greedy, policy, BP_ONE) == ["the points pay more than 50 % of the sale"]


def test_a_void_after_a_refund_or_of_a_return_is_refused() -> None:
    sale = example(lines=(SaleLine(1, "A", "Milk", "dairy", 2, 1_000, 900, "member-price"),))
    part = lane_return(sale, [], {1: 1})
    assert part.kind is SaleKind.REFUND and check_return(part, sale, []) == []
    rest = dataclasses.replace(lane_return(sale, [part], {1: 1}), kind=SaleKind.VOID)
    assert check_return(rest, sale, [part]) == [
        "a void must be the first return of its sale and give all of it back"
    ]
    assert check_return(rest, part, []) == [
        f"void of {part.sale_id}, which is a refund, not a sale"
    ]
    stranger = dataclasses.replace(part, member_no="1002")
    assert "member or currency differs" in check_return(stranger, sale, [])[0]


def test_payments_must_cover_the_total_and_match_the_tender() -> None:
    from clubcore.tender import Payment, cash_payment

    card = Payment(Tender.CARD, 800, reference="77")
    split = example(tender=Tender.SPLIT, payments=(card, cash_payment(1_000, 2_000)), sale_no=3)
    assert check_arithmetic(split) == []
    assert check_arithmetic(example(payments=(cash_payment(1_700),))) == [
        "the payments add up to 1700, not the total 1800"
    ]
    assert check_arithmetic(example(payments=(card, cash_payment(1_000)))) == [
        "tender cash is not that of the payments (split)"
    ]
    assert check_arithmetic(example(sale_no=0)) == ["sale number 0 is not positive"]

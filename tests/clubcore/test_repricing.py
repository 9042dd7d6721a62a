"""Re-pricing (:mod:`clubcore.repricing`): an honest lane's sale always matches, exactly.

The property: for random rule sets (tiers, points policy, products with member
prices and category discounts, offers with targets, scopes, stacking and time
windows in any UTC offset), members (tier, segments, balance), baskets and
redemptions, a sale made by the terminal's own checkout
(:meth:`terminal.checkout.Checkout.complete`, on a lane whose cache holds the
rule set as sync writes it) and read by the club server as pushed
(:func:`club_server.sales.parse_sale`) re-prices with no difference under the
snapshot the server publishes for that version
(:func:`club_server.rulesets.current_snapshot`, through its JSON form).

One lane and one server database serve every example; each example replaces
their rule set, member and sales.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from club_server import schema
from club_server.db import Database, open_database
from club_server.rulesets import current_snapshot
from club_server.sales import parse_sale
from clubcore.identity import IdMethod
from clubcore.pricing import Customer, Offer, ProductPricing, RuleSet
from clubcore.repricing import PricingSnapshot, reprice
from clubcore.sale import check_arithmetic, check_points
from clubcore.wire import sale_to_wire
from clubcore.wire_rows import ENTITY_SHAPES
from offline_store.settings import put_settings
from terminal.bootstrap import Terminal, bootstrap

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
TIERS = ("basic", "silver", "gold", "vip")
CATEGORIES = ("bakery", "dairy", "snacks")
SEGMENTS = ("family", "student", "senior")
MEMBER = "100000001"
OTHER_MEMBER = "100000002"
#: the pricing tables a rule set lives in, as sync and the server write them
RULE_TABLES = ("tiers", "products", "member_prices", "category_discounts", "offers")


class TickingClock:
    """A lane's clock: every reading is later than the one before (by ``step``)."""

    def __init__(self) -> None:
        self.now = NOW
        self.step = timedelta(microseconds=1)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@dataclass
class Loop:
    """One lane and one club server database, reused by every example."""

    terminal: Terminal
    clock: TickingClock
    server: Database


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    work: Path = tmp_path_factory.mktemp("repricing")
    clock = TickingClock()
    terminal = bootstrap(work / "lane", clock=clock)
    put_settings(
        terminal.db,
        {
            "terminal_id": "T-1",
            "store_id": "S-1",
            "currency": "IRR",
            "timezone": "Asia/Tehran",
            "offline.redeem_cap_points": 1_000_000_000,
        },
    )
    server = open_database(f"sqlite:///{work / 'club.db'}")
    yield Loop(terminal, clock, server)
    server.dispose()
    terminal.close()


# -- strategies: a rule set, a member, a basket, as wire rows --------------------------------

OFFSETS = [timezone(timedelta(minutes=m)) for m in (0, 210, -300, 330, 840)]


@st.composite
def instants(draw: st.DrawFn) -> str:
    """A time near the sale, as ISO text in some UTC offset (sometimes exactly the sale's)."""
    seconds = draw(st.sampled_from([0, 0, 1, -1, 60, -60, -86_400, 86_400]))
    hours = draw(st.integers(0, 12))  # the lane's clock may tick by an hour a reading
    micros = draw(st.sampled_from([0, 0, 1, 2, 500_000]))
    when = NOW + timedelta(hours=hours, seconds=seconds, microseconds=micros)
    return when.astimezone(draw(st.sampled_from(OFFSETS))).isoformat()


@st.composite
def offer_rows(draw: st.DrawFn, index: int, skus: list[str]) -> dict[str, Any]:
    stacks = draw(st.booleans())
    fixed = not stacks and draw(st.booleans())
    scope = draw(st.sampled_from(["sku", "category", "all"]))
    target = draw(st.sampled_from(["member", "other", "segment", "tier", "all"]))
    return {
        "offer_id": f"O{index}",
        "title": f"Offer {index}",
        "message": "",
        "unit_price": draw(st.integers(0, 2_000_000)) if fixed else None,
        "percent_bp": None if fixed else draw(st.integers(0, 10_000)),
        "sku": draw(st.sampled_from(skus)) if scope == "sku" else None,
        "category": draw(st.sampled_from(CATEGORIES)) if scope == "category" else None,
        "target_member": {"member": MEMBER, "other": OTHER_MEMBER}.get(target),
        "target_segment": draw(st.sampled_from(SEGMENTS)) if target == "segment" else None,
        "target_tier": draw(st.sampled_from(TIERS)) if target == "tier" else None,
        "starts_at": draw(st.none() | instants()),
        "ends_at": draw(st.none() | instants()),
        "stacks": int(stacks),
        "texts": "{}",
    }


@st.composite
def rule_sets(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Rows of the rule-set tables and the settings, as the server and the lane hold them."""
    tier_count = draw(st.integers(1, len(TIERS)))
    tiers = [
        {
            "code": code,
            "name": code.title(),
            "rank": rank,
            "min_spend": rank * 1_000_000,
            "earn_multiplier_bp": draw(st.sampled_from([0, 5_000, 10_000, 12_500, 20_000, 30_000])),
            "assignable": 1,
            "benefits": "[]",
        }
        for rank, code in enumerate(TIERS[:tier_count])
    ]
    codes = [t["code"] for t in tiers]
    skus = [f"P{n:06d}" for n in range(draw(st.integers(1, 6)))]
    products = [
        {
            "sku": sku,
            "barcode": None,
            "name": f"Product {sku}",
            "category": draw(st.sampled_from(CATEGORIES)),
            "list_price": draw(st.integers(0, 5_000_000)),
            "member_only": int(draw(st.integers(0, 4)) == 0),
            "active": 1,
            "updated_at": NOW.isoformat(),
        }
        for sku in skus
    ]
    member_prices = [
        {"sku": sku, "tier": tier, "price": draw(st.integers(0, 6_000_000))}
        for sku in skus
        for tier in codes
        if draw(st.booleans())
    ]
    discounts = [
        {"category": c, "tier": t, "percent_bp": draw(st.integers(0, 10_000))}
        for c in CATEGORIES
        for t in codes
        if draw(st.booleans())
    ]
    offers = [draw(offer_rows(n, skus)) for n in range(draw(st.integers(0, 5)))]
    points = {
        "points.earn_per_amount": draw(st.sampled_from([1, 7, 1_000, 10_000, 99_999])),
        "points.point_value": draw(st.sampled_from([1, 3, 100, 1_000])),
        "points.max_redeem_bp": draw(st.sampled_from([0, 1, 2_500, 5_000, 10_000])),
        "points.min_redeem": draw(st.sampled_from([1, 2, 100])),
        "rules_version": draw(st.integers(1, 1_000)),
    }
    return {
        "tiers": tiers,
        "products": products,
        "member_prices": member_prices,
        "category_discounts": discounts,
        "offers": offers,
        "settings": [{"key": k, "value": str(v)} for k, v in points.items()],
    }


@st.composite
def members(draw: st.DrawFn, tiers: list[str]) -> dict[str, Any]:
    return {
        "member_no": MEMBER,
        "display_name": "A member",
        "tier": draw(st.sampled_from(tiers)),
        "segments": ",".join(draw(st.lists(st.sampled_from(SEGMENTS), unique=True))),
        "phone_hash": None,
        "points_base": draw(st.sampled_from([0, 1, 150, 10_000, 5_000_000])),
        "spend_12m": 0,
        "status": "active",
        "updated_at": NOW.isoformat(),
    }


# -- writing the rows where sync and the server keep them --------------------------------------


def load_lane(terminal: Terminal, rows: dict[str, list[dict[str, Any]]]) -> None:
    db = terminal.db
    with db.atomic():
        for table in (
            "sale_lines",
            "sale_payments",
            "points_ledger",
            "outbox",
            "sales",
            "members",
            *RULE_TABLES,
        ):
            db.execute(f"DELETE FROM {table}")
        for name, items in rows.items():
            columns = ENTITY_SHAPES[name].columns
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT OR REPLACE INTO {name} ({', '.join(columns)}) VALUES ({marks})"
            db.conn.executemany(sql, [[item[c] for c in columns] for item in items])


def load_server(server: Database, rows: dict[str, list[dict[str, Any]]]) -> PricingSnapshot:
    """The server's tables hold ``rows``; the rule set it publishes, read back from its JSON."""
    with server.writing() as conn:
        for name in (*RULE_TABLES, "members", "settings"):
            conn.execute(delete(getattr(schema, name)))
        for name, items in rows.items():
            values = [dict(item) for item in items]
            if name == "members":
                values = [
                    {**{k: v for k, v in v.items() if k != "points_base"}, "points_balance": 0}
                    for v in values
                ]
            if values:
                conn.execute(getattr(schema, name).insert(), values)
        published = current_snapshot(conn)
    snapshot = PricingSnapshot.from_json(published.to_json())
    assert snapshot == published  # what a server process that did not publish it reads
    return snapshot


def server_customer(member: dict[str, Any] | None, sale_tier: str | None) -> Customer | None:
    """The customer as the server prices them (``club_server.sales._Checker._customer``)."""
    if member is None:
        return None
    segments = frozenset(s for s in member["segments"].split(",") if s)
    return Customer(member["member_no"], sale_tier or member["tier"], segments)


# -- the property --------------------------------------------------------------------------------


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_an_honest_lanes_sale_reprices_without_difference(loop: Loop, data: st.DataObject) -> None:
    rows = data.draw(rule_sets(), "rule set")
    tiers = [t["code"] for t in rows["tiers"]]
    member = data.draw(st.none() | members(tiers), "member")
    rows["members"] = [member] if member else []
    lane_rows = {k: v for k, v in rows.items() if k != "settings"}
    load_lane(loop.terminal, lane_rows)
    put_settings(loop.terminal.db, {r["key"]: r["value"] for r in rows["settings"]})
    snapshot = load_server(loop.server, rows)
    loop.clock.now = NOW + timedelta(microseconds=data.draw(st.sampled_from([-2, -1, 0, 1])))
    steps = [timedelta(0), timedelta(microseconds=1), timedelta(seconds=1), timedelta(hours=1)]
    loop.clock.step = data.draw(st.sampled_from(steps), "clock step")

    checkout = loop.terminal.checkout()
    if member is not None:
        checkout.identify(MEMBER, IdMethod.NUMBER)
    sellable = [p["sku"] for p in rows["products"] if member or not p["member_only"]]
    if not sellable:
        return
    basket = data.draw(
        st.lists(st.tuples(st.sampled_from(sellable), st.integers(1, 40)), min_size=1, max_size=8),
        "basket",
    )
    for sku, quantity in basket:
        checkout.add(sku, quantity)
    if member is not None:
        most = checkout.max_redeemable()
        least = snapshot.rules.points.min_redeem
        if most >= least and data.draw(st.booleans(), "redeems"):
            checkout.redeem(data.draw(st.integers(least, most), "points"))
    made = checkout.complete()

    pushed = parse_sale(json.loads(json.dumps(sale_to_wire(made)))).sale  # as the server reads it
    assert pushed == made
    assert check_arithmetic(pushed) == []
    tier = snapshot.rules.tiers.get(pushed.tier or "")
    multiplier = tier.earn_multiplier_bp if tier else 10_000
    assert check_points(pushed, snapshot.rules.points, multiplier) == []
    assert reprice(pushed, snapshot, server_customer(member, pushed.tier)) == []


# -- the audit itself: what a dishonest sale is told ----------------------------------------------


def _snapshot() -> PricingSnapshot:
    product = ProductPricing("P1", "Bread", "bakery", 10_000, member_prices={"gold": 8_000})
    offer = Offer("O1", "Bakery week", percent_bp=1_000, category="bakery", stacks=True)
    return PricingSnapshot(RuleSet(3, {}), {"P1": product}, (offer,))


def test_a_snapshot_survives_its_json_form() -> None:
    snapshot = _snapshot()
    assert PricingSnapshot.from_json(snapshot.to_json()) == snapshot
    assert PricingSnapshot.from_json(snapshot.to_json()).to_json() == snapshot.to_json()


def test_an_unknown_snapshot_format_is_refused() -> None:
    data = json.loads(_snapshot().to_json())
    data["format"] = 99
    with pytest.raises(ValueError, match="format"):
        PricingSnapshot.from_json(json.dumps(data))

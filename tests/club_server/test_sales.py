"""Pushing sales: created, duplicate, conflict, rejected (also when they do not add up); the
ledger; flags, velocity among them; the report."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from club_server.cli import cli
from club_server.db import Database
from club_server.demo import DEMO_STORE
from club_server.flags import list_flags
from club_server.sales import ledger_mismatches
from club_server.schema import points_ledger, sales
from club_server.settings import change_settings
from club_server.upserts import put_settings
from clubcore.sale import Sale, SaleKind, SaleLine, Tender, new_sale_id
from clubcore.wire import sale_to_wire
from terminal.bootstrap import Terminal
from terminal.demo_data import DEMO_MANAGER_PIN, member_number
from terminal.refunds import refund_sale, void_sale
from tests.club_server.conftest import (
    NOW,
    TEST_SKU,
    TEST_SKU_2,
    Lane,
    enroll_lane,
    make_sale,
    push,
)
from tests.clubcore.test_sale import lane_return


def balance(client: Any, lane: Lane, member_no: str) -> int:
    """The member's points_base, read through a one-row snapshot page."""
    params = {"after": str(int(member_no) - 1), "limit": 1}
    page = client.get("/v1/snapshot/members", params=params, headers=lane.headers)
    value: int = json.loads(page.text.splitlines()[0])[5]
    return value


def redeeming(sale: dict[str, Any]) -> dict[str, Any]:
    """``sale`` (from ``make_sale``) with its total less its points discount, as a lane has it."""
    return {**sale, "total": sale["subtotal"] - sale["points_discount"]}


def first_member(client: Any, lane: Lane) -> str:
    page = client.get("/v1/snapshot/members", params={"limit": 1}, headers=lane.headers)
    member_no: str = json.loads(page.text.splitlines()[0])[0]
    return member_no


def test_created_then_duplicate_returns_the_first_result(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = first_member(client, lane)
    before = balance(client, lane, member)
    sale = redeeming(make_sale(lane, member_no=member, redeemed=100))  # pays 90,000: 9 points
    [created] = push(client, lane, sale)
    assert created["status"] == "created" and created["change_seq"] > 0
    assert balance(client, lane, member) == before + 9 - 100
    [again] = push(client, lane, dict(reversed(list(sale.items()))))
    assert again == {"sale_id": sale["sale_id"], "status": "duplicate",
                     "change_seq": created["change_seq"]}  # fmt: skip
    assert balance(client, lane, member) == before - 91
    with demo.reading() as conn:
        count = select(func.count()).select_from(points_ledger)
        assert conn.execute(count.where(points_ledger.c.sale_id == sale["sale_id"])).scalar() == 2
    changed = client.get("/v1/changes", params={"after": created["change_seq"] - 1, "limit": 1},
                         headers=lane.headers).json()["changes"][0]  # fmt: skip
    assert (changed["entity"], changed["key"]) == ("members", member)


def test_conflict_changes_nothing_and_is_flagged(client: Any, lane: Lane, demo: Database) -> None:
    sale = make_sale(lane)
    push(client, lane, sale)
    [result] = push(client, lane, {**sale, "total": sale["total"] + 1})
    assert result["status"] == "conflict" and "different body" in result["error"]
    with demo.reading() as conn:
        stored = conn.execute(select(sales.c.total).where(sales.c.sale_id == sale["sale_id"]))
        assert stored.scalar() == sale["total"]
        assert [f["kind"] for f in list_flags(conn)] == ["sale-conflict"]


def test_rejected_for_another_store_or_terminal_or_bad_lines(
    client: Any, lane: Lane, demo: Database
) -> None:
    other = enroll_lane(client, demo, store="store-2")
    wrong_store = make_sale(other)
    wrong_lane = make_sale(lane, terminal_id="t-someoneelse")
    bad_line = make_sale(lane)
    bad_line["lines"][0]["quantity"] = "two"
    results = push(client, lane, wrong_store, wrong_lane, bad_line, 42, make_sale(lane))
    assert [r["status"] for r in results] == ["rejected"] * 4 + ["created"]
    assert "store" in results[0]["error"] and results[3]["sale_id"] is None
    with demo.reading() as conn:
        assert conn.execute(select(func.count()).select_from(sales)).scalar() == 1


def test_negative_balance_is_kept_and_flagged(client: Any, lane: Lane, demo: Database) -> None:
    member = first_member(client, lane)
    start = balance(client, lane, member)

    def balance_before(_: int) -> int:
        return start

    # at least the 100 points of one redemption, paying half of a whole number of items
    owed = -(-(balance(client, lane, member) + 150) // 50) * 50
    sale = make_sale(lane, member_no=member, redeemed=owed, total=owed * 200)
    [result] = push(client, lane, redeeming(sale))
    assert result["status"] == "created"
    assert balance(client, lane, member) == balance_before(owed) - owed + owed // 100 < 0
    with demo.reading() as conn:
        [flag] = list_flags(conn)
    assert (flag["kind"], flag["subject"]) == ("negative-balance", member)


def test_void_reverses_points_and_unknown_member_is_flagged(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = first_member(client, lane)
    before = balance(client, lane, member)
    original = make_sale(lane, member_no=member, earned=30, total=300_000)
    void = make_sale(lane, member_no=member, kind="void", total=-300_000, earned=-30,
                     ref_sale_id=original["sale_id"])  # fmt: skip
    stranger = make_sale(lane, member_no="77000000001", earned=3)
    results = push(client, lane, original, void, stranger)
    assert [r["status"] for r in results] == ["created", "created", "held"]
    assert results[2]["change_seq"] is None and "not known to the club" in results[2]["error"]
    assert balance(client, lane, member) == before
    with demo.reading() as conn:
        assert [f["kind"] for f in list_flags(conn)] == ["unknown-member"]


def test_store_report_counts_every_lane(client: Any, lane: Lane, demo: Database) -> None:
    other_lane = enroll_lane(client, demo)
    member = first_member(client, lane)
    push(client, lane, make_sale(lane, member_no=member, total=300_000, earned=30))
    push(client, other_lane, make_sale(other_lane, total=100_000, hour=9))
    report = client.get("/v1/reports/daily", params={"date": "2026-11-22"},
                        headers=lane.headers).json()  # fmt: skip
    assert report["scope"] == "store" and report["business_date"] == "2026-11-22"
    assert (report["sales_count"], report["total"], report["member_total"]) == (2, 400_000, 300_000)
    assert report["member_share"] == 0.75 and report["points_earned"] == 30
    assert report["top_members"][0]["member_no"] == member
    assert [h["hour"] for h in report["by_hour"]] == [9, 13]
    from clubcore.reports import DailyReport

    assert set(report) == set(DailyReport.__dataclass_fields__)
    assert lane.store_id == DEMO_STORE


def test_whole_request_errors(client: Any, lane: Lane) -> None:
    too_many = {"sales": [make_sale(lane) for _ in range(501)]}
    assert client.post("/v1/sales", json=too_many, headers=lane.headers).status_code == 422
    assert client.post("/v1/sales", json={"sales": 3}, headers=lane.headers).status_code == 422
    assert client.post("/v1/sales", json={"sales": []}).status_code == 401


# -- sales that do not add up --------------------------------------------------------------


def ledger_rows(demo: Database) -> int:
    with demo.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(points_ledger)).scalar() or 0)


def test_a_sale_that_does_not_add_up_is_rejected_and_changes_nothing(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = first_member(client, lane)
    before, rows = balance(client, lane, member), ledger_rows(demo)

    def sale(**wire: Any) -> dict[str, Any]:
        return {**make_sale(lane, member_no=member, total=100_000), **wire}  # 10 points

    over_list = sale()
    over_list["lines"][0]["unit_price"] = 100_001
    discounted_guest = make_sale(lane, total=90_000, subtotal_list=100_000, member_discount=10_000)
    discounted_guest["lines"][0]["list_unit"] = 100_000
    tampered = [
        (sale(subtotal=100_001), "subtotal 100001 is not the sum of the lines (100000)"),
        (sale(total=99_000), "total 99000 is not subtotal - points_discount (100000)"),
        (sale(member_discount=5), "member_discount 5 is not the sum of the lines (0)"),
        (over_list, "line 1: unit price 100001 is not within 0..list price"),
        (sale(lines=[]), "a sale record needs at least one line"),
        (discounted_guest, "a non-member pays the list price"),
        (sale(ref_sale_id="s-1"), "a sale must not reference another sale"),
    ]  # fmt: skip
    # adds up, but not under the rules it names: stored, points held, flagged
    off_the_rules = [
        (sale(points_earned=16), "points earned 16, the rules give 10"),
        (
            sale(points_redeemed=100, points_discount=9_999, total=90_001),
            "points discount 9999, the rules give 10000",
        ),
        (
            sale(points_redeemed=50, points_discount=5_000, total=95_000),
            "at least 100 points must be redeemed",
        ),
    ]
    good = sale()
    pushed = [t for t, _ in tampered] + [t for t, _ in off_the_rules] + [good]
    results = push(client, lane, *pushed)
    assert [r["status"] for r in results] == (
        ["rejected"] * len(tampered) + ["held"] * len(off_the_rules) + ["created"]
    )
    for result, (item, reason) in zip(results, tampered + off_the_rules, strict=False):
        assert result["sale_id"] == item["sale_id"]
        if result["status"] == "rejected":
            assert result["error"].startswith("does not add up: ")
        assert reason in result["error"], result["error"]
    # held sales credit nothing; the points they redeemed (100 and 50) were spent at the till
    assert balance(client, lane, member) == before + 10 - 150
    assert ledger_rows(demo) == rows + 3
    with demo.reading() as conn:
        assert conn.execute(select(func.count()).select_from(sales)).scalar() == 4
        kinds = [f["kind"] for f in list_flags(conn)]
        assert kinds == ["incident"] + ["price-mismatch"] * 3  # three from one lane: an incident
        assert ledger_mismatches(conn) == []
    # a rejected sale pushed again is checked again (it was never stored)
    [again] = push(client, lane, tampered[0][0])
    assert again["status"] == "rejected"


def test_every_published_rule_set_is_kept_and_a_sale_is_re_priced_under_its_own(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = first_member(client, lane)
    honest_v1 = make_sale(lane, member_no=member, total=100_000)  # 10 points under version 1
    generous = make_sale(lane, member_no=member, total=100_000, earned=16)
    never = make_sale(lane, member_no=member, total=100_000, rules_version=0)
    with demo.writing() as conn:
        change_settings(conn, {"points.earn_per_amount": "5000"})  # version 2: 20 points
    honest_v2 = make_sale(lane, member_no=member, total=100_000, earned=20, rules_version=2)
    results = push(client, lane, honest_v1, generous, never, honest_v2)
    assert [r["status"] for r in results] == ["created", "held", "held", "created"]
    assert "rules_version 0 was never published" in results[2]["error"]
    with demo.writing() as conn:
        put_settings(conn, {"points.point_value": "not a number"})  # behind the server's back
    late = make_sale(lane, member_no=member, earned=99, rules_version=2)
    assert push(client, lane, late)[0]["status"] == "held"  # version 2 as published


def consistent_sale(lane: Lane, member_no: str, lines: list[tuple[int, int, int]]) -> Sale:
    """A member sale with lines of (quantity, list unit, unit price), redeeming 100 points."""
    sale_lines = tuple(
        SaleLine(n, sku, "Test item", "test", q, lu, up, "list")
        for n, sku, (q, lu, up) in zip((1, 2), (TEST_SKU, TEST_SKU_2), lines, strict=False)
    )
    subtotal = sum(line.line_total for line in sale_lines)
    listed = sum(line.list_total for line in sale_lines)
    return Sale(
        sale_id=new_sale_id(), kind=SaleKind.SALE, terminal_id=lane.terminal_id,
        store_id=lane.store_id, created_at=NOW, business_date=NOW.date(), hour=13,
        rules_version=1, currency="IRT", subtotal_list=listed, member_discount=listed - subtotal,
        subtotal=subtotal, points_redeemed=100, points_discount=10_000, total=subtotal - 10_000,
        points_earned=(subtotal - 10_000) // 10_000, tender=Tender.CARD, lines=sale_lines,
        member_no=member_no, tier="basic", id_method="card",
    )  # fmt: skip


def test_returns_must_not_exceed_the_sale_they_reverse(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = first_member(client, lane)
    before = balance(client, lane, member)
    original = consistent_sale(lane, member, [(3, 10_000, 10_000), (1, 50_000, 50_000)])
    first = lane_return(original, [], {1: 2})
    too_many = lane_return(original, [first], {1: 2})
    rest = lane_return(original, [first], {1: 1, 2: 1})
    greedy = dataclasses.replace(lane_return(original, [], {2: 1}), points_earned=-10)
    unknown = lane_return(dataclasses.replace(original, sale_id=new_sale_id()), [], {1: 1})
    pushed = (original, first, too_many, rest, greedy, unknown)
    results = push(client, lane, *map(sale_to_wire, pushed))
    assert [r["status"] for r in results] == ["created", "created", "rejected", "created",
                                              "rejected", "rejected"]  # fmt: skip
    assert "line 1: 2 returned, 1 left" in results[2]["error"]
    assert "points_earned -10 is not the returned share (-4)" in results[4]["error"]
    assert "is not known to the club" in results[5]["error"]
    assert balance(client, lane, member) == before  # given back exactly, in two refunds
    # a later request: the stored returns are found and counted
    again = lane_return(original, [first], {2: 1})
    void = lane_return(original, [], {1: 3, 2: 1})
    of_a_return = lane_return(first, [], {1: 2})
    results = push(client, lane, *map(sale_to_wire, (again, void, of_a_return)))
    assert [r["status"] for r in results] == ["rejected"] * 3
    assert "line 2: 1 returned, 0 left" in results[0]["error"]
    assert "a void must be the first return of its sale" in results[1]["error"]
    assert "which is a refund, not a sale" in results[2]["error"]
    assert balance(client, lane, member) == before


def test_the_lanes_own_sales_refunds_and_voids_are_accepted(
    client: Any, lane: Lane, demo: Database, terminal: Terminal
) -> None:
    member = member_number(4)
    before = balance(client, lane, member)
    checkout = terminal.checkout()
    checkout.identify(member)
    for sku, quantity in (("P000001", 3), ("P000002", 2), ("P000053", 1)):
        checkout.add(sku, quantity)
    checkout.redeem(333)
    sale = checkout.complete("card")
    for quantities in ({1: 1}, {1: 1, 3: 1}, {2: 1}, None):
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, quantities)
    checkout = terminal.checkout()
    checkout.identify(member)
    checkout.add("P000007", 2)
    void_sale(terminal, checkout.complete("cash").sale_id, DEMO_MANAGER_PIN)
    checkout = terminal.checkout()
    checkout.add("P000003", 4)
    checkout.complete("cash")
    payloads = [json.loads(p) for (p,) in terminal.db.execute("SELECT payload FROM outbox")]
    pushed = [{**p, "terminal_id": lane.terminal_id, "store_id": lane.store_id} for p in payloads]
    results = push(client, lane, *pushed)
    assert [r["status"] for r in results] == ["created"] * 8, results
    assert balance(client, lane, member) == before  # everything given back


# -- velocity --------------------------------------------------------------------------------


def at(lane: Lane, member_no: str, minutes: float) -> dict[str, Any]:
    """A member sale of ``lane``, ``minutes`` after 09:30 UTC."""
    when = (NOW + timedelta(minutes=minutes)).isoformat()
    return make_sale(lane, member_no=member_no, total=10_000, created_at=when)


def flags_of(demo: Database, kind: str) -> list[dict[str, Any]]:
    with demo.reading() as conn:
        return list_flags(conn, kind=kind)


def test_more_than_twenty_sales_in_ten_minutes_are_flagged_once_and_all_kept(
    client: Any, lane: Lane, demo: Database, db_url: str
) -> None:
    other = enroll_lane(client, demo)
    member = first_member(client, lane)
    push(client, lane, *(at(lane, member, i * 0.4) for i in range(10)))
    push(client, other, *(at(other, member, 4 + i * 0.5) for i in range(10)))  # 20: the limit
    assert flags_of(demo, "velocity") == []
    burst = at(lane, member, 9.5)
    assert push(client, lane, burst)[0]["status"] == "created"
    [flag] = flags_of(demo, "velocity")
    assert (flag["subject"], flag["sale_id"], flag["terminal_id"]) == (
        member, burst["sale_id"], lane.terminal_id)  # fmt: skip
    assert flag["detail"].startswith("21 sales within 10 minutes from 2026-11-22T09:30:00")
    push(client, other, at(other, member, 9.8))  # the same burst: no second flag
    assert len(flags_of(demo, "velocity")) == 1
    with demo.reading() as conn:
        assert conn.execute(select(func.count()).select_from(sales)).scalar() == 22
    shown = CliRunner().invoke(cli, ["flags", "--kind", "velocity", "--db", db_url])
    assert shown.exit_code == 0, shown.output
    assert f"velocity         {member}: 21 sales within 10 minutes" in shown.output


def test_velocity_limits_are_settings_and_a_late_push_is_judged_on_sale_times(
    client: Any, lane: Lane, demo: Database
) -> None:
    other = enroll_lane(client, demo)
    member = first_member(client, lane)
    with demo.writing() as conn:
        put_settings(conn, {"velocity.max_sales": 3, "velocity.window_minutes": 5})
    push(client, lane, at(lane, member, 0), at(lane, member, 4))
    push(client, lane, at(lane, member, 30))  # outside the window
    assert flags_of(demo, "velocity") == []
    late = at(other, member, 2)  # an offline lane's earlier sales, pushed now
    push(client, other, late, at(other, member, 3))
    [flag] = flags_of(demo, "velocity")  # on the first new sale of the crowded window
    assert flag["sale_id"] == late["sale_id"]
    assert flag["detail"] == (
        "4 sales within 5 minutes from 2026-11-22T09:30:00+00:00 (limit 3), in demo-store"
    )
    with demo.writing() as conn:
        put_settings(conn, {"velocity.max_sales": 0})  # off
    push(client, lane, *(at(lane, member, 60 + i * 0.1) for i in range(10)))
    assert len(flags_of(demo, "velocity")) == 1


def test_one_card_in_two_stores_within_minutes_is_flagged(
    client: Any, lane: Lane, demo: Database
) -> None:
    elsewhere = enroll_lane(client, demo, store="store-2")
    member = first_member(client, lane)
    page = client.get("/v1/snapshot/members", params={"limit": 2}, headers=lane.headers)
    second = json.loads(page.text.splitlines()[1])[0]
    push(client, lane, at(lane, member, 0), at(lane, second, 0))
    results = push(client, elsewhere, at(elsewhere, member, 3), at(elsewhere, second, 6))
    assert [r["status"] for r in results] == ["created", "created"]
    [flag] = flags_of(demo, "store-hop")
    assert (flag["subject"], flag["sale_id"]) == (member, results[0]["sale_id"])
    assert flag["detail"].startswith("used in store-2 and demo-store 3 minutes apart (limit 5)")


def test_velocity_limits_take_the_default_for_a_malformed_setting(demo: Database) -> None:
    from club_server.flags import VELOCITY_DEFAULTS, VelocityLimits

    with demo.writing() as conn:
        put_settings(
            conn,
            {
                "velocity.max_sales": " 7 ",
                "velocity.window_minutes": "many",
                "velocity.store_hop_minutes": "200000",
            },
        )
        limits = VelocityLimits.load(conn)
    assert limits.max_sales == 7
    assert limits.window == timedelta(minutes=VELOCITY_DEFAULTS["velocity.window_minutes"])
    assert limits.store_hop == timedelta(minutes=VELOCITY_DEFAULTS["velocity.store_hop_minutes"])


def test_a_sale_with_its_cashier_number_and_payments_is_stored_and_checked(
    client: Any, lane: Lane, demo: Database
) -> None:
    paid = make_sale(lane, cashier_id="101", sale_no=7, tender="split", payments=[
        {"tender": "card", "amount": 60_000, "reference": "502938475610"},
        {"tender": "cash", "amount": 40_000, "tendered": 50_000},
    ])  # fmt: skip
    short = make_sale(lane, payments=[{"tender": "cash", "amount": 1, "tendered": 1}])
    [created, rejected] = push(client, lane, paid, short)
    assert created["status"] == "created"
    assert rejected["status"] == "rejected" and "add up to 1" in rejected["error"]
    with demo.reading() as conn:
        stored = conn.execute(select(sales.c.payload).where(sales.c.sale_id == paid["sale_id"]))
        body = json.loads(stored.scalar())
    assert (body["cashier_id"], body["sale_no"], body["payments"][0]["reference"]) == (
        "101", 7, "502938475610",
    )  # fmt: skip

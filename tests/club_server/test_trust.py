"""A lane's credential in an attacker's hands: every case is refused or held, nothing credited.

Each test is one attack of the "trust nothing a lane says" issue, on SQLite
and PostgreSQL; the ``demo`` fixture checks afterwards that every balance is
its ledger sum. "Nothing lost": a held sale is stored all the same.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from club_server.db import Database
from club_server.flags import list_flags
from club_server.members import add_member, show_member
from club_server.schema import points_ledger, sales
from club_server.settings import change_settings
from club_server.suspense import list_suspense, release
from terminal.demo_data import member_number
from tests.club_server.conftest import NOW, TEST_PRICE, Lane, enroll_lane, make_sale, push


def balance(client: Any, lane: Lane, member_no: str) -> int:
    """The member's points_base, read through a one-row snapshot page."""
    params = {"after": str(int(member_no) - 1), "limit": 1}
    page = client.get("/v1/snapshot/members", params=params, headers=lane.headers)
    assert page.status_code == 200, page.text
    row = json.loads(page.text.splitlines()[0])
    assert row[0] == member_no
    value: int = row[5]
    return value


def a_member(client: Any, lane: Lane) -> str:
    page = client.get("/v1/snapshot/members", params={"limit": 1}, headers=lane.headers)
    member_no: str = json.loads(page.text.splitlines()[0])[0]
    return member_no


def stored(db: Database) -> int:
    with db.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(sales)).scalar() or 0)


def ledger(db: Database, member_no: str) -> list[tuple[str, int]]:
    query = select(points_ledger.c.kind, points_ledger.c.points).where(
        points_ledger.c.member_no == member_no
    )
    with db.reading() as conn:
        return [(str(k), int(p)) for k, p in conn.execute(query.order_by(points_ledger.c.entry_id))]


def flag_kinds(db: Database) -> list[str]:
    with db.reading() as conn:
        return [f["kind"] for f in list_flags(conn)]


def daily(client: Any, lane: Lane) -> dict[str, Any]:
    answer = client.get("/v1/reports/daily", params={"date": "2026-11-22"}, headers=lane.headers)
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def test_a_trillion_points_under_an_unknown_rules_version_are_held(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = a_member(client, lane)
    before, entries = balance(client, lane, member), ledger(demo, member)
    sale = make_sale(lane, member_no=member, rules_version=999, points_earned=10**12)
    [result] = push(client, lane, sale)
    assert result["status"] == "held" and result["change_seq"] is None
    assert "rules_version 999 was never published" in result["error"]
    assert balance(client, lane, member) == before and ledger(demo, member) == entries
    assert stored(demo) == 1  # the sale happened: kept
    with demo.reading() as conn:
        [parked] = list_suspense(conn)
    assert (parked["member_no"], parked["points"], parked["sale_id"]) == (
        member,
        10**12,
        sale["sale_id"],
    )
    assert flag_kinds(demo) == ["price-mismatch"]
    # pushed again: the same answer, nothing more
    assert push(client, lane, sale)[0]["status"] == "held"
    assert balance(client, lane, member) == before and stored(demo) == 1


def test_one_point_paying_a_whole_subtotal_is_held_and_still_debited(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = a_member(client, lane)
    before = balance(client, lane, member)
    sale = make_sale(
        lane, member_no=member, total=0, rules_version=999, points_earned=0,
        points_redeemed=1, points_discount=100_000, subtotal=100_000,
    )  # fmt: skip
    sale["lines"] = make_sale(lane, total=100_000)["lines"]
    sale["subtotal_list"] = 100_000
    [result] = push(client, lane, sale)
    assert result["status"] == "held", result
    # the discount was given at the till: the point is the member's no more; nothing credited;
    # the answer names the member change that debits it (so the lane's balance can follow)
    assert result["change_seq"] is not None
    assert push(client, lane, sale)[0] == result  # a replay: the same answer
    assert balance(client, lane, member) == before - 1
    assert ledger(demo, member)[-1] == ("redeem", -1)
    with demo.reading() as conn:
        assert list_suspense(conn) == []
    # under the rules the lane has, 100 points pay 10,000, not 100,000
    honest_version = make_sale(lane, member_no=member)["rules_version"]
    sale = {**sale, "sale_id": "s-" + sale["sale_id"], "rules_version": honest_version,
            "points_redeemed": 100}  # fmt: skip
    [result] = push(client, lane, sale)
    assert result["status"] == "held" and "points discount 100000" in result["error"], result
    assert balance(client, lane, member) == before - 101


def test_a_member_sale_at_price_zero_is_held(client: Any, lane: Lane, demo: Database) -> None:
    member = a_member(client, lane)
    before = balance(client, lane, member)
    sale = make_sale(lane, member_no=member, total=100_000)
    quantity = sale["lines"][0]["quantity"]
    sale["lines"][0]["unit_price"] = 0
    sale["lines"][0]["source"] = "member-price"
    sale.update(subtotal=0, member_discount=TEST_PRICE * quantity, total=0, points_earned=0)
    [result] = push(client, lane, sale)
    assert result["status"] == "held" and "re-priced" in result["error"], result
    assert balance(client, lane, member) == before and stored(demo) == 1
    assert flag_kinds(demo) == ["price-mismatch"]


def test_another_stores_terminal_cannot_void_a_sale(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = a_member(client, lane)
    original = make_sale(lane, member_no=member, total=300_000)  # 30 points
    assert push(client, lane, original)[0]["status"] == "created"
    after_sale, report = balance(client, lane, member), daily(client, lane)
    thief = enroll_lane(client, demo, store="store-2")
    void = make_sale(
        thief, member_no=member, kind="void", total=-300_000, earned=-30,
        ref_sale_id=original["sale_id"],
    )  # fmt: skip
    [result] = push(client, thief, void)
    assert result["status"] == "rejected" and "another store's" in result["error"]
    assert balance(client, lane, member) == after_sale  # the points did not come back
    assert daily(client, lane) == report  # nor did the void count in the store's day
    assert daily(client, thief)["sales_count"] == 0
    assert stored(demo) == 1 and flag_kinds(demo) == ["foreign-return"]
    with demo.reading() as conn:
        [flag] = list_flags(conn)
    assert flag["terminal_id"] == thief.terminal_id and flag["payload"]  # the body, for review


def test_a_sale_id_cannot_be_squatted(client: Any, lane: Lane, demo: Database) -> None:
    member = a_member(client, lane)
    before = balance(client, lane, member)
    rightful = make_sale(lane, member_no=member, total=200_000)  # 20 points
    squatter = enroll_lane(client, demo)  # a lane of the same store, credential stolen
    stolen = make_sale(squatter, sale_id=rightful["sale_id"], total=100_000)
    [first] = push(client, squatter, stolen)
    [second] = push(client, lane, rightful)
    assert (first["status"], second["status"]) == ("created", "created")
    assert balance(client, lane, member) == before + 20  # the rightful sale's points, once
    assert stored(demo) == 2
    # each terminal's sale id is its own: replays are answered to each as before
    assert push(client, lane, rightful)[0]["status"] == "duplicate"
    assert push(client, squatter, stolen)[0]["status"] == "duplicate"
    # the rightful lane voids its own sale: the squatter's copy is not the one reversed
    void = make_sale(
        lane, member_no=member, kind="void", total=-200_000, earned=-20,
        ref_sale_id=rightful["sale_id"],
    )  # fmt: skip
    assert push(client, lane, void)[0]["status"] == "created"
    assert balance(client, lane, member) == before
    with demo.reading() as conn:
        [flag] = list_flags(conn)
    assert flag["kind"] == "sale-id-reused" and flag["terminal_id"] == lane.terminal_id
    assert squatter.terminal_id in flag["detail"]


def test_points_of_an_unknown_member_wait_and_are_never_inherited(
    client: Any, lane: Lane, demo: Database
) -> None:
    number = member_number(9_999)  # a well-formed number the club does not have (yet)
    orphan = make_sale(lane, member_no=number, total=2_910_000)  # 291 points
    [result] = push(client, lane, orphan)
    assert result["status"] == "held" and "not known to the club" in result["error"]
    assert flag_kinds(demo) == ["unknown-member"] and stored(demo) == 1
    with demo.writing() as conn:
        add_member(conn, display_name="Late", tier="basic", now=NOW, member_no=number)
    with demo.reading() as conn:
        shown = show_member(conn, number)
    assert shown["ledger"] == [] and balance(client, lane, number) == 0
    [result] = push(client, lane, make_sale(lane, member_no=number, total=100_000))
    assert result["status"] == "created"
    assert balance(client, lane, number) == 10  # its own points only
    assert ledger(demo, number) == [("earn", 10)]
    # the operator decides: released, the orphan points are the member's
    with demo.writing() as conn:
        [parked] = list_suspense(conn, member_no=number)
        assert parked["points"] == 291
        assert release(conn, [parked["entry_id"]], NOW) == 1
    assert balance(client, lane, number) == 301
    with demo.reading() as conn:
        assert list_suspense(conn) == []


def test_points_over_the_limits_are_held_and_repeated_flags_are_one_incident(
    client: Any, lane: Lane, demo: Database
) -> None:
    with demo.writing() as conn:
        change_settings(
            conn,
            {
                "limits.points_per_sale": "50",
                "limits.points_per_member_day": "100",
                "limits.incident_flags": "3",
            },
        )
    version = make_sale(lane)["rules_version"]
    with demo.reading() as conn:
        from club_server.rulesets import current_snapshot

        assert current_snapshot(conn) is not None
    member = a_member(client, lane)
    before = balance(client, lane, member)
    big = make_sale(lane, member_no=member, total=600_000, rules_version=version)  # 60 points
    small = [
        make_sale(lane, member_no=member, total=400_000, rules_version=version) for _ in range(3)
    ]  # 40 points each: the third goes over 100 a day
    results = push(client, lane, big, *small)
    assert [r["status"] for r in results] == ["held", "created", "created", "held"], results
    assert "over 50 a sale" in results[0]["error"] and "over 100 a day" in results[3]["error"]
    assert balance(client, lane, member) == before + 80
    assert flag_kinds(demo) == ["points-limit"] * 2
    results = push(client, lane, make_sale(lane, member_no=member, total=700_000,
                                           rules_version=version))  # fmt: skip
    assert results[0]["status"] == "held"
    assert flag_kinds(demo) == ["incident"] + ["points-limit"] * 3  # raised once, listed first
    push(client, lane, make_sale(lane, member_no=member, total=800_000, rules_version=version))
    assert flag_kinds(demo).count("incident") == 1
    with demo.reading() as conn:
        held = conn.execute(select(func.count()).where(sales.c.held.is_not(None))).scalar()
    assert held == 4 and stored(demo) == 6
    assert client.get("/v1/health").status_code == 200

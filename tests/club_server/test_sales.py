"""Pushing sales: created, duplicate, conflict, rejected; the ledger; flags; the report."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from club_server.db import Database
from club_server.demo import DEMO_STORE
from club_server.flags import list_flags
from club_server.schema import points_ledger, sales
from tests.club_server.conftest import Lane, enroll_lane, make_sale, push


def balance(client: Any, lane: Lane, member_no: str) -> int:
    """The member's points_base, read through a one-row snapshot page."""
    params = {"after": str(int(member_no) - 1), "limit": 1}
    page = client.get("/v1/snapshot/members", params=params, headers=lane.headers)
    value: int = json.loads(page.text.splitlines()[0])[5]
    return value


def first_member(client: Any, lane: Lane) -> str:
    page = client.get("/v1/snapshot/members", params={"limit": 1}, headers=lane.headers)
    member_no: str = json.loads(page.text.splitlines()[0])[0]
    return member_no


def test_created_then_duplicate_returns_the_first_result(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = first_member(client, lane)
    before = balance(client, lane, member)
    sale = make_sale(lane, member_no=member, earned=12, redeemed=5)
    [created] = push(client, lane, sale)
    assert created["status"] == "created" and created["change_seq"] > 0
    assert balance(client, lane, member) == before + 12 - 5
    [again] = push(client, lane, dict(reversed(list(sale.items()))))
    assert again == {"sale_id": sale["sale_id"], "status": "duplicate",
                     "change_seq": created["change_seq"]}  # fmt: skip
    assert balance(client, lane, member) == before + 7
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
    owed = balance(client, lane, member) + 50
    [result] = push(client, lane, make_sale(lane, member_no=member, redeemed=owed))
    assert result["status"] == "created"
    assert balance(client, lane, member) == -50
    with demo.reading() as conn:
        [flag] = list_flags(conn)
    assert (flag["kind"], flag["subject"]) == ("negative-balance", member)


def test_void_reverses_points_and_unknown_member_is_flagged(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = first_member(client, lane)
    before = balance(client, lane, member)
    original = make_sale(lane, member_no=member, earned=30)
    void = make_sale(lane, member_no=member, kind="void", total=-100_000, earned=-30,
                     ref_sale_id=original["sale_id"])  # fmt: skip
    stranger = make_sale(lane, member_no="77000000001", earned=3)
    results = push(client, lane, original, void, stranger)
    assert [r["status"] for r in results] == ["created"] * 3
    assert results[2]["change_seq"] is None
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

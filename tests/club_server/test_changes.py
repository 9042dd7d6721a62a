"""Deltas: upserts and deletes after the snapshot cursor, on both backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from club_server.db import Database
from club_server.upserts import delete, upsert
from tests.club_server.conftest import NOW, Lane


def changes(client: Any, lane: Lane, after: int, limit: int = 1000) -> dict[str, Any]:
    answer = client.get("/v1/changes", params={"after": after, "limit": limit},
                        headers=lane.headers)  # fmt: skip
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_upsert_and_delete_show_up_after_the_cursor(
    client: Any, lane: Lane, demo: Database
) -> None:
    cursor = client.get("/v1/snapshot", headers=lane.headers).json()["cursor"]
    assert changes(client, lane, cursor) == {"changes": [], "cursor": cursor, "more": False}
    with demo.writing() as conn:
        upsert(conn, "member_prices", {"sku": "P000001", "tier": "gold", "price": 1000})
        upsert(conn, "denylist", {"serial": "77", "uid": None, "reason": "lost",
                                  "listed_at": NOW.isoformat()})  # fmt: skip
        delete(conn, "member_prices", "P000000|basic")
    page = changes(client, lane, cursor)
    ops = [(c["entity"], c["op"], c["key"], c["row"]) for c in page["changes"]]
    # a change to the rule set publishes it under a new rules_version (rows are current: 3)
    version = ("settings", "upsert", "rules_version", ["rules_version", "3"])
    assert ops == [
        ("member_prices", "upsert", "P000001|gold", ["P000001", "gold", 1000]),
        version,
        ("denylist", "upsert", "77", ["77", None, "lost", NOW.isoformat()]),
        ("member_prices", "delete", "P000000|basic", None),
        version,
    ]
    assert page["cursor"] == page["changes"][-1]["seq"] > cursor


def test_row_is_the_current_row_and_a_later_delete_wins(
    client: Any, lane: Lane, demo: Database
) -> None:
    cursor = client.get("/v1/snapshot", headers=lane.headers).json()["cursor"]
    with demo.writing() as conn:
        upsert(conn, "denylist", {"serial": "5", "uid": None, "reason": "lost",
                                  "listed_at": NOW.isoformat()})  # fmt: skip
        delete(conn, "denylist", "5")
    page = changes(client, lane, cursor)
    assert [c["op"] for c in page["changes"]] == ["delete", "delete"]


def test_paging_is_monotonic_and_complete(client: Any, lane: Lane) -> None:
    seen: list[int] = []
    cursor, more = 0, True
    while more:
        page = changes(client, lane, cursor, limit=97)
        assert page["cursor"] >= cursor
        seen += [c["seq"] for c in page["changes"]]
        cursor, more = page["cursor"], page["more"]
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert cursor == client.get("/v1/snapshot", headers=lane.headers).json()["cursor"]
    assert changes(client, lane, cursor + 100)["cursor"] == cursor + 100


def test_bad_cursor_is_422(client: Any, lane: Lane) -> None:
    for query in ("after=-1", "after=x", "limit=10001", "limit=0"):
        answer = client.get(f"/v1/changes?{query}", headers=lane.headers)
        assert answer.status_code == 422, query
        assert answer.json()["error"] == "invalid-request"


def test_a_page_with_a_price_reaches_the_newest_rules_version(
    client: Any, lane: Lane, demo: Database
) -> None:
    cursor = client.get("/v1/snapshot", headers=lane.headers).json()["cursor"]
    for sku, price in (("P000001", 1000), ("P000002", 2000)):
        with demo.writing() as conn:  # each publishes the rule set: the price, then its version
            upsert(conn, "member_prices", {"sku": sku, "tier": "gold", "price": price})
    # rows are current, the version's too (3): a page ending after the first version would give
    # the lane version 3 with P000002's old price. It reaches the newest version instead.
    first = changes(client, lane, cursor, limit=1)
    assert [(c["entity"], c["key"], c["row"]) for c in first["changes"]] == [
        ("member_prices", "P000001|gold", ["P000001", "gold", 1000]),
        ("settings", "rules_version", ["rules_version", "3"]),
        ("member_prices", "P000002|gold", ["P000002", "gold", 2000]),
        ("settings", "rules_version", ["rules_version", "3"]),
    ]
    assert not first["more"] and first["cursor"] == first["changes"][-1]["seq"]
    # a page that holds no rule-set change is cut where asked
    with demo.writing() as conn:
        upsert(conn, "denylist", {"serial": "78", "uid": None, "reason": "lost",
                                  "listed_at": NOW.isoformat()})  # fmt: skip
        upsert(conn, "denylist", {"serial": "79", "uid": None, "reason": "lost",
                                  "listed_at": NOW.isoformat()})  # fmt: skip
    third = changes(client, lane, first["cursor"], limit=1)
    assert [c["key"] for c in third["changes"]] == ["78"] and third["more"]


def test_after_every_page_a_lane_holds_one_rule_set(
    client: Any, lane: Lane, demo: Database
) -> None:
    # (found by the crash test: a lane killed between two pages sold P000001 at its older
    # price under the newest version, which an earlier page had carried, and the club held it)
    cursor = client.get("/v1/snapshot", headers=lane.headers).json()["cursor"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("member_prices", {"sku": "P000002", "tier": "gold", "price": 2000}),
        ("products", {"sku": "P000001", "list_price": 637_000}),
        *[("denylist", {"serial": s, "uid": None, "reason": "lost", "listed_at": NOW.isoformat()})
          for s in ("80", "81", "82")],
        ("products", {"sku": "P000001", "list_price": 170_281}),
    ]  # fmt: skip
    for entity, row in steps:
        with demo.writing() as conn:  # each transaction publishes its own version
            upsert(conn, entity, row)
    with demo.reading() as conn:
        newest = conn.execute(text("SELECT value FROM settings WHERE key = 'rules_version'"))
        final = str(newest.scalar_one())
    for limit in range(1, 8):
        after, more = cursor, True
        price, version = "old", "old"  # the lane's P000001 list price and rules_version
        while more:
            page = changes(client, lane, after, limit=limit)
            for change in page["changes"]:
                if change["key"] == "P000001":
                    price = change["row"][4]
                elif change["key"] == "rules_version":
                    version = change["row"][1]
            # the newest version with the older price, or the newest price under an older one
            assert (version == final) == (price == 170_281), (limit, version, price)
            after, more = page["cursor"], page["more"]
        assert (version, price) == (final, 170_281)

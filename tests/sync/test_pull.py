"""The delta puller against a local store (pages applied by hand, and over HTTP)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlite_utils

from clubcore.errors import ProtocolError
from sync.http import SyncClient
from sync.pull import apply_page, get_cursor, pull_changes, set_cursor
from tests.sync.conftest import FAST
from tests.sync.scripted import Request, ScriptedServer, json_reply

PRODUCT = ["P9", "626999", "Tea", "drinks", 12_000, 0, 1, "2026-11-22T09:00:00+00:00"]


def page(*changes: dict[str, object], cursor: int, more: bool = False) -> dict[str, object]:
    return {"changes": list(changes), "cursor": cursor, "more": more}


def upsert(seq: int, entity: str, key: str, row: list[object]) -> dict[str, object]:
    return {"seq": seq, "entity": entity, "op": "upsert", "key": key, "row": row}


def delete(seq: int, entity: str, key: str) -> dict[str, object]:
    return {"seq": seq, "entity": entity, "op": "delete", "key": key, "row": None}


@pytest.fixture
def db(fresh_db: sqlite_utils.Database) -> sqlite_utils.Database:
    with fresh_db.atomic():
        set_cursor(fresh_db, 100)
    return fresh_db


def test_a_page_is_applied_with_its_cursor_and_reapplying_is_harmless(
    db: sqlite_utils.Database,
) -> None:
    changes = page(
        upsert(101, "products", "P9", PRODUCT),
        upsert(102, "denylist", "900021", ["900021", "04AABB", "lost", "2026-11-22"]),
        upsert(103, "member_prices", "P9|gold", ["P9", "gold", 9_000]),
        cursor=103,
    )
    for _ in range(2):
        assert apply_page(db, changes) == (103, False)
    assert db["products"].get("P9")["list_price"] == 12_000
    assert db["denylist"].count == 1 and db["member_prices"].count == 1
    assert get_cursor(db) == 103
    apply_page(db, page(delete(104, "member_prices", "P9|gold"), cursor=104))
    assert db["member_prices"].count == 0


def test_the_club_cannot_set_a_lane_owned_setting(db: sqlite_utils.Database) -> None:
    db.execute("INSERT INTO settings VALUES ('terminal_id', 'lane-1'), ('readers', 'pcsc')")
    hostile = page(
        upsert(101, "settings", "terminal_id", ["terminal_id", "lane-666"]),
        upsert(102, "settings", "readers", ["readers", "nfc:udp:evil.example:9"]),
        upsert(103, "settings", "sync.server_url", ["sync.server_url", "https://evil.example"]),
        upsert(104, "settings", "offline.redeem_cap_points", ["offline.redeem_cap_points", "7"]),
        cursor=104,
    )
    assert apply_page(db, hostile) == (104, False)
    stored = dict(db.execute("SELECT key, value FROM settings").fetchall())
    assert (stored["terminal_id"], stored["readers"]) == ("lane-1", "pcsc")
    assert "sync.server_url" not in stored
    assert stored["offline.redeem_cap_points"] == "7"  # the club's own key is applied


@pytest.mark.parametrize(
    ("bad", "text"),
    [
        (page(upsert(101, "products", "P9", PRODUCT), cursor=99), "behind"),
        (page(upsert(101, "products", "P9", PRODUCT), upsert(102, "staff", "x", []), cursor=102),
         "changes.1: .*tag 'staff'"),  # an unknown entity
        (page({"seq": 101, "entity": "products", "op": "merge", "key": "P9"}, cursor=101),
         "changes.0.products.op: .*'upsert' or 'delete'"),
        (page(upsert(101, "products", "P8", PRODUCT), cursor=101), "does not have the key"),
        (page(upsert(101, "products", "P9", PRODUCT[:3]), cursor=101),
         "changes.0.products.row.3: Field required"),  # a row of 3 values, not 8
        (page(upsert(101, "products", "P9", [*PRODUCT[:4], True, *PRODUCT[5:]]), cursor=101),
         "changes.0.products.row.4: Input should be a valid integer"),  # a bool is no price
        ({"changes": [], "cursor": "x", "more": False}, "cursor: Input should be a valid integer"),
        ({"changes": [], "cursor": -1, "more": False}, "cursor: Input should be greater"),
        ({"changes": {}, "cursor": 101, "more": False}, "changes: Input should be a valid list"),
        ({"changes": [], "cursor": 101, "more": 1}, "more: Input should be a valid boolean"),
    ],
)  # fmt: skip
def test_a_bad_page_is_refused_whole(
    db: sqlite_utils.Database, bad: dict[str, object], text: str
) -> None:
    with pytest.raises(ProtocolError, match=text):
        apply_page(db, bad)
    assert db["products"].count == 0
    assert get_cursor(db) == 100


def test_pull_follows_more_until_done(
    db: sqlite_utils.Database, serve: Callable[..., ScriptedServer]
) -> None:
    pages = {
        "100": page(upsert(101, "products", "P9", PRODUCT), cursor=101, more=True),
        "101": page(delete(102, "products", "P9"), cursor=150),
    }

    def route(request: Request) -> object:
        assert request.path == "/v1/changes" and int(request.query["limit"]) <= 10_000
        return json_reply(pages[request.query["after"]])

    server = serve(route)
    result = pull_changes(SyncClient(server.url, policy=FAST), db, limit=50_000)
    assert (result.pages, result.changes, result.cursor) == (2, 2, 150)
    assert db["products"].count == 0 and get_cursor(db) == 150


def test_pull_refuses_a_server_that_never_advances(
    db: sqlite_utils.Database, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve(lambda request: json_reply(page(cursor=100, more=True)))
    with pytest.raises(ProtocolError, match="did not advance"):
        pull_changes(SyncClient(server.url, policy=FAST), db)


def test_pull_needs_a_provisioned_terminal(fresh_db: sqlite_utils.Database) -> None:
    with pytest.raises(ProtocolError, match="never provisioned"):
        pull_changes(SyncClient("http://127.0.0.1:9"), fresh_db)

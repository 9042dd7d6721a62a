"""Provisioning snapshots from a scripted server: paging, resuming, the swap, kept sales."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clubcore.errors import ProtocolError, StoreError
from offline_store.db import DB_FILENAME, open_db
from sync.entities import ENTITIES
from sync.http import SyncClient
from sync.pull import get_cursor
from sync.snapshot import load_snapshot
from terminal.bootstrap import bootstrap
from tests.sync.conftest import FAST
from tests.sync.scripted import Reply, Request, ScriptedServer, json_reply, ndjson_reply

Serve = Callable[..., ScriptedServer]
STAMP = "2026-11-22T09:00:00+00:00"


def dataset(members: int = 250) -> dict[str, list[list[Any]]]:
    return {
        "settings": [["currency", "IRR"], ["rules_version", "7"], ["timezone", "Asia/Tehran"]],
        "tiers": [["basic", "Basic", 0, 0, 10000, 1, "[]"], ["gold", "Gold", 2, 5, 15000, 1, "[]"]],
        "categories": [["drinks", "Drinks", None]],
        "products": [
            [f"P{i:03d}", None, f"Product {i}", "drinks", 100_000 + i, False, True, STAMP]
            for i in range(30)
        ],
        "member_prices": [["P001", "basic", 90_000], ["P001", "gold", 80_000]],
        "category_discounts": [["drinks", "gold", 500]],
        "offers": [],
        "members": [
            [f"{1000000000 + i}", f"M {i}", "gold", "", None, 10 * i, 0, "active", STAMP]
            for i in range(members)
        ],
        "cards": [["900001", "04AABBCC", "1000000000", "uid-only", None, STAMP]],
        "denylist": [["900021", None, "lost", STAMP]],
        "card_keys": [[1, "11" * 32, None]],
    }


class FakeSnapshotServer:
    """Manifest and pages of ``data``; ``cut`` names (entity, page number) to cut off once.

    A page cut off keeps ``keep(size)`` bytes of its gzip body (half by default).
    """

    def __init__(self, data: dict[str, list[list[Any]]], cursor: int = 4242) -> None:
        self.data = data
        self.cursor = cursor
        self.cut: set[tuple[str, int]] = set()
        self.keep: Callable[[int], int] = lambda size: size // 2
        self.pages: dict[str, int] = {}
        #: the changes since the manifest's cursor (the deltas the lane catches up with)
        self.changes: list[dict[str, Any]] = []
        self.manifest: dict[str, Any] = {
            "snapshot_id": "snap-1",
            "cursor": cursor,
            "server_time": STAMP,
            "entities": {
                name: {"columns": list(spec.columns), "rows": len(data[name])}
                for name, spec in ENTITIES.items()
            },
        }

    def __call__(self, request: Request) -> Reply:
        if request.path == "/v1/snapshot":
            return json_reply(self.manifest)
        if request.path == "/v1/changes":
            after = int(request.query["after"])
            page = [c for c in self.changes if c["seq"] > after]
            last = page[-1]["seq"] if page else after
            return json_reply({"changes": page, "cursor": last, "more": False})
        name = request.path.rsplit("/", 1)[1]
        spec = ENTITIES[name]
        rows = sorted(self.data[name], key=lambda r: spec.key_of(r))
        after = request.query.get("after")
        rows = [r for r in rows if after is None or spec.key_of(r) > after]
        limit = int(request.query["limit"])
        page, more = rows[:limit], len(rows) > limit
        lines: list[Any] = [*page, {"next": spec.key_of(page[-1]) if more else None}]
        number = self.pages[name] = self.pages.get(name, 0) + 1
        if (name, number) in self.cut:
            full = ndjson_reply(lines)
            return ndjson_reply(lines, cut_at=self.keep(len(full.body)))
        return ndjson_reply(lines)


def provision(url: str, data_dir: Path, **options: Any) -> Any:
    client = SyncClient(url, credential="T1.x", policy=FAST)
    return load_snapshot(client, data_dir, **options)


def test_a_snapshot_is_loaded_page_by_page_into_a_new_database(
    tmp_path: Path, serve: Serve
) -> None:
    fake = FakeSnapshotServer(dataset())
    server = serve(fake)
    seen: list[tuple[str, int, int]] = []
    result = provision(
        server.url,
        tmp_path,
        settings={"terminal_id": "T1", "store_id": "S1"},
        progress=lambda *args: seen.append(args),
        page_limit=100,
    )
    assert result.rows["members"] == 250 and result.cursor == 4242 and result.kept == {}
    db = open_db(tmp_path / DB_FILENAME)
    assert db["members"].count == 250 and db["products"].count == 30
    assert db["card_keys"].get(1)["public_key"] == b"\x11" * 32
    assert db["settings"].get("terminal_id")["value"] == "T1"
    assert db["settings"].get("rules_version")["value"] == "7"
    assert get_cursor(db) == 4242
    db.close()
    member_pages = [r for r in server.requests if r.path.endswith("/members")]
    assert [r.query.get("after") for r in member_pages] == [None, "1000000099", "1000000199"]
    assert ("members", 250, 250) in seen
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]


def test_changes_made_while_the_pages_were_read_are_pulled_before_the_swap(
    tmp_path: Path, serve: Serve
) -> None:
    # the club published P001 at a new price (rules_version 8) after the manifest: the
    # settings page said 7, the products page already had the new price
    data = dataset()
    data["products"][1][4] = 55_000
    fake = FakeSnapshotServer(data)
    fake.changes = [
        {"seq": 4243, "entity": "products", "op": "upsert", "key": "P001",
         "row": ["P001", None, "Product 1", "drinks", 55_000, 0, 1, STAMP]},
        {"seq": 4244, "entity": "settings", "op": "upsert", "key": "rules_version",
         "row": ["rules_version", "8"]},
    ]  # fmt: skip
    server = serve(fake)
    result = provision(server.url, tmp_path, page_limit=100)
    assert result.cursor == 4244
    db = open_db(tmp_path / DB_FILENAME)
    assert db["settings"].get("rules_version")["value"] == "8"
    assert db["products"].get("P001")["list_price"] == 55_000
    assert get_cursor(db) == 4244
    db.close()
    assert [r.query.get("after") for r in server.requests if r.path == "/v1/changes"] == ["4242"]


def test_a_failed_catch_up_leaves_the_old_database(tmp_path: Path, serve: Serve) -> None:
    fake = FakeSnapshotServer(dataset())
    fake.changes = [{"seq": 4243, "entity": "nonsense", "op": "upsert", "key": "x", "row": []}]
    server = serve(fake)
    with pytest.raises(ProtocolError):
        provision(server.url, tmp_path, page_limit=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def live_readers() -> list[threading.Thread]:
    """The snapshot's page reader threads still running."""
    return [t for t in threading.enumerate() if t.name == "snapshot-pages"]


@pytest.mark.parametrize("members", [3000, 40_000])  # one block handed over, or several
def test_a_page_cut_off_is_resumed_after_the_last_row(
    tmp_path: Path, serve: Serve, members: int
) -> None:
    fake = FakeSnapshotServer(dataset(members=members))
    fake.cut = {("members", 1)}
    server = serve(fake)
    provision(server.url, tmp_path, page_limit=50_000)
    member_pages = [r for r in server.requests if r.path.endswith("/members")]
    assert len(member_pages) == 2
    resumed_after = member_pages[1].query["after"]
    assert "1000000000" < resumed_after < str(1000000000 + members - 1)
    db = open_db(tmp_path / DB_FILENAME)
    assert db["members"].count == members
    assert db.execute("SELECT MAX(member_no) FROM members").fetchone()[0] == str(
        1000000000 + members - 1
    )
    db.close()


def test_a_page_cut_off_in_its_gzip_trailer_is_asked_again_after_its_last_row(
    tmp_path: Path, serve: Serve
) -> None:
    fake = FakeSnapshotServer(dataset(members=3000))
    fake.cut = {("members", 1)}
    fake.keep = lambda size: size - 4  # the stream breaks in its last bytes
    server = serve(fake)
    provision(server.url, tmp_path, page_limit=50_000)
    member_pages = [r for r in server.requests if r.path.endswith("/members")]
    assert len(member_pages) == 2 and member_pages[1].query["after"] > "1000000000"
    db = open_db(tmp_path / DB_FILENAME)
    assert db["members"].count == 3000
    db.close()


def test_re_provisioning_keeps_the_lanes_sales_and_outbox(tmp_path: Path, serve: Serve) -> None:
    server = serve(FakeSnapshotServer(dataset()))
    provision(server.url, tmp_path, settings={"terminal_id": "T1", "store_id": "S1"})
    terminal = bootstrap(tmp_path)
    checkout = terminal.checkout()
    checkout.identify("1000000005")
    checkout.add("P001", 3)
    sale = checkout.complete()
    terminal.close()
    result = provision(server.url, tmp_path, settings={"terminal_id": "T1", "store_id": "S1"})
    assert result.kept["sales"] == 1 and result.kept["outbox"] == 1
    assert result.kept["points_ledger"] >= 1
    db = open_db(tmp_path / DB_FILENAME)
    assert db["sales"].get(sale.sale_id)["total"] == sale.total
    assert db["outbox"].count == 1 and db["sale_lines"].count == 1
    db.close()


def test_a_bad_manifest_changes_nothing(tmp_path: Path, serve: Serve) -> None:
    fake = FakeSnapshotServer(dataset())
    server = serve(fake)
    provision(server.url, tmp_path)
    del fake.manifest["entities"]["denylist"]
    with pytest.raises(ProtocolError, match="missing \\['denylist'\\]"):
        provision(server.url, tmp_path)
    fake.manifest["entities"]["denylist"] = {"columns": ["serial", "uid"], "rows": 1}
    with pytest.raises(ProtocolError, match="columns of denylist"):
        provision(server.url, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]


def test_a_bad_row_mid_way_leaves_the_old_database(tmp_path: Path, serve: Serve) -> None:
    data = dataset()
    server = serve(FakeSnapshotServer(data))
    provision(server.url, tmp_path)
    data["members"][101] = data["members"][101][:4]
    with pytest.raises(ProtocolError, match="array of 9"):
        provision(server.url, tmp_path)
    db = open_db(tmp_path / DB_FILENAME)
    assert db["members"].count == 250
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]


def test_a_database_in_use_is_not_replaced(tmp_path: Path, serve: Serve) -> None:
    server = serve(FakeSnapshotServer(dataset()))
    provision(server.url, tmp_path)
    other = open_db(tmp_path / DB_FILENAME)  # the lane app, say
    try:
        with pytest.raises(StoreError, match="in use"):
            provision(server.url, tmp_path)
        assert other["members"].count == 250
    finally:
        other.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]


def test_a_row_that_does_not_fit_fails_the_load_and_stops_the_reader(
    tmp_path: Path, serve: Serve
) -> None:
    data = dataset(members=3000)
    server = serve(FakeSnapshotServer(data))
    provision(server.url, tmp_path)
    data["members"][150][1] = None  # display_name is NOT NULL: SQLite refuses it
    with pytest.raises(ProtocolError, match="members: the server's rows do not fit"):
        provision(server.url, tmp_path, page_limit=100)
    assert live_readers() == []
    member_pages = [r for r in server.requests if r.query.get("limit") == "100"]
    assert len(member_pages) < 3000 // 100  # it did not read on to the end
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]


def test_a_failing_load_stops_its_page_reader_at_once(tmp_path: Path, serve: Serve) -> None:
    fake = FakeSnapshotServer(dataset(members=3000))
    server = serve(fake)
    provision(server.url, tmp_path)
    before = set(threading.enumerate())

    def cancel(name: str, done: int, total: int) -> None:
        if name == "members":
            raise RuntimeError("cancelled by the technician")

    with pytest.raises(RuntimeError, match="cancelled"):
        provision(server.url, tmp_path, page_limit=100, progress=cancel)
    assert live_readers() == []
    extra = [t for t in set(threading.enumerate()) - before if "process_request" not in t.name]
    assert extra == []  # nothing but the scripted server's own connection threads
    # the reader was a bounded queue ahead of the inserts, not 30 pages ahead
    member_pages = [r for r in server.requests if r.path.endswith("/members")]
    assert 1 <= len(member_pages) - 1 <= 8
    db = open_db(tmp_path / DB_FILENAME)
    assert db["members"].count == 3000  # the old database
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILENAME]

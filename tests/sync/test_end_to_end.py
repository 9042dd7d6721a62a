"""The terminal's sync client against the real club server (uvicorn thread, SQLite file)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from club_server import cards as server_cards
from club_server import upserts as server_upserts
from clubcore.errors import EnrollmentError, TerminalRevokedError
from offline_store.db import DB_FILENAME
from offline_store.members import points_balance
from offline_store.reports import daily_report
from sync import open_client, provision, pull_changes, push_now, sync_once
from sync.enroll import enroll
from sync.http import SyncClient
from sync.pull import get_cursor
from sync.push import outbox_counts
from sync.reports import store_daily_report
from sync.worker import SyncWorker
from terminal.bootstrap import Terminal, bootstrap
from tests.sync.club import ClubServer, club  # noqa: F401  (the fixture)
from tests.sync.conftest import FAST


@pytest.fixture
def lane(club: ClubServer, tmp_path: Path) -> Iterator[Terminal]:  # noqa: F811
    """A terminal provisioned from the club server with its own enrollment code."""
    provision(tmp_path / "lane", club.url, club.new_code(), policy=FAST)
    terminal = bootstrap(tmp_path / "lane")
    yield terminal
    terminal.close()


def members_with_points(terminal: Terminal, count: int) -> list[str]:
    rows = terminal.db.execute(
        "SELECT member_no FROM members WHERE status = 'active' ORDER BY member_no LIMIT ?", [count]
    )
    return [str(r[0]) for r in rows]


def ring_up(terminal: Terminal, members: list[str | None]) -> list[str]:
    """One sale per entry (None: a non-member), each of two ordinary products."""
    sku = terminal.db.execute(
        "SELECT sku FROM products WHERE active AND NOT member_only ORDER BY sku LIMIT 1"
    ).fetchone()[0]
    ids = []
    for member in members:
        checkout = terminal.checkout()
        if member is not None:
            checkout.identify(member)
        checkout.add(sku, 3)
        ids.append(checkout.complete().sale_id)
    return ids


def test_provisioning_loads_the_store(club: ClubServer, lane: Terminal) -> None:  # noqa: F811
    db = lane.db
    assert db["members"].count == club.scalar("SELECT COUNT(*) FROM members") == 300
    assert db["products"].count == club.scalar("SELECT COUNT(*) FROM products") == 120
    sku, tier, price = club.rows("SELECT sku, tier, price FROM member_prices ORDER BY sku")[0]
    assert db["member_prices"].get((sku, tier))["price"] == price
    assert lane.store_id == "demo-store" and lane.terminal_id.startswith("t-")
    assert get_cursor(db) == club.scalar("SELECT MAX(seq) FROM changes")
    key = club.rows("SELECT key_id, public_key FROM card_keys")[0]
    assert db["card_keys"].get(key[0])["public_key"] == bytes.fromhex(key[1])
    mode = (lane.data_dir / "credential.json").stat().st_mode & 0o777
    assert mode == 0o600


def test_offline_sales_are_pushed_once_and_replays_double_nothing(
    club: ClubServer,  # noqa: F811
    lane: Terminal,
) -> None:
    members = members_with_points(lane, 2)
    ids = ring_up(lane, [members[0], members[1], None])
    with open_client(lane.db, lane.data_dir, policy=FAST) as client:
        result = sync_once(client, lane.db)
        assert (result.push.created, result.push.refused) == (3, 0)
        marks = ",".join(f"'{i}'" for i in ids)
        assert club.scalar(f"SELECT COUNT(*) FROM sales WHERE sale_id IN ({marks})") == 3
        ledger = club.scalar(f"SELECT COUNT(*) FROM points_ledger WHERE sale_id IN ({marks})")
        assert ledger == lane.db["points_ledger"].count >= 2
        for member in members:  # the lane's balance equals the server's ledger sum
            server = club.scalar(
                "SELECT points_balance FROM members WHERE member_no = :m", m=member
            )
            assert points_balance(lane.db, member) == server
        lane.db.execute("UPDATE outbox SET sent_at = NULL")  # replay everything
        replay = push_now(client, lane.db)
    assert (replay.created, replay.duplicate) == (0, 3)
    assert club.scalar(f"SELECT COUNT(*) FROM sales WHERE sale_id IN ({marks})") == 3
    assert club.scalar(f"SELECT COUNT(*) FROM points_ledger WHERE sale_id IN ({marks})") == ledger
    assert outbox_counts(lane.db) == (0, 0, 0)


def test_the_lane_and_the_server_report_the_same_sales_in_the_same_currency(
    club: ClubServer,  # noqa: F811
    lane: Terminal,
) -> None:
    day = lane.local_now().date()
    with open_client(lane.db, lane.data_dir, policy=FAST) as client:
        before = store_daily_report(client, day)  # other tests' lanes share the store
        ring_up(lane, [members_with_points(lane, 1)[0], None])
        own = daily_report(lane.db, day, lane.settings.currency_name)
        sync_once(client, lane.db)
        after = store_daily_report(client, day)
    currency = club.scalar("SELECT value FROM settings WHERE key = 'currency'")
    assert own.currency == after.currency == currency
    assert after.sales_count - before.sales_count == own.sales_count == 2
    assert after.total - before.total == own.total


def test_a_different_body_for_a_known_sale_is_a_conflict_kept_aside(
    club: ClubServer,  # noqa: F811
    lane: Terminal,
) -> None:
    (sale_id,) = ring_up(lane, [None])
    with open_client(lane.db, lane.data_dir, policy=FAST) as client:
        push_now(client, lane.db)
        payload = json.loads(lane.db["outbox"].get(1)["payload"])
        payload["total"] += 1
        lane.db.execute(
            "UPDATE outbox SET sent_at = NULL, payload = ? WHERE idempotency_key = ?",
            [json.dumps(payload), sale_id],
        )
        result = push_now(client, lane.db)
        assert result.refused == 1
        assert push_now(client, lane.db).batches == 0  # never retried
    row = lane.db["outbox"].get(1)
    assert row["refused_at"] and row["last_error"].startswith("conflict")
    total = club.scalar("SELECT total FROM sales WHERE sale_id = :s", s=sale_id)
    assert total == payload["total"] - 1


def test_deltas_follow_server_changes_and_the_cursor_only_advances(
    club: ClubServer,  # noqa: F811
    lane: Terminal,
) -> None:
    before = get_cursor(lane.db)
    assert before is not None
    serial, sku = "900100", "P000010"
    serial = club.rows("SELECT serial FROM cards ORDER BY serial DESC")[0][0]
    with club.writing() as conn:
        server_cards.revoke_card(conn, serial, "stolen", datetime.now(UTC))
        server_upserts.upsert(conn, "products", {"sku": sku, "list_price": 123_450})
    with open_client(lane.db, lane.data_dir, policy=FAST) as client:
        result = pull_changes(client, lane.db, limit=1)
        assert result.changes >= 2 and result.pages >= 2
        assert result.cursor > before and get_cursor(lane.db) == result.cursor
        assert lane.db["denylist"].get(serial)["reason"] == "stolen"
        assert lane.db["products"].get(sku)["list_price"] == 123_450
        again = pull_changes(client, lane.db)
    assert again.changes == 0 and again.cursor == result.cursor


def test_a_revoked_terminal_is_refused_and_the_workers_say_so(
    club: ClubServer,  # noqa: F811
    lane: Terminal,
) -> None:
    ring_up(lane, [None])
    club.revoke(lane.terminal_id)
    with (
        open_client(lane.db, lane.data_dir, policy=FAST) as client,
        pytest.raises(TerminalRevokedError, match="revoked"),
    ):
        sync_once(client, lane.db)
    worker = SyncWorker(
        lane.data_dir / DB_FILENAME,
        lambda: open_client(lane.db, lane.data_dir, policy=FAST),
        push_interval=0.05,
        pull_interval=0.05,
    )
    worker.start()
    deadline = time.monotonic() + 10
    while worker.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop()
    assert worker.board.status.revoked and worker.board.status.pending == 1


def test_enrollment_codes_work_once_and_expire(club: ClubServer) -> None:  # noqa: F811
    client = SyncClient(club.url, policy=FAST)
    code = club.new_code()
    enroll(client, code.lower().replace("-", " "))  # as a technician might type it
    with pytest.raises(EnrollmentError, match="used already") as used:
        enroll(client, code)
    assert used.value.code == "code-used" and used.value.hint and "new code" in used.value.hint
    with pytest.raises(EnrollmentError, match="expired"):
        enroll(client, club.new_code(age=timedelta(days=2)))
    with pytest.raises(EnrollmentError, match="does not know"):
        enroll(client, "AAAA-BBBB-CCCC")
    with pytest.raises(EnrollmentError, match="malformed"):
        enroll(client, "nope")

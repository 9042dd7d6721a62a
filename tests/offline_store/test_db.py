from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils

from clubcore.errors import MigrationError, StoreConfigError, StoreError
from offline_store import migrations
from offline_store.db import Checkpointer, check_durability, open_db


def test_every_connection_is_wal_and_synchronous_full(db_path: Path) -> None:
    for _ in range(2):
        db = open_db(db_path)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        db.close()


def test_a_connection_that_cannot_be_durable_is_refused() -> None:
    with pytest.raises(StoreConfigError, match="journal_mode"):
        open_db(":memory:")  # in-memory databases cannot use WAL


def test_check_durability_notices_a_weakened_connection(fresh_db: sqlite_utils.Database) -> None:
    fresh_db.execute("PRAGMA synchronous = NORMAL")
    with pytest.raises(StoreConfigError, match="synchronous"):
        check_durability(fresh_db)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "terminal.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        open_db(path)


def test_migrations_are_recorded_and_idempotent(fresh_db: sqlite_utils.Database) -> None:
    assert migrations.schema_version(fresh_db) == migrations.MIGRATIONS[-1].version
    assert migrations.migrate(fresh_db) == []
    rows = list(fresh_db["schema_migrations"].rows)
    assert [r["version"] for r in rows] == [m.version for m in migrations.MIGRATIONS]


def test_a_newer_database_is_refused(fresh_db: sqlite_utils.Database) -> None:
    fresh_db.execute("INSERT INTO schema_migrations VALUES (999, 'from the future', 'x')")
    with pytest.raises(MigrationError, match="newer than this program"):
        migrations.migrate(fresh_db)


def test_a_failing_migration_is_rolled_back(
    fresh_db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half_done (x)")
        db.execute("THIS IS NOT SQL")

    bad = migrations.Migration(migrations.MIGRATIONS[-1].version + 1, "broken", broken)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, bad))
    with pytest.raises(MigrationError, match=f"migration {bad.version}"):
        migrations.migrate(fresh_db)
    assert "half_done" not in fresh_db.table_names()
    assert migrations.schema_version(fresh_db) == bad.version - 1


def _write_batches(db: sqlite_utils.Database, wal: Path, between: Callable[[], object]) -> int:
    """Write about 16 MB in 32 transactions; return the largest WAL size seen."""
    largest = 0
    for batch in range(32):
        with db.atomic():
            db.conn.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)",
                [(f"k{batch}-{i}", "x" * 1_000) for i in range(500)],
            )
        largest = max(largest, wal.stat().st_size)
        between()
    return largest


def test_background_checkpoints_keep_the_wal_bounded_and_lose_nothing(tmp_path: Path) -> None:
    # control: automatic checkpoints off and no checkpointer -> the WAL grows with every write
    control = open_db(tmp_path / "control.db")
    control.execute("PRAGMA wal_autocheckpoint = 0")
    grown = _write_batches(control, tmp_path / "control.db-wal", lambda: None)
    control.close()
    assert grown > 12 * 2**20

    path = tmp_path / "terminal.db"
    db = open_db(path)
    checkpointer = Checkpointer(path, interval=0.02)
    checkpointer.start(db)
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    bounded = _write_batches(db, tmp_path / "terminal.db-wal", checkpointer.wait_round)
    checkpointer.stop()
    db.close()
    assert bounded < 4 * 2**20, bounded  # reused after each checkpoint
    again = open_db(path)
    assert again.execute("SELECT COUNT(*) FROM settings").fetchone()[0] == 32 * 500
    assert again.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again.close()


def _lane_db_at(version: int, path: Path, monkeypatch: pytest.MonkeyPatch) -> sqlite_utils.Database:
    """A lane database as the program of schema ``version`` left it."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:version])
        return open_db(path)


def test_a_version_2_lane_database_gains_offer_translations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _lane_db_at(2, tmp_path / "lane.db", monkeypatch)
    old.execute("INSERT INTO offers (offer_id, title, percent_bp) VALUES ('OLD', 'Old', 500)")
    old.close()
    db = open_db(tmp_path / "lane.db", migrate=False)
    assert migrations.schema_version(db) == 2
    assert migrations.migrate(db)[0] == 3
    assert db.execute("SELECT texts FROM offers").fetchone()[0] == "{}"
    db.close()


def test_a_version_3_lane_database_sets_refused_sales_points_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _lane_db_at(3, tmp_path / "lane.db", monkeypatch)
    old.execute(
        "INSERT INTO members (member_no, display_name, tier, updated_at) "
        "VALUES ('M1', 'A', 'gold', 'x')"
    )
    for sale_id, refused in (("S1", "x"), ("S2", None)):
        old.execute(
            "INSERT INTO sales (sale_id, kind, terminal_id, store_id, created_at, "
            "business_date, hour, rules_version, currency, subtotal_list, member_discount, "
            "subtotal, points_redeemed, points_discount, total, points_earned, tender) "
            "VALUES (?, 'sale', 'T', 'S', 'x', 'x', 9, 1, 'IRT', 0, 0, 0, 0, 0, 0, 5, 'cash')",
            [sale_id],
        )
        old.execute(
            "INSERT INTO points_ledger (member_no, kind, points, sale_id, created_at) "
            "VALUES ('M1', 'earn', 5, ?, 'x')",
            [sale_id],
        )
        old.execute(
            "INSERT INTO outbox (idempotency_key, kind, payload, created_at, refused_at) "
            "VALUES (?, 'sale', '{}', 'x', ?)",
            [sale_id, refused],
        )
    old.close()
    db = open_db(tmp_path / "lane.db", migrate=False)
    assert migrations.migrate(db) == [4, 5, 6]
    states = dict(db.execute("SELECT sale_id, state FROM points_ledger").fetchall())
    assert states == {"S1": "refused", "S2": "pending"}
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.execute(  # ids go on from where they were
        "INSERT INTO points_ledger (member_no, kind, points, sale_id, created_at) "
        "VALUES ('M1', 'earn', 1, 'S2', 'x')"
    )
    assert db.execute("SELECT max(entry_id) FROM points_ledger").fetchone()[0] == 3
    db.close()


def test_a_version_4_lane_database_turns_sales_it_took_as_refused_into_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version 4 program recorded a ``held`` answer as refused with ``held: <why>``."""
    old = _lane_db_at(4, tmp_path / "lane.db", monkeypatch)
    old.execute(
        "INSERT INTO members (member_no, display_name, tier, updated_at) "
        "VALUES ('M1', 'A', 'gold', 'x')"
    )
    entries = {  # sale id -> (refused_at, last_error, ledger state)
        "S1": ("t1", "held: 30000 points earned by M1 on 2026-11-22, over 25000 a day", "refused"),
        "S2": ("t2", "rejected: does not add up", "refused"),
        "S3": (None, None, "pending"),
    }
    for sale_id, (refused_at, error, state) in entries.items():
        old.execute(
            "INSERT INTO sales (sale_id, kind, terminal_id, store_id, created_at, "
            "business_date, hour, rules_version, currency, subtotal_list, member_discount, "
            "subtotal, points_redeemed, points_discount, total, points_earned, tender) "
            "VALUES (?, 'sale', 'T', 'S', 'x', 'x', 9, 1, 'IRT', 0, 0, 0, 0, 0, 0, 5, 'cash')",
            [sale_id],
        )
        old.execute(
            "INSERT INTO points_ledger (member_no, kind, points, sale_id, created_at, state) "
            "VALUES ('M1', 'earn', 5, ?, 'x', ?)",
            [sale_id, state],
        )
        old.execute(
            "INSERT INTO outbox (idempotency_key, kind, payload, created_at, refused_at, "
            "last_error) VALUES (?, 'sale', '{}', 'x', ?, ?)",
            [sale_id, refused_at, error],
        )
    old.close()
    db = open_db(tmp_path / "lane.db", migrate=False)
    assert migrations.migrate(db) == [5, 6]
    states = dict(db.execute("SELECT sale_id, state FROM points_ledger").fetchall())
    assert states == {"S1": "held", "S2": "refused", "S3": "pending"}
    rows = {
        row[0]: row[1:]
        for row in db.execute("SELECT idempotency_key, sent_at, refused_at, held FROM outbox")
    }
    assert rows == {
        "S1": ("t1", None, "30000 points earned by M1 on 2026-11-22, over 25000 a day"),
        "S2": (None, "t2", None),
        "S3": (None, None, None),
    }
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM outbox WHERE held IS NOT NULL"
    ).fetchall()
    assert "outbox_held" in str(plan)
    db.close()


def test_a_migration_script_keeps_a_trigger_body_whole(fresh_db: sqlite_utils.Database) -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE audit_demo (note TEXT NOT NULL DEFAULT 'a;b');
    CREATE TABLE audit_log (note TEXT);
    CREATE TRIGGER audit_demo_copy AFTER INSERT ON audit_demo
    BEGIN
        INSERT INTO audit_log (note) VALUES (NEW.note);
        INSERT INTO audit_log (note) VALUES ('twice; really');
    END;
    """
    assert len(migrations._statements(script)) == 3
    with fresh_db.atomic():
        migrations._script(script)(fresh_db)
        fresh_db.execute("INSERT INTO audit_demo DEFAULT VALUES")
    notes = [row[0] for row in fresh_db.execute("SELECT note FROM audit_log ORDER BY rowid")]
    assert notes == ["a;b", "twice; really"]

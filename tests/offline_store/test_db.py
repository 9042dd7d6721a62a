from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from clubcore.errors import MigrationError, StoreConfigError, StoreError
from offline_store import migrations
from offline_store.db import check_durability, open_db


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

    bad = migrations.Migration(2, "broken", broken)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, bad))
    with pytest.raises(MigrationError, match="migration 2"):
        migrations.migrate(fresh_db)
    assert "half_done" not in fresh_db.table_names()
    assert migrations.schema_version(fresh_db) == 1

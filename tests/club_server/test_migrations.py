"""Schema migrations and database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from club_server.db import Database, normalise_url, open_database
from club_server.migrations import MIGRATIONS, migrate, schema_version
from clubcore.errors import ConfigError, MigrationError


def test_migrations_are_recorded_once(database: Database) -> None:
    assert migrate(database) == []
    with database.reading() as conn:
        assert schema_version(conn) == MIGRATIONS[-1].version
    tables = set(inspect(database.engine).get_table_names())
    assert {"members", "changes", "sales", "points_ledger", "flags", "schema_migrations"} <= tables


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = open_database(str(tmp_path / "club.db"))
    with db.writing() as conn:
        conn.execute(text("INSERT INTO schema_migrations VALUES (99, 'future', 'now')"))
    with pytest.raises(MigrationError, match="newer"):
        migrate(db)
    db.dispose()


def test_urls() -> None:
    assert normalise_url("/tmp/x.db") == "sqlite:////tmp/x.db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigError):
        normalise_url("mysql://u@h/db")


def test_a_version_2_database_gains_offer_translations(database: Database) -> None:
    with database.writing() as conn:  # back to what a version-2 server left behind
        conn.execute(text("ALTER TABLE offers DROP COLUMN texts"))
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 3"))
        conn.execute(
            text(
                "INSERT INTO offers (offer_id, title, message, percent_bp, stacks) "
                "VALUES ('OLD', 'Old offer', '', 500, 0)"
            )
        )
    assert migrate(database) == [3]
    with database.reading() as conn:
        assert conn.execute(text("SELECT texts FROM offers")).scalar_one() == "{}"
    assert migrate(database) == []

"""Schema migrations and database URLs."""

from __future__ import annotations

import json
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
        conn.execute(text("DELETE FROM schema_migrations WHERE version >= 3"))
        conn.execute(
            text(
                "INSERT INTO offers (offer_id, title, message, percent_bp, stacks) "
                "VALUES ('OLD', 'Old offer', '', 500, 0)"
            )
        )
    assert migrate(database) == [3, 4]  # 4 finds its work done: step 1 made today's tables
    with database.reading() as conn:
        assert conn.execute(text("SELECT texts FROM offers")).scalar_one() == "{}"
    assert migrate(database) == []


def test_a_version_3_database_gains_sale_references(database: Database) -> None:
    with database.writing() as conn:  # back to what a version-3 server left behind
        for index in ("sales_ref", "sales_member_day"):
            conn.execute(text(f"DROP INDEX {index}"))
        conn.execute(text("ALTER TABLE sales DROP COLUMN ref_sale_id"))
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 4"))
        for sale_id, kind, ref in (("S1", "sale", None), ("R1", "refund", "S1")):
            body = json.dumps({"sale_id": sale_id, "kind": kind, "ref_sale_id": ref})
            conn.execute(
                text(
                    "INSERT INTO sales (sale_id, terminal_id, store_id, body_hash, payload, kind, "
                    "created_at, business_date, hour, subtotal_list, member_discount, "
                    "points_discount, total, points_earned, points_redeemed, received_at) "
                    "VALUES (:id, 't', 's', 'h', :body, :kind, 'x', '2026-11-22', 9, "
                    "0, 0, 0, 0, 0, 0, 'x')"
                ),
                {"id": sale_id, "body": body, "kind": kind},
            )
    assert migrate(database) == [4]
    with database.reading() as conn:
        refs = dict(conn.execute(text("SELECT sale_id, ref_sale_id FROM sales")).all())
    assert refs == {"S1": None, "R1": "S1"}
    indexes = {i["name"] for i in inspect(database.engine).get_indexes("sales")}
    assert {"sales_ref", "sales_member_day", "sales_store_day"} <= indexes
    assert migrate(database) == []

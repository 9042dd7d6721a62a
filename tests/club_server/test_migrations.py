"""Schema migrations (Alembic): fresh databases, real old ones, drift, refusals, URLs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, Table, Text, inspect, select, text

from club_server.alembic.legacy import LEGACY_REVISIONS
from club_server.db import Database, normalise_url, open_database
from club_server.migrations import (
    head_revision,
    legacy_version,
    migrate,
    pending_revisions,
    revisions,
    schema_drift,
    schema_revision,
)
from club_server.schema import changes, metadata
from clubcore.errors import ConfigError, MigrationError
from tests.club_server.conftest import _postgres_database
from tests.club_server.fixtures import RELEASED_STEPS, ROWS, load

ALL = [script.revision for script in revisions()]


@pytest.fixture
def head_database(db_url: str, tmp_path: Path) -> Iterator[Database]:
    """A second fresh database at head, on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        db = open_database(str(tmp_path / "head.db"))
        yield db
        db.dispose()
        return
    urls = _postgres_database()
    try:
        db = open_database(next(urls))
        yield db
        db.dispose()
    finally:
        urls.close()  # drops it


def shape(database: Database) -> dict[str, Any]:
    """Every table's columns (in order), primary key and indexes, as the database reports them."""
    inspector = inspect(database.engine)
    tables = {}
    for name in sorted(inspector.get_table_names()):
        columns = [
            (c["name"], str(c["type"]), c["nullable"], c.get("default"))
            for c in inspector.get_columns(name)
        ]
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes(name)
        )
        primary_key = inspector.get_pk_constraint(name)["constrained_columns"]
        tables[name] = {"columns": columns, "primary_key": primary_key, "indexes": indexes}
    return tables


def test_a_fresh_database_is_at_head_with_no_drift(database: Database) -> None:
    assert migrate(database) == []
    with database.reading() as conn:
        assert schema_revision(conn) == head_revision() == ALL[-1]
        assert legacy_version(conn) == 5  # older programs refuse it
        assert pending_revisions(conn) == []
        assert schema_drift(conn) == []
    tables = set(inspect(database.engine).get_table_names())
    assert tables == {*metadata.tables, "alembic_version"}


def test_the_drift_check_reports_what_the_models_add(database: Database) -> None:
    models = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(models)
    models.tables["members"].append_column(Column("nickname", Text))
    Table("loyalty_notes", models, Column("note_id", Text, primary_key=True))
    with database.reading() as conn:
        diffs = schema_drift(conn, models)
    kinds = {(d[0], d[2] if d[0] == "add_column" else d[1].name) for d in diffs}
    assert kinds == {("add_column", "members"), ("add_table", "loyalty_notes")}
    [added] = [d for d in diffs if d[0] == "add_column"]
    assert added[3].name == "nickname"


@pytest.mark.parametrize("version", sorted(RELEASED_STEPS))
def test_a_database_of_a_released_step_upgrades_to_head(
    db_url: str, head_database: Database, version: int
) -> None:
    load(version, db_url)
    old = open_database(db_url, migrate=False)
    with old.reading() as conn:
        assert (schema_revision(conn), legacy_version(conn)) == (None, version)
    old.dispose()
    database = open_database(db_url)
    try:
        with database.reading() as conn:
            assert schema_revision(conn) == head_revision()
            assert schema_drift(conn) == []
            versions = conn.execute(text("SELECT version FROM schema_migrations")).scalars()
            assert sorted(versions) == [1, 2, 3, 4, 5]
        assert shape(database) == shape(head_database)
        _assert_rows_survived(database, version)
        with database.writing() as conn:  # the sequences went on from where they were
            new = conn.execute(changes.insert().values(entity="members", key="x"))
            assert new.inserted_primary_key == (len(ROWS["changes"]) + 1,)
    finally:
        database.dispose()


def _assert_rows_survived(database: Database, version: int) -> None:
    for name, rows in ROWS.items():
        if name == "terminal_credential_rotations" and version < 2:
            rows = []  # the table came with step 2
        expected = [dict(row) for row in rows]
        if name == "offers" and version < 3:
            expected = [{**row, "texts": "{}"} for row in expected]
        table = metadata.tables[name]
        with database.reading() as conn:
            found = [dict(r._mapping) for r in conn.execute(select(table))]
        keep = {key for row in expected for key in row}
        found = [{k: v for k, v in row.items() if k in keep} for row in found]
        assert sorted(found, key=repr) == sorted(expected, key=repr), name


def test_the_upgrade_applies_what_each_step_lacks(db_url: str) -> None:
    load(2, db_url)
    database = open_database(db_url, migrate=False)
    try:
        with database.reading() as conn:
            assert pending_revisions(conn) == [r for r in ALL if r > LEGACY_REVISIONS[2]]
        assert migrate(database) == ALL[2:]
        assert migrate(database) == []
    finally:
        database.dispose()


def test_a_failed_revision_changes_nothing(db_url: str) -> None:
    load(3, db_url)
    broken = open_database(db_url, migrate=False)
    with broken.writing() as conn:  # revision 0004 reads the returns' bodies
        conn.execute(text("UPDATE sales SET payload = 'not json' WHERE kind = 'refund'"))
    with pytest.raises(MigrationError, match="nothing was changed"):
        migrate(broken)
    with broken.reading() as conn:
        assert (schema_revision(conn), legacy_version(conn)) == (None, 3)
        assert "ref_sale_id" not in {c["name"] for c in inspect(conn).get_columns("sales")}
    broken.dispose()


def test_a_newer_database_is_refused(database: Database) -> None:
    with database.writing() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(MigrationError, match=r"revision 9999.*newer program"):
        migrate(database)
    with database.writing() as conn:  # an old runner's record from the future
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO schema_migrations VALUES (99, 'future', 'now')"))
    with pytest.raises(MigrationError, match="old schema version 99"):
        migrate(database)


def test_concurrent_starts_migrate_once(db_url: str) -> None:
    barrier = threading.Barrier(3)
    opened: list[Database] = []
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            opened.append(open_database(db_url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    with opened[0].reading() as conn:
        versions = conn.execute(text("SELECT version FROM schema_migrations")).scalars()
        assert sorted(versions) == [1, 2, 3, 4, 5]
        assert schema_revision(conn) == head_revision()
    for database in opened:
        database.dispose()


def test_urls() -> None:
    assert normalise_url("/tmp/x.db") == "sqlite:////tmp/x.db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigError):
        normalise_url("mysql://u@h/db")

"""Versioned schema migrations of the club server's database.

Each step has a number and a name, runs in its own transaction (DDL is
transactional on both SQLite and PostgreSQL) and is recorded in
``schema_migrations``. Steps are append-only. Step 1 creates the tables of
:mod:`club_server.schema` as they are *now*, so every later step must be a
no-op where its change is already there (a table created ``checkfirst``, a
column added only when missing): a new database gets the current schema in
step 1 and skips through the rest; an old one gets each change once. A step
that cannot be written that way (a changed column type, a dropped column)
must first freeze step 1 to a copy of the definitions it replaces.

A database whose recorded version is newer than the newest step here is
refused. On PostgreSQL the writers' advisory lock (taken by
:meth:`Database.writing`) makes concurrent starts migrate one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from club_server.db import Database
from club_server.schema import metadata
from clubcore.errors import MigrationError

__all__ = ["MIGRATIONS", "Migration", "migrate", "schema_version"]

_meta = MetaData()
schema_migrations = Table(
    "schema_migrations",
    _meta,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("applied_at", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    metadata.create_all(conn)


def _credential_rotations(conn: Connection) -> None:
    from club_server.lifecycle import credential_rotations

    credential_rotations.create(conn, checkfirst=True)


def _offer_texts(conn: Connection) -> None:
    if "texts" not in {c["name"] for c in inspect(conn).get_columns("offers")}:
        conn.execute(text("ALTER TABLE offers ADD COLUMN texts TEXT NOT NULL DEFAULT '{}'"))


def _sale_references(conn: Connection) -> None:
    """``sales.ref_sale_id`` (filled in from the stored bodies) and the checks' indexes."""
    from club_server.schema import sales

    if "ref_sale_id" not in {c["name"] for c in inspect(conn).get_columns("sales")}:
        conn.execute(text("ALTER TABLE sales ADD COLUMN ref_sale_id TEXT"))
        returns = conn.execute(
            select(sales.c.sale_id, sales.c.payload).where(sales.c.kind.in_(["void", "refund"]))
        ).all()
        for sale_id, payload in returns:
            ref = json.loads(payload).get("ref_sale_id")
            conn.execute(sales.update().where(sales.c.sale_id == sale_id).values(ref_sale_id=ref))
    for index in sales.indexes:
        index.create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema (protocol v1)", _initial),
    Migration(2, "pending terminal credential rotations", _credential_rotations),
    Migration(3, "offer translations", _offer_texts),
    Migration(4, "sale references and the sale checks' indexes", _sale_references),
)


def schema_version(conn: Connection) -> int:
    """The newest applied step, 0 for an empty database."""
    return int(conn.execute(select(func.max(schema_migrations.c.version))).scalar() or 0)


def migrate(database: Database) -> list[int]:
    """Apply every pending step, each in its own transaction.

    Returns:
        the versions applied now (empty when up to date).

    Raises:
        MigrationError: a step failed (it is rolled back), or the database is
            newer than this program.
    """
    with database.writing() as conn:
        _meta.create_all(conn)
    applied: list[int] = []
    for step in MIGRATIONS:
        try:
            with database.writing() as conn:
                current = schema_version(conn)
                if current > MIGRATIONS[-1].version:
                    raise MigrationError(
                        f"the database is at schema version {current}, "
                        f"newer than this program ({MIGRATIONS[-1].version})"
                    )
                if step.version <= current:
                    continue
                step.apply(conn)
                conn.execute(
                    schema_migrations.insert().values(
                        version=step.version,
                        name=step.name,
                        applied_at=datetime.now(UTC).isoformat(),
                    )
                )
        except SQLAlchemyError as exc:
            raise MigrationError(f"migration {step.version} ({step.name}) failed: {exc}") from exc
        applied.append(step.version)
    return applied

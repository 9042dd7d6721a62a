"""The club server's schema migrations, run by Alembic.

The revisions live in ``club_server/alembic/versions/``, one per schema
change, and the models (:data:`club_server.schema.metadata`) must equal what
they build: :func:`schema_drift` compares the two, and a test runs it on
both backends. :func:`migrate` (called by
:func:`club_server.db.open_database`) brings a database to the newest
revision, the *head*:

- an empty database gets every revision;
- a database of the runner used before Alembic (a ``schema_migrations``
  table, no ``alembic_version``) is first stamped at the revision of its
  recorded version (:data:`~club_server.alembic.legacy.LEGACY_REVISIONS`),
  then upgraded;
- a database at a revision (or old version) this program does not know, made
  by a newer program, is refused.

It all runs in one write transaction (:meth:`Database.writing`: ``BEGIN
IMMEDIATE`` on SQLite, the writers' advisory lock on PostgreSQL), so
concurrent starts migrate one at a time and a failed revision leaves the
database as it was. Alembic is configured here in code from the connection;
there is no ``alembic.ini``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, MetaData, func, inspect, select

from club_server.alembic.legacy import LEGACY_REVISIONS
from club_server.db import Database
from club_server.schema import metadata, schema_migrations
from clubcore.errors import MigrationError

__all__ = [
    "SchemaStatus",
    "alembic_config",
    "head_revision",
    "legacy_version",
    "migrate",
    "pending_revisions",
    "revisions",
    "schema_drift",
    "schema_revision",
    "schema_status",
]

SCRIPTS = Path(__file__).parent / "alembic"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our scripts, running on ``connection`` (see ``env.py``)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def revisions() -> list[Script]:
    """Every revision, oldest first."""
    return list(reversed(list(_scripts().walk_revisions())))


def head_revision() -> str:
    """The newest revision this program knows."""
    head = _scripts().get_current_head()
    assert head is not None, "no revisions"
    return head


def schema_revision(conn: Connection) -> str | None:
    """The database's Alembic revision, None when it has none (empty, or of the old runner)."""
    return MigrationContext.configure(conn).get_current_revision()


def legacy_version(conn: Connection) -> int | None:
    """The old runner's newest step in ``schema_migrations`` (0: none), None without the table."""
    if not inspect(conn).has_table(schema_migrations.name):
        return None
    return int(conn.execute(select(func.max(schema_migrations.c.version))).scalar() or 0)


def _start(conn: Connection) -> str | None:
    """The revision the database is at, from ``alembic_version`` or the old runner's record.

    Raises:
        MigrationError: a revision or old version this program does not know.
    """
    current = schema_revision(conn)
    if current is None:
        legacy = legacy_version(conn)
        if not legacy:
            return None
        if legacy not in LEGACY_REVISIONS:
            raise MigrationError(
                f"the database is at the old schema version {legacy}, "
                "which this program does not know (was it made by a newer one?)"
            )
        return LEGACY_REVISIONS[legacy]
    if current not in {script.revision for script in revisions()}:
        raise MigrationError(
            f"the database is at schema revision {current}, which this program does not know: "
            f"it was made by a newer program (this one knows up to {head_revision()})"
        )
    return current


def _after(start: str | None) -> list[str]:
    names = [script.revision for script in revisions()]
    return names[names.index(start) + 1 :] if start else names


def pending_revisions(conn: Connection) -> list[str]:
    """The revisions :func:`migrate` would apply, oldest first.

    Raises:
        MigrationError: the database is newer than this program.
    """
    return _after(_start(conn))


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands, for ``club-server db current``."""

    #: its Alembic revision (None: empty, or of the old runner)
    revision: str | None
    #: the old runner's newest step (None: no ``schema_migrations`` table)
    legacy_version: int | None
    #: the newest revision this program knows
    head: str
    #: what :func:`migrate` would apply; None when the database is newer than this program
    pending: list[str] | None


def schema_status(conn: Connection) -> SchemaStatus:
    """Where the database's schema stands (reads only)."""
    try:
        pending: list[str] | None = pending_revisions(conn)
    except MigrationError:
        pending = None
    return SchemaStatus(schema_revision(conn), legacy_version(conn), head_revision(), pending)


def migrate(database: Database) -> list[str]:
    """Bring the schema to the head revision, in one write transaction.

    Returns:
        the revisions applied now, oldest first (empty when up to date).

    Raises:
        MigrationError: the database is newer than this program, or a
            revision failed (then nothing was changed).
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached.
    """
    with database.writing() as conn:
        start = _start(conn)
        pending = _after(start)
        if pending:
            _upgrade(conn, start)
    return pending


def _upgrade(conn: Connection, start: str | None) -> None:
    """Stamp a database of the old runner at ``start``, then upgrade it to head.

    Raises:
        MigrationError: a revision failed (the caller's transaction rolls it back).
    """
    config = alembic_config(conn)
    try:
        if start is not None and schema_revision(conn) is None:
            command.stamp(config, start)
        command.upgrade(config, "head")
    except Exception as exc:  # a revision may fail in any way; it is rolled back all the same
        raise MigrationError(f"upgrading the schema failed, nothing was changed: {exc}") from exc


def schema_drift(conn: Connection, target: MetaData = metadata) -> list[Any]:
    """How the database's schema differs from ``target`` (Alembic's autogenerate diffs).

    Empty when they agree: every table, column (type, nullability), index and
    primary key and server default the same. ``alembic_version`` is not compared.
    """
    options = {"compare_type": True, "compare_server_default": True}
    context = MigrationContext.configure(conn, opts=options)
    diffs: list[Any] = compare_metadata(context, target)
    return diffs

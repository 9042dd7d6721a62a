"""The club server's database: SQLite (a file, the default) or PostgreSQL.

:func:`open_database` turns a URL into a :class:`Database`:

==================================  =========================================
``--db`` / ``CLUB_SERVER_DB``       meaning
==================================  =========================================
``sqlite:///path/to/club.db``       a SQLite file (WAL, ``synchronous=FULL``)
``/path/to/club.db`` (no scheme)    the same
``postgresql://user@host/db``       PostgreSQL through psycopg 3
==================================  =========================================

Writes go through :meth:`Database.writing`: one transaction, ``BEGIN
IMMEDIATE`` on SQLite (writers queue instead of failing to upgrade a lock)
and a transaction-level advisory lock on PostgreSQL. The lock serialises
writers so that change-log sequence numbers become visible in commit order: a
delta reader can never skip a ``seq`` that commits after a larger one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from clubcore.errors import ConfigError

__all__ = ["DB_ENV", "Database", "default_db_url", "normalise_url", "open_database"]

DB_ENV = "CLUB_SERVER_DB"
#: the advisory lock every PostgreSQL writer takes (arbitrary, fixed)
WRITE_LOCK_KEY = 0x636C7562


def default_db_url() -> str:
    """A SQLite file in the per-user data directory."""
    path = Path(platformdirs.user_data_dir("club-server")) / "club-server.db"
    return f"sqlite:///{path}"


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL for ``url`` (a path, ``sqlite:`` or ``postgresql:`` URL).

    Raises:
        ConfigError: an unsupported or malformed URL.
    """
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if scheme == "sqlite":
        return url
    raise ConfigError(
        "db",
        f"unsupported database URL scheme {scheme!r}",
        hint="use sqlite:///PATH or postgresql://USER@HOST/DB",
    )


@dataclass
class Database:
    """An engine and the few dialect differences the server cares about."""

    engine: Engine
    url: str

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None (PostgreSQL or in-memory)."""
        database = make_url(self.url).database
        if self.is_postgres or not database or database == ":memory:":
            return None
        return Path(database)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        with self.engine.connect() as conn:
            conn.execution_options(club_write=True)
            with conn.begin():
                if self.is_postgres:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
                yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction (one consistent view on both backends).

        PostgreSQL's default, READ COMMITTED, gives each statement its own
        view; a read of several statements (a delta page: its log, then its
        rows) runs at REPEATABLE READ to see one moment. SQLite's read
        transaction is one view already.
        """
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def bulk_insert(
        self,
        conn: Connection,
        table: Table,
        rows: Iterable[Sequence[Any]],
        columns: Sequence[str] | None = None,
    ) -> None:
        """Insert many rows as fast as the backend allows (COPY, or ``executemany``).

        Arguments:
            conn: a connection in a write transaction.
            table: the table.
            rows: tuples in the order of ``columns``.
            columns: the column names; default all of the table's, in order.
        """
        columns = list(columns or [c.name for c in table.columns])
        if self.is_postgres:
            _copy(conn, table.name, columns, rows)
        else:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            conn.exec_driver_sql(sql, list(rows))

    def optimize(self) -> None:
        """Refresh the planner's statistics after a bulk load (outside any transaction).

        PostgreSQL: ``VACUUM ANALYZE`` (also sets the rows' visibility hints, so
        the first snapshot does not pay for that); SQLite: ``ANALYZE``.
        """
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )
            else:
                conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()


def _copy(conn: Connection, table: str, columns: list[str], rows: Iterable[Sequence[Any]]) -> None:
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (DDL included)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("club_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def open_database(url: str | None = None, *, migrate: bool = True) -> Database:
    """Connect to ``url`` (default: :func:`default_db_url`) and apply pending migrations.

    Arguments:
        url: see the table above.
        migrate: bring the schema to the newest revision
            (:func:`club_server.migrations.migrate`); False only to look at it.

    Raises:
        ConfigError: a malformed or unsupported URL.
        MigrationError: the schema could not be brought up to date.
    """
    from club_server import migrations  # the migrations use this module

    full = normalise_url(url or default_db_url())
    try:
        if full.startswith("sqlite"):
            path = make_url(full).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = _sqlite_engine(full)
        else:
            engine = create_engine(full, pool_pre_ping=True)
    except ArgumentError as exc:
        raise ConfigError("db", f"malformed database URL: {exc}") from exc
    database = Database(engine, full)
    if migrate:
        migrations.migrate(database)
    return database

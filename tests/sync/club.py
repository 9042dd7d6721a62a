"""The real club server (``club_server``) in a uvicorn thread on a loopback port.

:func:`club` (module-scoped) serves the demo store from a SQLite file and from
a PostgreSQL database of its own (127.0.0.1:5432, trust auth; skipped when
there is none); :func:`sqlite_club` from SQLite only.
a test enrolls its own terminal (:meth:`ClubServer.new_code`) so tests do not
share terminals. Server-side changes go through the server's own Python API
(:meth:`ClubServer.change_settings`; :data:`NO_POINTS_LIMITS` turns the club's
points limits off for tests that push more honest sales than they allow).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("club_server.app", reason="the club server is not built yet")
uvicorn = pytest.importorskip("uvicorn")

from sqlalchemy import Connection, text  # noqa: E402

from club_server import demo, terminals  # noqa: E402
from club_server import settings as server_settings  # noqa: E402
from club_server.db import Database, open_database  # noqa: E402
from club_server.embedded import serve  # noqa: E402

__all__ = [
    "NO_POINTS_LIMITS",
    "ClubServer",
    "club",
    "postgres_database",
    "sqlite_club",
    "start_club",
]

DEMO_STORE = demo.DEMO_STORE
#: the club's points limits off (0: no limit): no honest sale is held for its points
NO_POINTS_LIMITS = {"limits.points_per_sale": "0", "limits.points_per_member_day": "0"}


@dataclass
class ClubServer:
    """A running club server and handles on its database."""

    url: str
    database: Database
    keys_dir: Path
    server: Any
    thread: threading.Thread

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.database.writing() as conn:
            yield conn

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.database.reading() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.database.reading() as conn:
            return list(conn.execute(text(sql), params))

    def new_code(self, store: str = DEMO_STORE, *, age: timedelta = timedelta()) -> str:
        """A fresh enrollment code for a new terminal (``age`` makes an old one)."""
        with self.writing() as conn:
            return terminals.add_terminal(conn, store, None, datetime.now(UTC) - age).code

    def change_settings(self, values: dict[str, str]) -> None:
        """Change club settings as ``club-server settings set`` does (checked, change-logged)."""
        with self.writing() as conn:
            pairs = [part for pair in values.items() for part in pair]
            server_settings.change_settings(conn, server_settings.parse_pairs(pairs))

    def revoke(self, terminal_id: str) -> None:
        with self.writing() as conn:
            terminals.revoke_terminal(conn, terminal_id, datetime.now(UTC))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.database.dispose()


def start_club(directory: Path, url: str, *, members: int = 300, products: int = 120) -> ClubServer:
    """Open (migrate) the database at ``url``, seed the demo store and serve it."""
    database = open_database(url)
    keys_dir = directory / "keys"
    keys_dir.mkdir(exist_ok=True)
    demo.seed(database, keys_dir, members=members, products=products, now=datetime.now(UTC))
    running = serve(database, keys_dir)
    return ClubServer(running.url, database, keys_dir, running.server, running.thread)


#: PostgreSQL with trust auth; each run creates and drops its own database
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skips without PostgreSQL."""
    import secrets

    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    admin = create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as conn:
            name = f"club_sync_test_{secrets.token_hex(4)}"
            conn.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError:
        admin.dispose()
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def sqlite_club(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClubServer]:
    """The club server on a SQLite file with a demo store (300 members, 120 products)."""
    directory = tmp_path_factory.mktemp("club")
    server = start_club(directory, f"sqlite:///{directory / 'club.db'}")
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def club(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClubServer]:
    """The club server with a demo store, on SQLite and on PostgreSQL (skipped without it)."""
    directory = tmp_path_factory.mktemp("club")
    if request.param == "sqlite":
        server = start_club(directory, f"sqlite:///{directory / 'club.db'}")
        yield server
        server.stop()
        return
    with postgres_database() as url:
        server = start_club(directory, url)
        yield server
        server.stop()

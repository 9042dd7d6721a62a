"""The club server inside another program: a uvicorn thread on a loopback port.

For the terminal's demo (``club-terminal demo``) and for tests: one process
holds both ends of the real protocol over real HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import func, select

from club_server import demo, schema, terminals
from club_server.app import create_app
from club_server.db import Database, open_database
from club_server.keys import signing_key
from clubcore.errors import ConfigError

__all__ = ["EmbeddedServer", "serve", "start_embedded"]


@dataclass
class EmbeddedServer:
    """A club server running in this process."""

    url: str
    database: Database
    keys_dir: Path
    server: uvicorn.Server
    thread: threading.Thread

    def new_code(self, store: str = demo.DEMO_STORE) -> str:
        """A one-time enrollment code for a new terminal of ``store``."""
        with self.database.writing() as conn:
            return terminals.add_terminal(conn, store, "demo lane", datetime.now(UTC)).code

    def signing_key(self) -> tuple[int, Any]:
        """The club's current signing key id and private key (demo cards)."""
        with self.database.reading() as conn:
            return signing_key(conn, self.keys_dir)

    def stop(self) -> None:
        """Stop serving and release the database."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.database.dispose()


def serve(database: Database, keys_dir: Path, *, timeout: float = 15.0) -> EmbeddedServer:
    """Serve ``database`` (already migrated) on a free loopback port, in a thread.

    Raises:
        ConfigError: the server did not come up within ``timeout`` seconds.
    """
    # an explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(database), log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="club server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise ConfigError("embedded server", "the club server did not start")
        time.sleep(0.01)
    return EmbeddedServer(f"http://127.0.0.1:{port}", database, keys_dir, server, thread)


def start_embedded(
    directory: Path, *, members: int = 2_000, products: int = 300, timeout: float = 15.0
) -> EmbeddedServer:
    """Serve the club database in ``directory`` (seeding the demo store if empty).

    Raises:
        ConfigError: the server did not come up within ``timeout`` seconds.
    """
    directory.mkdir(parents=True, exist_ok=True)
    database = open_database(f"sqlite:///{directory / 'club-server.db'}")
    keys_dir = directory / "keys"
    with database.reading() as conn:
        empty = not conn.execute(select(func.count()).select_from(schema.tiers)).scalar()
    if empty:
        demo.seed(database, keys_dir, members=members, products=products, now=datetime.now(UTC))
    try:
        return serve(database, keys_dir, timeout=timeout)
    except ConfigError:
        database.dispose()
        raise

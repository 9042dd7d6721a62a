"""The demo terminal's world: an embedded club server, a provisioned lane, sync running.

``club-terminal demo`` opens the real app inside :func:`demo_session`: a club
server with the demo store runs in this process on a loopback port (its
database and keys in ``<data dir>/club-server``), the terminal is enrolled and
provisioned from it over HTTP on first use, the demo cards are signed with
the club's key, and the sync workers push every sale and pull every change
while the app runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from club_server.embedded import EmbeddedServer, start_embedded
from offline_store.db import DB_FILENAME, open_db
from offline_store.settings import put_settings, read_settings
from sync.http import SyncClient
from sync.provision import SERVER_URL_KEY, open_client, provision
from sync.status import StatusBoard
from sync.worker import SyncWorker
from terminal import demo_cards
from terminal.bootstrap import utc_now
from terminal.demo_data import DEMO_MANAGER_PIN, DEMO_TECHNICIAN_PIN
from terminal.pins import set_pin

__all__ = ["SERVER_DIR", "DemoSession", "demo_session"]

SERVER_DIR = "club-server"

Echo = Callable[[str], None]


@dataclass
class DemoSession:
    """What runs while the demo app is open."""

    server: EmbeddedServer
    worker: SyncWorker
    board: StatusBoard


def _provision(data_dir: Path, server: EmbeddedServer, echo: Echo) -> None:
    db_path = data_dir / DB_FILENAME
    provisioned = False
    if db_path.exists():
        db = open_db(db_path)
        provisioned = read_settings(db).provisioned
        if provisioned:  # the embedded server listens on a new port each run
            put_settings(db, {SERVER_URL_KEY: server.url})
        db.close()
    if provisioned:
        return
    echo(f"provisioning this terminal from the embedded club server at {server.url} ...")
    result = provision(data_dir, server.url, server.new_code(), force=True)
    echo(f"terminal {result.credential.terminal_id} of store {result.credential.store_id} ready")


def _demo_cards_and_pins(data_dir: Path, server: EmbeddedServer) -> None:
    """Demo cards signed with the club's key; the demo PINs (staff PINs are per terminal)."""
    path = data_dir / demo_cards.DEMO_CARDS_FILE
    db = open_db(data_dir / DB_FILENAME)
    try:
        if not path.exists():
            key_id, key = server.signing_key()
            cards = demo_cards.issue_demo_cards(db, utc_now(), key=key, key_id=key_id)
            demo_cards.save(cards, path)
        if not db["staff"].count:
            set_pin(db, "manager", "Store manager", "manager", DEMO_MANAGER_PIN)
            set_pin(db, "technician", "Technician", "technician", DEMO_TECHNICIAN_PIN)
    finally:
        db.close()


@contextmanager
def demo_session(data_dir: Path, echo: Echo, *, fresh: bool = False) -> Iterator[DemoSession]:
    """Start the embedded server, provision and sync this terminal; stop both afterwards.

    Raises:
        ConfigError: the embedded server did not start.
        SyncError, StoreError: provisioning failed.
    """
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    first = not (data_dir / SERVER_DIR).exists()
    if first:
        echo("starting the embedded club server with a demo store (first run: seeding) ...")
    server = start_embedded(data_dir / SERVER_DIR)
    worker: SyncWorker | None = None
    try:
        _provision(data_dir, server, echo)
        _demo_cards_and_pins(data_dir, server)
        board = StatusBoard()
        db_path = data_dir / DB_FILENAME

        def client() -> SyncClient:
            db = open_db(db_path)
            try:
                return open_client(db, data_dir)
            finally:
                db.close()

        worker = SyncWorker(db_path, client, board=board, push_interval=3.0, pull_interval=10.0)
        worker.start()
        yield DemoSession(server, worker, board)
    finally:
        if worker is not None:
            worker.stop()
        server.stop()

"""The background relay and puller against a scripted server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offline_store.db import DB_FILENAME
from offline_store.settings import put_settings
from sync.http import RetryPolicy, SyncClient
from sync.pull import set_cursor
from sync.push import outbox_counts
from sync.worker import SyncWorker
from terminal.bootstrap import Terminal
from tests.sync.conftest import FAST
from tests.sync.scripted import Reply, Request, ScriptedServer, json_reply

Serve = Callable[..., ScriptedServer]
QUICK = RetryPolicy(base=0.05, cap=0.1)


def provisioned(terminal: Terminal) -> Terminal:
    put_settings(terminal.db, {"terminal_id": "T1", "store_id": "S1"})
    with terminal.db.atomic():
        set_cursor(terminal.db, 10)
    return terminal


def sell(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    checkout.complete()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class FlakyServer:
    """Fails ``failures`` calls with 503, then answers every sale created."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def __call__(self, request: Request) -> Reply:
        if self.failures > 0:
            self.failures -= 1
            return json_reply({"error": "busy", "message": "try later"}, 503)
        if request.path == "/v1/changes":
            return json_reply({"changes": [], "cursor": int(request.query["after"]), "more": False})
        sales = request.json()["sales"]
        results: list[dict[str, Any]] = [
            {"sale_id": s["sale_id"], "status": "created", "change_seq": None} for s in sales
        ]
        return json_reply({"results": results})


def test_the_relay_survives_an_outage_and_drains_the_outbox(
    terminal: Terminal, serve: Serve
) -> None:
    provisioned(terminal)
    server = serve(FlakyServer(failures=12))
    policy = RetryPolicy(attempts=2, base=0.01, cap=0.01, deadline=2)
    worker = SyncWorker(
        terminal.data_dir / DB_FILENAME,
        lambda: SyncClient(server.url, credential="T1.x", policy=policy),
        push_interval=0.05,
        pull_interval=0.05,
        backoff=QUICK,
    )
    statuses: list[bool | None] = []
    worker.board.subscribe(lambda s: statuses.append(s.online))
    sell(terminal)
    worker.start()
    try:
        wait_for(lambda: worker.board.status.online is False)
        assert worker.board.status.offline_since is not None
        sell(terminal)
        worker.nudge()
        wait_for(lambda: worker.board.status.online is True and worker.board.status.pending == 0)
        assert worker.alive
    finally:
        worker.stop()
    assert not worker.alive
    assert outbox_counts(terminal.db) == (0, 0, 0)
    assert worker.board.status.last_success is not None and worker.board.status.cursor == 10


def test_a_revoked_terminal_stops_the_workers_and_says_so(terminal: Terminal, serve: Serve) -> None:
    provisioned(terminal)
    sell(terminal)
    server = serve(lambda r: json_reply({"error": "terminal-revoked", "message": "gone"}, 403))
    worker = SyncWorker(
        terminal.data_dir / DB_FILENAME,
        lambda: SyncClient(server.url, credential="T1.x", policy=FAST),
        push_interval=0.05,
        pull_interval=0.05,
        backoff=QUICK,
    )
    worker.start()
    wait_for(lambda: not worker.alive)
    worker.stop()
    status = worker.board.status
    assert status.revoked and "revoked" in (status.last_error or "")
    assert status.pending == 1
    assert len(server.requests) == 2  # one push, one pull: no hammering after that


def test_a_sale_from_another_process_is_pushed_without_waiting_for_the_interval(
    terminal: Terminal, serve: Serve
) -> None:
    provisioned(terminal)
    server = serve(FlakyServer(failures=0))
    worker = SyncWorker(
        terminal.data_dir / DB_FILENAME,
        lambda: SyncClient(server.url, credential="T1.x", policy=QUICK),
        push_interval=60,
        pull_interval=60,
    )
    worker.start()
    try:
        wait_for(lambda: worker.board.status.last_success is not None)
        pushes = sum(1 for r in server.requests if r.path == "/v1/sales")
        # the lane app is another process: it cannot nudge this worker
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "from terminal.bootstrap import bootstrap\n"
            "t = bootstrap(Path(sys.argv[1]))\n"
            "c = t.checkout(); c.add('P000001'); c.complete(); t.close()\n"
        )
        sold = time.monotonic()
        subprocess.run([sys.executable, "-c", script, str(terminal.data_dir)], check=True)
        wait_for(lambda: sum(1 for r in server.requests if r.path == "/v1/sales") > pushes, 10)
        assert time.monotonic() - sold < 10  # push_interval is 60 s
        wait_for(lambda: worker.board.status.pending == 0)
    finally:
        worker.stop()
    assert outbox_counts(terminal.db) == (0, 0, 0)


def test_a_busy_database_is_a_warning_in_words_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import sqlite3

    from offline_store.db import open_db

    path = tmp_path / "terminal.db"
    db = open_db(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a selling till holds the write lock
    impatient = sqlite3.connect(path, timeout=0, isolation_level=None)

    def job(client: object, db: object) -> None:
        impatient.execute("INSERT INTO sync_cursors VALUES ('x', '1', 'now')")

    worker = SyncWorker(path, lambda: SyncClient("http://127.0.0.1:9", policy=FAST))
    caplog.set_level(logging.WARNING, logger="sync.worker")
    try:
        assert worker._round(job, None, db) is False  # type: ignore[arg-type]
    finally:
        holder.execute("ROLLBACK")
        for conn in (holder, impatient):
            conn.close()
        db.close()
    record = next(r for r in caplog.records if r.name == "sync.worker")
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "stayed busy" in record.getMessage() and "trying again" in record.getMessage()
    assert "busy" in (worker.board.status.last_error or "")

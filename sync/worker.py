"""Sync in the background: the outbox relay and the delta puller, each on its own thread.

:func:`sync_once` is one round (push, then pull) for the CLI and tests.
:class:`SyncWorker` runs two daemon threads, each with its own database
connection and its own HTTP client (neither is shared across threads):

- the **outbox relay** pushes pending sales every ``push_interval`` seconds,
  or at once when :meth:`SyncWorker.nudge` is called after a sale in this
  process; a sale committed by *another* process (the lane app, when
  ``club-terminal sync`` runs as its own service) is noticed within
  ``WATCH_INTERVAL`` by polling SQLite's ``PRAGMA data_version``, which
  changes when another connection commits (one cheap call, no I/O);
- the **delta puller** applies the server's changes every ``pull_interval``.

A thread survives every error: it records it on the :class:`StatusBoard`,
waits with exponential backoff and full jitter, and tries again. Only a
revoked terminal stops them (the board says ``revoked``): retrying cannot help.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from clubcore.errors import ClubError, StoreError, TerminalRevokedError
from offline_store.db import open_db, store_error
from offline_store.settings import read_settings
from sync.http import RetryPolicy, SyncClient
from sync.pull import PullResult, get_cursor, pull_changes
from sync.push import PushResult, outbox_counts, push_outbox
from sync.status import StatusBoard

__all__ = ["WORKER_BACKOFF", "RoundResult", "SyncWorker", "push_now", "sync_once"]

log = logging.getLogger(__name__)

#: waits after a failed round: 1 s, then up to 2, 4, ... 60 s (full jitter)
WORKER_BACKOFF = RetryPolicy(base=1.0, cap=60.0)

Job = Callable[[SyncClient, sqlite_utils.Database], object]


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one :func:`sync_once` did."""

    push: PushResult
    pull: PullResult


def push_now(client: SyncClient, db: sqlite_utils.Database) -> PushResult:
    """Push the outbox as this terminal (identity from settings).

    Raises:
        as :func:`sync.push.push_outbox`.
    """
    settings = read_settings(db)
    return push_outbox(client, db, terminal_id=settings.terminal_id, store_id=settings.store_id)


def sync_once(client: SyncClient, db: sqlite_utils.Database) -> RoundResult:
    """One round: push the outbox, then pull the changes.

    Raises:
        as :func:`sync.push.push_outbox` and :func:`sync.pull.pull_changes`;
        a failed push stops the round before the pull.
    """
    pushed = push_now(client, db)
    return RoundResult(push=pushed, pull=pull_changes(client, db))


#: how often the relay looks for sales committed by other processes (seconds)
WATCH_INTERVAL = 0.25


def _data_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA data_version").fetchone()[0])


class SyncWorker:
    """The relay and puller threads of one terminal.

    Arguments:
        db_path: the terminal's database file (each thread opens its own connection).
        client_factory: makes a client with the terminal's credential (one per thread).
        board: where the status goes [default: a new board].
        push_interval: seconds between pushes when nothing nudges the relay.
        pull_interval: seconds between pulls.
        backoff: the waits after failures (``base``, ``cap``).
    """

    def __init__(
        self,
        db_path: Path,
        client_factory: Callable[[], SyncClient],
        *,
        board: StatusBoard | None = None,
        push_interval: float = 5.0,
        pull_interval: float = 30.0,
        backoff: RetryPolicy = WORKER_BACKOFF,
    ) -> None:
        self.db_path = db_path
        self.client_factory = client_factory
        self.board = board or StatusBoard()
        self.backoff = backoff
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pull_wake = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._loop,
                args=(push_now, push_interval, self._wake, True),
                name="outbox relay",
                daemon=True,
            ),
            threading.Thread(
                target=self._loop,
                args=(pull_changes, pull_interval, self._pull_wake),
                name="delta puller",
                daemon=True,
            ),
        ]

    def start(self) -> None:
        """Start both threads."""
        for thread in self._threads:
            thread.start()

    def nudge(self) -> None:
        """Push now (call after a sale is recorded)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both threads and wait for them (a call in flight finishes first)."""
        self._stop.set()
        self._wake.set()
        self._pull_wake.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True while either thread runs."""
        return any(thread.is_alive() for thread in self._threads)

    def _report_backlog(self, db: sqlite_utils.Database) -> None:
        try:
            self.board.backlog(outbox_counts(db), get_cursor(db))
        except Exception:  # the status is best effort; the next round tries again
            log.exception("cannot count the outbox")

    def _round(self, job: Job, client: SyncClient, db: sqlite_utils.Database) -> bool:
        """One run of ``job``; False when it failed."""
        try:
            job(client, db)
        except TerminalRevokedError:
            raise
        except ClubError as exc:
            log.warning("%s: %s", threading.current_thread().name, exc)
            self.board.failed(exc)
            return False
        except sqlite3.OperationalError as exc:  # busy past the timeout, a full disk: no traceback
            mapped = _busy(exc) or store_error(exc, self.db_path)
            log.warning("%s: %s; trying again", threading.current_thread().name, mapped)
            self.board.failed(mapped)
            return False
        except Exception as exc:  # a worker survives everything, bugs included
            log.exception("%s: unexpected error", threading.current_thread().name)
            self.board.failed(exc)
            return False
        finally:
            self._report_backlog(db)
        self.board.succeeded()
        return True

    def _wait(
        self, wake: threading.Event, seconds: float, db: sqlite_utils.Database, watch: bool
    ) -> None:
        """Sleep ``seconds``, or until woken; with ``watch``, also until another
        process commits a new outbox entry."""
        if not watch:
            wake.wait(seconds)
            return
        version, pending = _data_version(db), outbox_counts(db).pending
        left = seconds
        while left > 0 and not self._stop.is_set():
            if wake.wait(min(WATCH_INTERVAL, left)):
                return
            left -= WATCH_INTERVAL
            now = _data_version(db)
            if now == version:
                continue
            version, count = now, outbox_counts(db).pending
            if count > pending:
                return
            pending = count

    def _loop(self, job: Job, interval: float, wake: threading.Event, watch: bool = False) -> None:
        db = open_db(self.db_path)
        client = self.client_factory()
        failures = 0
        try:
            self._report_backlog(db)
            while not self._stop.is_set():
                try:
                    ok = self._round(job, client, db)
                except TerminalRevokedError as exc:
                    self.board.failed(exc)
                    log.error("%s stops: %s", threading.current_thread().name, exc)
                    return
                failures = 0 if ok else failures + 1
                if ok:
                    self._wait(wake, interval, db, watch)
                else:
                    wake.wait(max(self.backoff.base, self.backoff.backoff(failures)))
                wake.clear()
        finally:
            client.close()
            db.close()


_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _busy(exc: sqlite3.OperationalError) -> StoreError | None:
    """A write that waited out the busy timeout (another writer, e.g. a selling till, held
    the database): said in words, retried by the caller's next round."""
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreError("the terminal database stayed busy (another writer held it)")
    return None

"""Opening the terminal's SQLite database, durably.

Every connection is put in WAL mode with ``synchronous=FULL`` and foreign
keys on, and the settings are read back and checked: a connection that is not
durable raises :class:`~clubcore.errors.StoreConfigError` instead of quietly
risking acknowledged sales.

The connection is in autocommit mode (``isolation_level=None``): the driver
opens no implicit transactions. Write with ``db.atomic()`` (sqlite-utils),
which commits on success and rolls back on any exception, nesting as savepoints.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from clubcore.errors import StoreConfigError, StoreError, StoreFullError, StoreReadOnlyError

__all__ = [
    "DB_FILENAME",
    "Checkpointer",
    "check_durability",
    "integrity_problems",
    "not_writable",
    "open_db",
    "store_error",
]

DB_FILENAME = "terminal.db"

_BUSY_TIMEOUT_MS = 5_000
_SYNCHRONOUS_FULL = 2
#: primary result codes (the low byte of an extended code)
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 8, 10, 13, 14
#: less free space than this after an I/O error: the disk is full
_NEARLY_FULL = 1 << 20


def store_error(exc: sqlite3.Error, path: str | Path | None = None) -> StoreError:
    """The :class:`StoreError` for a SQLite error, told apart by its result code.

    ``SQLITE_FULL`` (or an I/O error on a disk with under 1 MiB free: SQLite
    reports a full disk while growing its shared-memory file as ``IOERR``) is
    :class:`StoreFullError`; ``SQLITE_READONLY`` is :class:`StoreReadOnlyError`;
    anything else a plain :class:`StoreError`. Each says where and what to do.
    """
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    where = Path(path).parent if path else None
    if code == _SQLITE_FULL or (code == _SQLITE_IOERR and _nearly_full(where)):
        return StoreFullError(
            f"the disk holding the terminal's data{_at(where)} is full: nothing was saved",
            hint="free some space (old logs, files in /tmp), then try again; "
            "'df -h' shows what is full",
        )
    why = not_writable(where) if where and code in (_SQLITE_READONLY, _SQLITE_CANTOPEN) else None
    if code == _SQLITE_READONLY or why:
        return StoreReadOnlyError(
            f"the terminal's data{_at(where)} cannot be written"
            f"{f' ({why})' if why else ''}: nothing was saved",
            hint="the data directory must be writable by this user and not mounted "
            "read-only ('ls -ld' and 'findmnt' on it)",
        )
    return StoreError(f"the terminal database failed: {exc}")


def not_writable(directory: Path) -> str | None:
    """Why ``directory`` cannot be written (a read-only mount, permissions), or None."""
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return "a read-only file system"
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(directory, os.W_OK | os.X_OK):
        return "no write permission for this user"
    return None


def _at(where: Path | None) -> str:
    return f" ({where})" if where else ""


def _nearly_full(where: Path | None) -> bool:
    if where is None:
        return False
    try:
        return shutil.disk_usage(where).free < _NEARLY_FULL
    except OSError:
        return False


def open_db(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path``, durable and migrated.

    Arguments:
        path: the SQLite file; its directory must exist.
        migrate: apply pending schema migrations (the default).

    Raises:
        StoreError: the file cannot be opened or is not a database.
        StoreFullError: the disk is full (SQLite cannot even make its shared-memory file).
        StoreReadOnlyError: the file or its directory cannot be written.
        StoreConfigError: WAL or ``synchronous=FULL`` could not be set.
        MigrationError: a migration failed, or the file is newer than this program.
    """
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        mapped = store_error(exc, path)  # a full disk or a read-only directory, said so
        if type(mapped) is StoreError:
            mapped = StoreError(f"cannot open the terminal database {path}: {exc}")
        raise mapped from exc
    db = sqlite_utils.Database(conn)
    check_durability(db)
    if migrate:
        from offline_store.migrations import migrate as run_migrations

        run_migrations(db)
    return db


def check_durability(db: sqlite_utils.Database) -> None:
    """Raise unless the connection is in WAL mode with ``synchronous=FULL``.

    Raises:
        StoreConfigError: naming the setting that is wrong.
    """
    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreConfigError(f"journal_mode is {mode!r}, not 'wal'")
    sync = db.execute("PRAGMA synchronous").fetchone()[0]
    if sync != _SYNCHRONOUS_FULL:
        raise StoreConfigError(f"synchronous is {sync}, not FULL ({_SYNCHRONOUS_FULL})")


def integrity_problems(db: sqlite_utils.Database, limit: int = 20) -> list[str]:
    """``PRAGMA integrity_check``: the first ``limit`` problems, ``[]`` when the file is sound.

    Raises:
        sqlite3.DatabaseError: the file is not a database at all.
    """
    rows = [str(row[0]) for row in db.execute(f"PRAGMA integrity_check({int(limit)})")]
    return [] if rows == ["ok"] else rows


log = logging.getLogger(__name__)


class Checkpointer:
    """Moves WAL pages into the database file on a background thread.

    SQLite's automatic checkpoint runs inside whichever commit crosses the
    threshold, adding the database file's fsync to that sale's commit time.
    A long-running terminal turns it off on its own connection and lets this
    thread run ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds on
    a connection of its own; passive checkpoints never block writers, and the
    WAL stays bounded. Durability is unchanged: a commit is durable once its
    WAL frames are synced.
    """

    def __init__(self, path: str | Path, interval: float = 1.0) -> None:
        self.path = Path(path)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal checkpointer", daemon=True)
        #: how many checkpoints have run (tests and diagnostics wait on it)
        self.rounds = 0
        self._round_done = threading.Condition()

    def start(self, *connections: sqlite_utils.Database) -> None:
        """Turn off automatic checkpoints on ``connections`` and start the thread."""
        for db in connections:
            db.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread.start()

    def wait_round(self, timeout: float = 10.0) -> bool:
        """Wait until a checkpoint that starts after this call has run; False on timeout."""
        with self._round_done:
            target = self.rounds + 2  # the round under way may have begun before the call
            return self._round_done.wait_for(lambda: self.rounds >= target, timeout)

    def stop(self) -> None:
        """Stop the thread after one last checkpoint."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        conn = sqlite3.connect(
            str(self.path), timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.DatabaseError:
                    log.warning("WAL checkpoint of %s failed; will retry", self.path, exc_info=True)
                with self._round_done:
                    self.rounds += 1
                    self._round_done.notify_all()
                if stopping:
                    return
        finally:
            conn.close()

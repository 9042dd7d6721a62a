"""Provisioning snapshot: the server's data loaded into a new database file, then swapped in.

Steps (docs/sync-protocol.md, "Snapshot"):

1. ``GET /v1/snapshot``: the manifest. Every protocol entity must be in it,
   with exactly the protocol's columns; its ``cursor`` becomes the delta cursor.
2. For each entity, pages of gzip NDJSON are streamed (``stream=True``; a
   page is never held whole) and inserted with ``executemany`` in blocks into
   a **new** file, ``terminal.db.provisioning``, all in one transaction.
   A page cut off mid-way is resumed after the last row received (rows come
   in key order), with backoff. Downloading overlaps inserting (see
   "Threads" below).
3. In the same transaction, this lane's own records are copied from the old
   database: sales, their lines, points-ledger entries, the outbox (sent,
   pending and refused entries alike) and staff PINs. **A re-provision never
   loses a sale.** (The caller, :func:`sync.provision.provision`, also refuses
   to re-provision while sales wait to be pushed unless forced: after a new
   enrollment they belong to another terminal id and cannot be pushed.)
4. The swap: the new file is checkpointed and closed, the old one is
   checkpointed and closed, and ``os.replace`` puts the new file in place.
   If the old database still has a ``-wal`` or ``-shm`` file after its last
   known connection closed, another program holds it open (the lane app, a
   running ``club-terminal sync``) and provisioning stops with a StoreError
   before anything is replaced; a stale WAL next to the new file would
   corrupt it.

Until step 4, the old database is untouched; a failure anywhere leaves it as
it was and removes the half-built file. The new file is built with a
rollback journal (``journal_mode=DELETE``: a new file has next to nothing to
journal) and switched to WAL once committed, so its pages are written once,
not once to the WAL and again by the checkpoint.

Threads: a page reader (the producer, thread ``snapshot-pages``) requests the
pages, decompresses them and cuts them into blocks of whole lines (about
1 MiB), handed over through a bounded queue (at most ``_AHEAD`` blocks, about
one page of members), while the calling thread (the consumer) parses each
block with one ``json.loads`` and inserts it. So the server builds and sends
the next page while this one is inserted. Parsing is on the inserting thread
on purpose: ``json.loads`` holds the GIL, so in the reader it only delayed
the inserts; the reader's own work (socket reads, zlib) mostly runs without
it. The reader reads the ``{"next": ...}`` line (it needs the key) and the last
row received (to resume a cut page) itself.

Errors are raised on the calling thread: what the reader meets (a call that
failed, a page cut off too often, a bad 'next' line) is handed over and
raised there, as the same ServerUnreachableError, ServerRejectedError or
ProtocolError. When the calling thread fails (a row that does not fit, the
progress callback, Ctrl-C) it stops the reader: a blocked hand-over gives
up, the page being read is interrupted (its socket is shut down) and a
backoff wait ends; the reader is waited for before the half-built file is
removed. Only a call still waiting for the server's first byte cannot be
interrupted: after ``_JOIN_SECONDS`` the reader (a daemon thread) is left to
end when that call does; it touches nothing but the client.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlite_utils

from clubcore.errors import ProtocolError, ServerUnreachableError, StoreError
from offline_store.db import DB_FILENAME, open_db
from sync.entities import ENTITIES, Entity
from sync.http import SyncClient
from sync.pull import set_cursor

__all__ = [
    "LOCAL_TABLES",
    "Manifest",
    "Progress",
    "SnapshotResult",
    "load_snapshot",
    "parse_manifest",
]

#: called with (entity, rows done, rows announced by the manifest)
Progress = Callable[[str, int, int], None]

#: the lane's own records, copied from the old database into the new one
LOCAL_TABLES = ("sales", "sale_lines", "points_ledger", "outbox", "staff")

log = logging.getLogger(__name__)

PAGE_LIMIT = 50_000
_BLOCK_BYTES = 1024 * 1024  # NDJSON bytes per block handed over (one executemany)
_AHEAD = 8  # blocks the page reader may hand over before the inserts take them
_CHUNK = 64 * 1024  # compressed bytes per read
_POLL_SECONDS = 0.1  # how often a blocked hand-over looks for a stop
_JOIN_SECONDS = 5.0  # how long a stop waits for the page reader
_CACHE_KIB = -64 * 1024  # a 64 MiB page cache while loading
_PAGE_READ_TIMEOUT = 120.0
_SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class Manifest:
    """The snapshot's manifest: its id, the delta cursor, rows per entity."""

    snapshot_id: str
    cursor: int
    rows: dict[str, int]


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """What :func:`load_snapshot` loaded."""

    snapshot_id: str
    cursor: int
    rows: dict[str, int]
    kept: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def parse_manifest(data: Mapping[str, Any]) -> Manifest:
    """Check the manifest against the protocol's entities.

    Raises:
        ProtocolError: a missing or unknown entity, other columns, or a bad cursor.
    """
    entities = data.get("entities")
    cursor = data.get("cursor")
    if not isinstance(entities, dict) or type(cursor) is not int or cursor < 0:
        raise ProtocolError("GET /v1/snapshot: the manifest lacks 'entities' or a 'cursor'")
    unknown = sorted(set(entities) - set(ENTITIES))
    missing = sorted(set(ENTITIES) - set(entities))
    if unknown or missing:
        raise ProtocolError(f"GET /v1/snapshot: unknown entities {unknown}, missing {missing}")
    rows: dict[str, int] = {}
    for name, spec in ENTITIES.items():
        info = entities[name]
        if not isinstance(info, dict) or tuple(info.get("columns") or ()) != spec.columns:
            raise ProtocolError(
                f"GET /v1/snapshot: the columns of {name} are not {', '.join(spec.columns)}"
            )
        count = info.get("rows", 0)
        rows[name] = count if type(count) is int and count >= 0 else 0
    return Manifest(snapshot_id=str(data.get("snapshot_id", "")), cursor=cursor, rows=rows)


class _Stopped(Exception):
    """The loader told the page reader to stop."""


class _Cut(Exception):
    """A page's stream ended early; ``after`` is the key of the last row received."""

    def __init__(self, after: str | None, cause: BaseException | None) -> None:
        super().__init__(str(cause) if cause else "the page ended without its 'next' line")
        self.after = after


@dataclass(frozen=True, slots=True)
class _Lines:
    """Whole row lines of one entity, in key order: parsed and inserted by the loader."""

    spec: Entity
    block: bytes


@dataclass(frozen=True, slots=True)
class _PageEnd:
    """A page of ``spec`` arrived whole: time to report progress."""

    spec: Entity


_FINISHED = "every page read"


class _Page:
    """One page's decompressed bytes cut into blocks of whole lines.

    The last whole line received is always held back: at the end of the page
    it must be the ``{"next": ...}`` line, which the reader itself reads.
    """

    def __init__(self, spec: Entity, after: str | None) -> None:
        self.spec = spec
        self.parts: list[bytes] = []  # whole lines not handed over yet
        self.size = 0
        self.tail = b""  # a line not yet ended
        self.last_key = after  # of the last row handed over
        self.next: str | None = None

    def feed(self, data: bytes) -> bytes | None:
        """Take more bytes; return a block of whole lines once ``_BLOCK_BYTES`` are ready."""
        data = self.tail + data
        end = data.rfind(b"\n") + 1
        self.tail = data[end:]
        if end:
            self.parts.append(data[:end])
            self.size += end
        return self._block(held=True) if self.size >= _BLOCK_BYTES else None

    def cut(self) -> bytes | None:
        """The stream broke: the whole row lines received, to hand over.

        A partial line and a 'next' line are dropped: the page is asked for
        again after the last row handed over.
        """
        self.tail = b""
        self._pop_next_line()
        return self._block(held=False)

    def finish(self) -> tuple[bytes | None, bool]:
        """The stream ended: the lines left to hand over, and whether the page is whole.

        The page is whole when its last line is the 'next' line; a last line
        without its newline counts only if it is that line (else it is a partial
        row, dropped, and the page was cut off).
        """
        tail, self.tail = self.tail.strip(), b""
        if tail and not tail.startswith(b"{"):
            return self._block(held=False), False
        if tail:
            self.parts.append(tail + b"\n")
        last = self._pop_next_line()
        if last is not None:
            self.next = _next_key(_json_line(last, self.spec), self.spec)
        return self._block(held=False), last is not None

    def _pop_next_line(self) -> bytes | None:
        """Take the last line off if it is the 'next' line (an object, where rows are arrays)."""
        data = b"".join(self.parts).rstrip()
        body, _, last = data.rpartition(b"\n")
        if not last.startswith(b"{"):
            return None
        self.parts, self.size = ([body + b"\n"] if body.strip() else []), len(body)
        return last

    def _block(self, *, held: bool) -> bytes | None:
        """The whole lines gathered (all but the last one when ``held``); notes the last key."""
        data = b"".join(self.parts)
        split = data.rstrip().rfind(b"\n") + 1 if held else len(data)
        block, rest = data[:split], data[split:]
        self.parts, self.size = ([rest] if rest else []), len(rest)
        if not block.strip():
            return None
        last = block.rstrip().rpartition(b"\n")[2]
        row = _json_line(last, self.spec)
        self.last_key = self.spec.key_of(self.spec.rows([row])[0])
        return block


def _json_line(line: bytes, spec: Entity) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise ProtocolError(f"{spec.name}: a snapshot line is not JSON: {line[:80]!r}") from None


def _rows(block: bytes, spec: Entity) -> list[Sequence[object]]:
    """The rows of a block of whole NDJSON lines (one ``json.loads`` for all of them).

    Raises:
        ProtocolError: a line is not JSON or not a row of ``spec``.
    """
    lines = list(filter(None, block.split(b"\n")))
    try:
        items = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        for line in lines:  # find the culprit for the message
            _json_line(line, spec)
        raise ProtocolError(f"{spec.name}: the snapshot lines are not JSON") from None
    try:
        return spec.rows(items)
    except ProtocolError:
        if any(isinstance(item, dict) for item in items):
            raise ProtocolError(f"{spec.name}: lines after the 'next' line") from None
        raise


def _next_key(item: dict[str, Any], spec: Entity) -> str | None:
    if "next" not in item or not (item["next"] is None or isinstance(item["next"], str)):
        raise ProtocolError(f"{spec.name}: the last line must be {{'next': key or null}}")
    return item["next"]


class _PageReader(threading.Thread):
    """The producer: requests, decompresses and splits every page ahead of the inserts.

    Hands over, through a bounded queue (:attr:`queue`, at most ``_AHEAD``
    items), :class:`_Lines` blocks in key order, a :class:`_PageEnd` after
    each whole page, then ``_FINISHED``, or the exception that ended it (the
    loader raises it on its own thread). It alone uses the client while it
    runs. :meth:`stop` makes it stop at its next step: a blocked hand-over
    gives up, a page being read is interrupted (its socket is shut down) and
    a backoff wait ends.
    """

    def __init__(self, client: SyncClient, page_limit: int) -> None:
        super().__init__(name="snapshot-pages", daemon=True)
        self.client = client
        self.page_limit = page_limit
        self.queue: queue.Queue[object] = queue.Queue(maxsize=_AHEAD)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None

    def run(self) -> None:
        item: object = _FINISHED
        try:
            for spec in ENTITIES.values():
                self._entity(spec)
        except _Stopped:
            return
        except BaseException as exc:  # handed to the loader, raised on its thread
            item = exc
        with contextlib.suppress(_Stopped):
            self._put(item)

    def stop(self) -> None:
        """Tell the reader to stop, interrupt its download, and wait for it."""
        self._stopping.set()
        with self._lock:
            shutdown = getattr(self._response.raw, "shutdown", None) if self._response else None
            if shutdown is not None:
                with contextlib.suppress(Exception):  # already released or closed
                    shutdown()
        self.join(_JOIN_SECONDS)
        if self.is_alive():  # blocked in a call that has not answered yet
            log.warning("the snapshot page reader is still waiting for the server")

    def next_item(self) -> object:
        """The next item handed over (waits for it)."""
        while True:
            try:
                return self.queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self.is_alive() and self.queue.empty():
                    raise RuntimeError("the snapshot page reader ended without a word") from None

    def _put(self, item: object) -> None:
        while not self._stopping.is_set():
            try:
                self.queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _hand(self, spec: Entity, block: bytes | None) -> None:
        if block is not None:
            self._put(_Lines(spec, block))

    def _entity(self, spec: Entity) -> None:
        """Every page of one entity, resuming a page cut off after its last row received."""
        after: str | None = None
        cuts = 0
        while True:
            try:
                next_key = self._page(spec, after)
            except _Cut as cut:
                after, cuts = cut.after, cuts + 1
                if cuts >= self.client.policy.attempts:
                    what = f"GET /v1/snapshot/{spec.name}"
                    raise ServerUnreachableError(
                        f"{what}: the download was cut off {cuts} times: {cut}"
                    ) from cut
                if self._stopping.wait(self.client.policy.backoff(cuts - 1)):
                    raise _Stopped from None
                continue
            self._put(_PageEnd(spec))
            if next_key is None:
                return
            if next_key == after:
                raise ProtocolError(f"{spec.name}: 'next' repeats the previous key {after!r}")
            after, cuts = next_key, 0

    def _page(self, spec: Entity, after: str | None) -> str | None:
        """Read one page, handing its rows over; return its 'next' key. Raises _Cut if cut off."""
        params: dict[str, Any] = {"limit": self.page_limit}
        if after is not None:
            params["after"] = after
        response = self.client.request(
            "GET",
            f"/v1/snapshot/{spec.name}",
            params=params,
            stream=True,
            read_timeout=_PAGE_READ_TIMEOUT,
        )
        page = _Page(spec, after)
        with response, self._reading(response):
            try:
                for data in response.iter_content(_CHUNK):
                    if self._stopping.is_set():
                        raise _Stopped
                    self._hand(spec, page.feed(data))
            except requests.exceptions.RequestException as exc:
                self._hand(spec, page.cut())
                raise _Cut(page.last_key, exc) from exc
        block, whole = page.finish()
        self._hand(spec, block)
        if not whole:
            raise _Cut(page.last_key, None)
        return page.next

    @contextlib.contextmanager
    def _reading(self, response: requests.Response) -> Iterator[None]:
        """``response`` is the one :meth:`stop` interrupts while the block runs."""
        with self._lock:
            self._response = response
        try:
            if self._stopping.is_set():
                raise _Stopped
            yield
        finally:
            with self._lock:
                self._response = None


def _insert_all(
    reader: _PageReader, db: sqlite_utils.Database, manifest: Manifest, progress: Progress | None
) -> dict[str, int]:
    """Insert what the page reader hands over, in order (the consumer); return rows per entity."""
    rows = dict.fromkeys(ENTITIES, 0)
    sql = {name: spec.insert_sql() for name, spec in ENTITIES.items()}
    while True:
        item = reader.next_item()
        if isinstance(item, _Lines):
            name = item.spec.name
            batch = _rows(item.block, item.spec)
            try:
                db.conn.executemany(sql[name], batch)
            except sqlite3.Error as exc:
                raise ProtocolError(f"{name}: the server's rows do not fit: {exc}") from exc
            rows[name] += len(batch)
        elif isinstance(item, _PageEnd):
            name = item.spec.name
            if progress is not None:
                progress(name, rows[name], max(manifest.rows[name], rows[name]))
        elif isinstance(item, BaseException):
            raise item
        else:
            return rows


def _remove(path: Path) -> None:
    for suffix in _SUFFIXES:
        Path(str(path) + suffix).unlink(missing_ok=True)


def _copy_local(db: sqlite_utils.Database) -> dict[str, int]:
    """Copy the lane's own records from the attached old database (inside the transaction)."""
    kept: dict[str, int] = {}
    for table in LOCAL_TABLES:
        columns = ", ".join(db[table].columns_dict)
        cursor = db.execute(
            f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM old.{table}"
        )
        kept[table] = cursor.rowcount
    return kept


def _close_quietly(path: Path) -> None:
    """Checkpoint and close ``path``; StoreError if another connection keeps it open."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(str(path), timeout=5, isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot checkpoint {path}: {exc}") from exc
    if any(Path(str(path) + s).exists() for s in ("-wal", "-shm")):
        raise StoreError(f"{path} is in use by another program")


def _swap(new_path: Path, db_path: Path) -> None:
    """Put the finished file in place of the old one (see the module docstring)."""
    _close_quietly(new_path)
    try:
        _close_quietly(db_path)
    except StoreError as exc:
        raise StoreError(
            f"{exc}: stop the lane app and any 'club-terminal sync', then provision again"
        ) from exc
    os.replace(new_path, db_path)
    fd = os.open(db_path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_snapshot(
    client: SyncClient,
    data_dir: Path,
    *,
    settings: Mapping[str, object] | None = None,
    progress: Progress | None = None,
    page_limit: int = PAGE_LIMIT,
) -> SnapshotResult:
    """Load the server's snapshot into a new database and swap it in.

    Arguments:
        client: a client with this terminal's credential.
        data_dir: the terminal's data directory; no connection to its
            database may be open.
        settings: local settings written in the same transaction (identity,
            server URL), after the server's.
        progress: called with (entity, rows done, rows announced).
        page_limit: rows per page (at most 100,000).

    Returns:
        the snapshot id, the delta cursor, the rows per entity and the local
        records kept.

    Raises:
        ServerUnreachableError, ServerRejectedError, TerminalRevokedError: a call failed.
        ProtocolError: the manifest or a page breaks the protocol.
        StoreError: the database cannot be written or is in use.
        (In every case the old database is unchanged.)
    """
    started = time.monotonic()
    db_path = data_dir / DB_FILENAME
    new_path = data_dir / (DB_FILENAME + ".provisioning")
    _remove(new_path)
    manifest = parse_manifest(client.get_json("/v1/snapshot"))
    reader = _PageReader(client, page_limit)
    try:
        reader.start()  # the first pages download while the files are prepared
        try:
            if db_path.exists():
                open_db(db_path).close()  # bring the old file to the current schema
            result = _build(reader, new_path, db_path, manifest, settings or {}, progress)
        finally:
            reader.stop()
        _swap(new_path, db_path)
    except BaseException:
        _remove(new_path)
        raise
    return SnapshotResult(
        manifest.snapshot_id, manifest.cursor, *result, seconds=time.monotonic() - started
    )


def _drop_indexes(db: sqlite_utils.Database) -> list[str]:
    """Drop the synced tables' secondary indexes (in the transaction); return their SQL.

    Loading rows in key order and indexing afterwards is several times faster
    than maintaining every index row by row.
    """
    marks = ", ".join("?" * len(ENTITIES))
    found = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks})",
        list(ENTITIES),
    ).fetchall()
    for name, _ in found:
        db.execute(f'DROP INDEX "{name}"')
    return [str(sql) for _, sql in found]


def _build(
    reader: _PageReader,
    new_path: Path,
    old_path: Path,
    manifest: Manifest,
    settings: Mapping[str, object],
    progress: Progress | None,
) -> tuple[dict[str, int], dict[str, int]]:
    db = open_db(new_path)
    try:
        db.execute("PRAGMA journal_mode = DELETE")  # see the module docstring
        has_old = old_path.exists()
        if has_old:
            db.execute("ATTACH DATABASE ? AS old", [str(old_path)])
        rows: dict[str, int] = {}
        kept: dict[str, int] = {}
        db.execute(f"PRAGMA cache_size = {_CACHE_KIB}")
        with db.atomic():
            db.execute("PRAGMA defer_foreign_keys = ON")
            indexes = _drop_indexes(db)
            rows = _insert_all(reader, db, manifest, progress)
            for sql in indexes:
                db.execute(sql)
            for key, value in settings.items():
                db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, str(value)])
            set_cursor(db, manifest.cursor)
            if has_old:
                kept = _copy_local(db)
        if has_old:
            db.execute("DETACH DATABASE old")
        db.execute("PRAGMA journal_mode = WAL")
    finally:
        db.close()
    return rows, kept

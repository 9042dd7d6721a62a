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
4. The catch-up: the deltas since the manifest's cursor are pulled into the
   new file (pages were read at different moments; after the deltas it holds
   one rule set, the club's newest).
5. The swap: the new file is checkpointed and closed, the old one is
   checkpointed and closed, and ``os.replace`` puts the new file in place.
   If the old database still has a ``-wal`` or ``-shm`` file after its last
   known connection closed, another program holds it open (the lane app, a
   running ``club-terminal sync``) and provisioning stops with a StoreError
   before anything is replaced; a stale WAL next to the new file would
   corrupt it.

Until step 5, the old database is untouched; a failure anywhere leaves it as
it was and removes the half-built file. The new file is built with a
rollback journal (``journal_mode=DELETE``: a new file has next to nothing to
journal) and switched to WAL once committed, so its pages are written once,
not once to the WAL and again by the checkpoint.

Threads: the pages are downloaded, decompressed and cut into blocks of whole
lines by a page reader thread, :class:`sync.snapshot_pages.PageReader` (its
module docstring tells how blocks and errors cross the threads), while the
calling thread parses and inserts them. Whatever fails, on either thread, is
raised on the calling thread, which stops the reader and waits for it before
the half-built file is removed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from clubcore.errors import ProtocolError, StoreError
from clubcore.wire import Manifest as WireManifest
from offline_store.db import DB_FILENAME, open_db
from sync.entities import ENTITIES
from sync.http import SyncClient, parse_answer
from sync.pull import pull_changes, set_cursor
from sync.snapshot_pages import Lines, PageEnd, PageReader

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

PAGE_LIMIT = 50_000
_CACHE_KIB = -64 * 1024  # a 64 MiB page cache while loading
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
    """Check the manifest (:class:`clubcore.wire.Manifest`) against the protocol's entities.

    Raises:
        ProtocolError: not a manifest, a missing or unknown entity, other columns,
            or a bad cursor.
    """
    checked = parse_answer(WireManifest, data, "GET /v1/snapshot")
    unknown = sorted(set(checked.entities) - set(ENTITIES))
    missing = sorted(set(ENTITIES) - set(checked.entities))
    if unknown or missing:
        raise ProtocolError(f"GET /v1/snapshot: unknown entities {unknown}, missing {missing}")
    for name, spec in ENTITIES.items():
        if tuple(checked.entities[name].columns) != spec.columns:
            raise ProtocolError(
                f"GET /v1/snapshot: the columns of {name} are not {', '.join(spec.columns)}"
            )
    rows = {name: info.rows for name, info in checked.entities.items()}
    return Manifest(snapshot_id=checked.snapshot_id, cursor=checked.cursor, rows=rows)


def _insert_all(
    reader: PageReader, db: sqlite_utils.Database, manifest: Manifest, progress: Progress | None
) -> dict[str, int]:
    """Insert what the page reader hands over, in order (the consumer); return rows per entity."""
    rows = dict.fromkeys(ENTITIES, 0)
    sql = {name: spec.insert_sql() for name, spec in ENTITIES.items()}
    while True:
        item = reader.next_item()
        if isinstance(item, Lines):
            name = item.spec.name
            batch = item.rows()
            try:
                db.conn.executemany(sql[name], batch)
            except sqlite3.Error as exc:
                raise ProtocolError(f"{name}: the server's rows do not fit: {exc}") from exc
            rows[name] += len(batch)
        elif isinstance(item, PageEnd):
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
    reader = PageReader(client, page_limit)
    try:
        reader.start()  # the first pages download while the files are prepared
        try:
            if db_path.exists():
                open_db(db_path).close()  # bring the old file to the current schema
            result = _build(reader, new_path, db_path, manifest, settings or {}, progress)
        finally:
            reader.stop()
        cursor = _catch_up(client, new_path)
        _swap(new_path, db_path)
    except BaseException:
        _remove(new_path)
        raise
    return SnapshotResult(manifest.snapshot_id, cursor, *result, seconds=time.monotonic() - started)


def _catch_up(client: SyncClient, new_path: Path) -> int:
    """Pull the deltas since the manifest's cursor into the new file; return the cursor.

    The pages were read one after another while the club may have changed its
    prices, so the file can hold a price newer than its ``rules_version`` (or
    the other way round). The deltas since the manifest carry every such
    change, and each page of them leaves the lane with one rule set
    (``docs/sync-protocol.md``, "Deltas"): after them the file prices as the
    club does, before any sale can be rung up with it.
    """
    db = open_db(new_path)
    try:
        return pull_changes(client, db).cursor
    finally:
        db.close()


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
    reader: PageReader,
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

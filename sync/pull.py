"""The delta puller: ``GET /v1/changes`` pages applied to the offline store.

Each page's upserts and deletes and the new cursor commit in **one** local
transaction, so a crash leaves the store at a page boundary; re-applying a
page is harmless (every change carries the row as it is now). The cursor
(``sync_cursors`` stream ``changes``) never moves backwards: a page whose
cursor is behind the local one is refused whole. A page naming an entity or
operation the protocol does not have is refused whole (ProtocolError), and
nothing of it is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from clubcore.errors import ProtocolError
from sync.entities import entity
from sync.http import SyncClient

__all__ = ["CHANGES_STREAM", "PullResult", "apply_page", "get_cursor", "pull_changes", "set_cursor"]

CHANGES_STREAM = "changes"
MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class PullResult:
    """What one :func:`pull_changes` did."""

    pages: int
    changes: int
    cursor: int


def get_cursor(db: sqlite_utils.Database) -> int | None:
    """The delta cursor applied locally; None before the first snapshot."""
    row = db.execute(
        "SELECT cursor FROM sync_cursors WHERE stream = ?", [CHANGES_STREAM]
    ).fetchone()
    return int(row[0]) if row else None


def set_cursor(db: sqlite_utils.Database, cursor: int) -> None:
    """Store the delta cursor (in the caller's transaction)."""
    db.execute(
        "INSERT INTO sync_cursors (stream, cursor, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (stream) DO UPDATE SET cursor = excluded.cursor, "
        "updated_at = excluded.updated_at",
        [CHANGES_STREAM, str(cursor), datetime.now(UTC).isoformat()],
    )


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"GET /v1/changes: {what} {value!r:.40} is not a cursor")
    return value


def _statements(changes: object) -> list[tuple[str, tuple[object, ...]]]:
    """Check a page's changes and turn them into SQL, refusing the page whole."""
    if not isinstance(changes, list):
        raise ProtocolError("GET /v1/changes: 'changes' is not a list")
    out: list[tuple[str, tuple[object, ...]]] = []
    for change in changes:
        if not isinstance(change, dict):
            raise ProtocolError("GET /v1/changes: a change is not an object")
        _as_int(change.get("seq"), "seq")
        table = entity(change.get("entity"))
        op, key = change.get("op"), change.get("key")
        parts = table.split_key(key)
        if op == "delete":
            out.append((table.delete_sql(), tuple(parts)))
        elif op == "upsert":
            row = table.row(change.get("row"))
            if table.key_of(row) != str(key):
                raise ProtocolError(f"{table.name}: the row does not have the key {key!r:.80}")
            out.append((table.upsert_sql(), row))
        else:
            raise ProtocolError(f"GET /v1/changes: unknown op {op!r:.40}")
    return out


def apply_page(db: sqlite_utils.Database, page: dict[str, Any]) -> tuple[int, bool]:
    """Apply one page of changes and its cursor in one transaction.

    Arguments:
        db: the terminal's database.
        page: ``{"changes": [...], "cursor": n, "more": bool}``.

    Returns:
        ``(cursor, more)`` after the page.

    Raises:
        ProtocolError: a malformed change, an unknown entity or op, or a
            cursor behind the local one; nothing was applied.
    """
    cursor = _as_int(page.get("cursor"), "cursor")
    more = page.get("more")
    if not isinstance(more, bool):
        raise ProtocolError("GET /v1/changes: 'more' is not true or false")
    statements = _statements(page.get("changes"))
    with db.atomic():
        current = get_cursor(db)
        if current is not None and cursor < current:
            raise ProtocolError(
                f"GET /v1/changes: the server's cursor {cursor} is behind this terminal's "
                f"{current}",
                hint="was the server restored from a backup? re-provision the terminal",
            )
        for sql, params in statements:
            db.execute(sql, params)
        set_cursor(db, cursor)
    return cursor, more


def pull_changes(
    client: SyncClient, db: sqlite_utils.Database, *, limit: int = 1_000, max_pages: int = 1_000
) -> PullResult:
    """Fetch and apply pages of changes until the server says there are no more.

    Arguments:
        client: a client with this terminal's credential.
        db: the terminal's database (provisioned: it has a cursor).
        limit: changes per page (at most 10,000).
        max_pages: stop after this many pages (the next call continues).

    Returns:
        pages and changes applied, and the cursor now.

    Raises:
        ProtocolError: a bad page (nothing of it applied), or no cursor yet.
        ServerUnreachableError, ServerRejectedError, TerminalRevokedError: the
            call failed; pages applied before it stay applied.
    """
    cursor = get_cursor(db)
    if cursor is None:
        raise ProtocolError(
            "this terminal has no delta cursor: it was never provisioned",
            hint="run 'club-terminal provision'",
        )
    pages = changes = 0
    more = True
    while more and pages < max_pages:
        page = client.get_json(
            "/v1/changes", {"after": cursor, "limit": min(limit, MAX_LIMIT)}, deadline=60
        )
        previous = cursor
        cursor, more = apply_page(db, page)
        pages += 1
        changes += len(page["changes"])
        if more and cursor == previous:
            raise ProtocolError("GET /v1/changes: 'more' is true but the cursor did not advance")
    return PullResult(pages=pages, changes=changes, cursor=cursor)

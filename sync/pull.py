"""The delta puller: ``GET /v1/changes`` pages applied to the offline store.

Each page's upserts and deletes and the new cursor commit in **one** local
transaction, so a crash leaves the store at a page boundary; re-applying a
page is harmless (every change carries the row as it is now). The cursor
(``sync_cursors`` stream ``changes``) never moves backwards: a page whose
cursor is behind the local one is refused whole. A page naming an entity or
operation the protocol does not have, or a row not of its entity's shape
(:class:`clubcore.wire.ChangesPage`), is refused whole (ProtocolError), and
nothing of it is applied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from clubcore.errors import ProtocolError
from clubcore.settings import LANE_OWNED_KEYS
from clubcore.wire import MAX_CHANGES, ChangesPage
from sync.entities import entity
from sync.http import SyncClient, parse_answer

log = logging.getLogger(__name__)

__all__ = ["CHANGES_STREAM", "PullResult", "apply_page", "get_cursor", "pull_changes", "set_cursor"]

CHANGES_STREAM = "changes"
MAX_LIMIT = MAX_CHANGES


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


def _statements(page: ChangesPage) -> list[tuple[str, tuple[object, ...]]]:
    """A checked page's changes as SQL; a key that does not match its row refuses the page.

    A change of a setting the lane owns (``terminal.toml``'s, provisioning's:
    :data:`clubcore.settings.LANE_OWNED_KEYS`) is skipped with a warning: the
    club never sets those, so such a change is a server's mistake or a hostile
    push, and must not re-point the lane's identity, readers or server.
    """
    out: list[tuple[str, tuple[object, ...]]] = []
    for change in page.changes:
        table = entity(change.entity)
        if table.name == "settings" and change.key in LANE_OWNED_KEYS:
            log.warning("ignored the club's change of the lane-owned setting %r", change.key)
            continue
        parts = table.split_key(change.key)
        if change.row is None:
            out.append((table.delete_sql(), tuple(parts)))
            continue
        row = table.row(list(change.row))
        if table.key_of(row) != change.key:
            raise ProtocolError(f"{table.name}: the row does not have the key {change.key!r:.80}")
        out.append((table.upsert_sql(), row))
    return out


def apply_page(db: sqlite_utils.Database, page: Mapping[str, Any]) -> tuple[int, bool]:
    """Apply one page of changes and its cursor in one transaction.

    Arguments:
        db: the terminal's database.
        page: the decoded answer, ``{"changes": [...], "cursor": n, "more": bool}``
            (:class:`clubcore.wire.ChangesPage`).

    Returns:
        ``(cursor, more)`` after the page.

    Raises:
        ProtocolError: a malformed change, an unknown entity or op, or a
            cursor behind the local one; nothing was applied.
    """
    checked = parse_answer(ChangesPage, page, "GET /v1/changes")
    statements = _statements(checked)
    with db.atomic():
        current = get_cursor(db)
        if current is not None and checked.cursor < current:
            raise ProtocolError(
                f"GET /v1/changes: the server's cursor {checked.cursor} is behind this "
                f"terminal's {current}",
                hint="was the server restored from a backup? re-provision the terminal",
            )
        for sql, params in statements:
            db.execute(sql, params)
        set_cursor(db, checked.cursor)
    return checked.cursor, checked.more


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

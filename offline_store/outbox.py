"""The outbox: records waiting to be pushed to the club server.

Entries are written in the same transaction as the record they carry
(:func:`offline_store.sales.record_sale`), keyed by an idempotency key, and
marked sent only after the server acknowledged them. They are never deleted
before that. An entry the server refused (``conflict``, ``rejected``) gets
``refused_at`` and is kept aside: neither pending nor sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

__all__ = ["OutboxEntry", "outbox_counts", "pending", "pending_count"]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    idempotency_key: str
    kind: str
    payload: str
    attempts: int


def outbox_counts(db: sqlite_utils.Database) -> tuple[int, int]:
    """``(pending, refused)`` outbox entries."""
    row = db.execute(
        "SELECT COALESCE(SUM(refused_at IS NULL), 0), COALESCE(SUM(refused_at IS NOT NULL), 0) "
        "FROM outbox WHERE sent_at IS NULL"
    ).fetchone()
    return int(row[0]), int(row[1])


def pending_count(db: sqlite_utils.Database) -> int:
    """How many entries wait to be pushed (refused ones do not)."""
    return outbox_counts(db)[0]


def pending(db: sqlite_utils.Database, limit: int = 100) -> list[OutboxEntry]:
    """The oldest ``limit`` entries waiting to be pushed, in commit order."""
    rows = db.execute(
        "SELECT seq, idempotency_key, kind, payload, attempts FROM outbox "
        "WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
        [limit],
    )
    return [OutboxEntry(*row) for row in rows]

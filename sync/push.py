"""The outbox relay: pending sales pushed to ``POST /v1/sales`` in batches.

An entry is *pending* while neither ``sent_at`` nor ``refused_at`` is set. A
batch (at most 500 entries and about 4 MiB of body) is posted with each
entry's stored payload as is (its ``sale_id`` is the idempotency key, so the
POST may be retried). The server answers per item, in order, and one local
transaction records every answer of the batch:

- ``created`` / ``duplicate``: ``sent_at`` is set, and the sale's ledger
  entries become ``confirmed`` with the answer's ``change_seq``;
- ``conflict`` / ``rejected``: ``refused_at`` and ``last_error`` are set;
  the entry is kept aside, never retried, and reported; the sale's pending
  ledger entries become ``refused`` (the club never counted them, so the
  member's local balance stops counting them too).

A whole-request failure (no answer, 4xx/5xx for the whole body) adds one to
``attempts`` and records ``last_error`` on every entry of the batch, and
raises: the caller backs off. An entry of another terminal or store (a sale
recorded before this terminal was provisioned as what it is now) is refused
locally without being sent: the server would refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from clubcore.errors import ClubError, ProtocolError
from offline_store.outbox import outbox_counts
from sync.http import SyncClient

__all__ = [
    "MAX_BATCH",
    "PendingEntry",
    "PushResult",
    "outbox_counts",
    "pending_entries",
    "push_outbox",
]

MAX_BATCH = 500
MAX_BODY_BYTES = 4 * 1024 * 1024
_SENT = frozenset({"created", "duplicate"})
_REFUSED = frozenset({"conflict", "rejected"})


@dataclass(frozen=True, slots=True)
class PushResult:
    """What one :func:`push_outbox` did."""

    created: int = 0
    duplicate: int = 0
    refused: int = 0
    batches: int = 0

    def __add__(self, other: PushResult) -> PushResult:
        return PushResult(
            self.created + other.created,
            self.duplicate + other.duplicate,
            self.refused + other.refused,
            self.batches + other.batches,
        )


@dataclass(frozen=True, slots=True)
class PendingEntry:
    key: str
    kind: str
    payload: str
    member_no: str | None = None


def pending_entries(db: sqlite_utils.Database, limit: int = MAX_BATCH) -> list[PendingEntry]:
    """The oldest pending entries (neither sent nor refused), in commit order, within one body."""
    rows = db.execute(
        "SELECT idempotency_key, kind, payload FROM outbox "
        "WHERE sent_at IS NULL AND refused_at IS NULL ORDER BY seq LIMIT ?",
        [min(limit, MAX_BATCH)],
    ).fetchall()
    batch: list[PendingEntry] = []
    size = 0
    for key, kind, payload in rows:
        size += len(payload) + 1
        if batch and size > MAX_BODY_BYTES:
            break
        batch.append(PendingEntry(str(key), str(kind), str(payload)))
    return batch


def _mine(entry: PendingEntry, terminal_id: str, store_id: str) -> PendingEntry | str:
    """``entry`` with its member number when this terminal may push it, else why not."""
    if entry.kind != "sale":
        return f"unknown outbox kind {entry.kind!r}"
    try:
        sale = json.loads(entry.payload)
        owner = (sale["terminal_id"], sale["store_id"])
        member = sale.get("member_no")
    except (ValueError, TypeError, KeyError, AttributeError):
        return "the stored payload is not a sale record"
    if owner != (terminal_id, store_id):
        return (
            f"recorded by terminal {owner[0]} of store {owner[1]}, "
            f"not this terminal ({terminal_id} of store {store_id})"
        )
    return replace(entry, member_no=member if isinstance(member, str) else None)


def _results(data: dict[str, Any], batch: list[PendingEntry]) -> list[dict[str, Any]]:
    """The per-item answers, checked against the batch."""
    results = data.get("results")
    if not isinstance(results, list) or len(results) != len(batch):
        raise ProtocolError("POST /v1/sales: 'results' does not answer every sale, in order")
    for result, entry in zip(results, batch, strict=True):
        if not isinstance(result, dict) or result.get("sale_id") != entry.key:
            raise ProtocolError(f"POST /v1/sales: no answer in order for sale {entry.key}")
        if result.get("status") not in _SENT | _REFUSED:
            raise ProtocolError(f"POST /v1/sales: unknown status {result.get('status')!r:.40}")
        seq = result.get("change_seq")
        if result["status"] in _SENT and not (seq is None or type(seq) is int):
            raise ProtocolError(f"POST /v1/sales: change_seq {seq!r:.40} is not a position")
    return results


def _record(
    db: sqlite_utils.Database,
    results: list[dict[str, Any]],
    members: dict[str, str | None],
    now: str,
) -> PushResult:
    """Record a batch's answers in one transaction (``members``: sale id -> member number)."""
    counts = {"created": 0, "duplicate": 0, "refused": 0}
    with db.atomic():
        for result in results:
            key, status = result["sale_id"], result["status"]
            if status in _SENT:
                db.execute("UPDATE outbox SET sent_at = ? WHERE idempotency_key = ?", [now, key])
                if members.get(key) is not None:  # by member first: the ledger's index
                    db.execute(
                        "UPDATE points_ledger SET state = 'confirmed', change_seq = ? "
                        "WHERE member_no = ? AND state = 'pending' AND sale_id = ?",
                        [result.get("change_seq"), members[key], key],
                    )
                counts[status] += 1
            else:
                error = f"{status}: {result.get('error') or 'no reason given'}"
                _refuse(db, key, members.get(key), error, now)
                counts["refused"] += 1
    return PushResult(counts["created"], counts["duplicate"], counts["refused"], 1)


def _refuse(
    db: sqlite_utils.Database, key: str, member_no: str | None, error: str, now: str
) -> None:
    db.execute(
        "UPDATE outbox SET refused_at = ?, last_error = ? WHERE idempotency_key = ?",
        [now, error[:1000], key],
    )
    if member_no is not None:  # by member first: the ledger's index
        db.execute(
            "UPDATE points_ledger SET state = 'refused' "
            "WHERE member_no = ? AND state = 'pending' AND sale_id = ?",
            [member_no, key],
        )


def _failed(db: sqlite_utils.Database, batch: list[PendingEntry], error: Exception) -> None:
    with db.atomic():
        db.conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE idempotency_key = ?",
            [(str(error)[:1000], entry.key) for entry in batch],
        )


def _push_batch(
    client: SyncClient, db: sqlite_utils.Database, batch: list[PendingEntry], now: str
) -> PushResult:
    body = ('{"sales": [' + ",".join(entry.payload for entry in batch) + "]}").encode()
    try:
        data = client.post_json("/v1/sales", body, retry_post=True, deadline=60)
        results = _results(data, batch)
    except ClubError as exc:
        _failed(db, batch, exc)
        raise
    members = {entry.key: entry.member_no for entry in batch}
    return _record(db, results, members, now)


def push_outbox(
    client: SyncClient,
    db: sqlite_utils.Database,
    *,
    terminal_id: str,
    store_id: str,
    batch_size: int = MAX_BATCH,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PushResult:
    """Push every pending outbox entry, batch by batch, until none is left.

    Arguments:
        client: a client with this terminal's credential.
        db: the terminal's database.
        terminal_id, store_id: this terminal's identity; others' entries are refused locally.
        batch_size: entries per request (at most 500).
        clock: the time recorded as ``sent_at`` / ``refused_at``.

    Returns:
        how many were created, duplicates, refused, and how many requests.

    Raises:
        ServerUnreachableError, ServerRejectedError, TerminalRevokedError,
        ProtocolError: a batch failed as a whole (recorded on its entries);
            batches before it stay acknowledged.
    """
    total = PushResult()
    while True:
        batch = pending_entries(db, batch_size)
        if not batch:
            return total
        now = clock().isoformat()
        mine: list[PendingEntry] = []
        with db.atomic():
            for entry in batch:
                checked = _mine(entry, terminal_id, store_id)
                if isinstance(checked, PendingEntry):
                    mine.append(checked)
                else:
                    _refuse(db, entry.key, entry.member_no, f"not sent: {checked}", now)
                    total += PushResult(refused=1)
        if mine:
            total += _push_batch(client, db, mine, now)

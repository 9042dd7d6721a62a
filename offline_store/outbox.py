"""The outbox: records waiting to be pushed to the club server, and their state machine.

Entries are written in the same transaction as the record they carry
(:func:`offline_store.sales.record_sale`), keyed by an idempotency key. This
module owns their states; nothing else updates the ``outbox`` rows or the
ledger states that follow them::

    pending ──(server: created, duplicate)──> sent        ledger entries: confirmed, change_seq
       │   └─(server: held)─────────────────> sent, held  ledger entries: held
       │   └─(server: conflict, rejected)──> refused     ledger entries: refused
       │   └─(not this terminal's sale)────> refused     (set aside locally, never sent)
       └──(the whole request failed)──────> pending     attempts + 1, last_error

An entry is **pending** while neither ``sent_at`` nor ``refused_at`` is set
(:data:`PENDING`, the one definition). A refused entry is kept aside: never
retried, reported, and never deleted. A sent entry is never deleted either.
A **held** entry is sent (``sent_at`` set, never retried: the club stored the
sale) and carries in ``held`` why the club holds its points for review (a
price or points figure its re-pricing does not match, a points limit, an
unknown member). It is reported (the club's operator releases or discards the
points; the lane is not told which, except through the member's balance).
The sale's points-ledger entries follow: ``pending`` until the answer, then
``confirmed`` with the answer's ``change_seq``, ``held`` (parked in the
club's suspense account, not the member's ledger) or ``refused`` (the club
never counted them). A held answer with a ``change_seq`` (the club debited
the points redeemed at the till at once) confirms the sale's ``redeem``
entries with it and holds the others. Neither held nor refused entries count
in the member's local balance: a held sale's points reach it, if the
operator releases them, as the member's ``points_base`` in a delta.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import sqlite_utils

__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "PENDING",
    "Answer",
    "OutboxCounts",
    "OutboxEntry",
    "Outcome",
    "mark_held",
    "mark_refused",
    "mark_sent",
    "next_batch",
    "outbox_counts",
    "pending_count",
    "pending_summary",
    "record_answers",
    "record_failure",
]

#: entries per push, and about how many payload bytes (the protocol's limit is 8 MiB)
MAX_BATCH = 500
MAX_BODY_BYTES = 4 * 1024 * 1024
#: the SQL condition of a pending entry (neither sent nor refused)
PENDING = "sent_at IS NULL AND refused_at IS NULL"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    idempotency_key: str
    kind: str
    payload: str
    attempts: int


class Outcome(StrEnum):
    """What became of an entry once answered (see the module docstring)."""

    SENT = "sent"  # stored by the club, its points credited
    HELD = "held"  # stored by the club, its points held for review
    REFUSED = "refused"  # not stored: set aside


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of one entry: sent (with the change seq), held or refused (with why).

    ``member_no`` is the sale's member, whose ledger entries follow the entry;
    ``error`` is why it was held or refused; ``change_seq`` of a held entry is
    that of the redemption the club applied at once, if any (:func:`mark_held`).
    """

    key: str
    member_no: str | None
    outcome: Outcome
    change_seq: int | None = None
    error: str = ""


class OutboxCounts(NamedTuple):
    """Entries waiting to be pushed, set aside (refused), and sent but held by the club."""

    pending: int
    refused: int
    held: int


def next_batch(
    db: sqlite_utils.Database, limit: int = MAX_BATCH, max_bytes: int = MAX_BODY_BYTES
) -> list[OutboxEntry]:
    """The oldest pending entries, in commit order: at most ``limit`` and about ``max_bytes``.

    The first entry is always included, however large.
    """
    rows = db.execute(
        f"SELECT seq, idempotency_key, kind, payload, attempts FROM outbox WHERE {PENDING} "
        "ORDER BY seq LIMIT ?",
        [min(limit, MAX_BATCH)],
    ).fetchall()
    batch: list[OutboxEntry] = []
    size = 0
    for row in rows:
        size += len(row[3]) + 1
        if batch and size > max_bytes:
            break
        batch.append(OutboxEntry(int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4])))
    return batch


def mark_sent(
    db: sqlite_utils.Database, key: str, member_no: str | None, change_seq: int | None, now: str
) -> None:
    """The server stored the entry: sent, its ledger entries confirmed (caller's transaction)."""
    db.execute("UPDATE outbox SET sent_at = ? WHERE idempotency_key = ?", [now, key])
    if member_no is not None:  # by member first: the ledger's index
        db.execute(
            "UPDATE points_ledger SET state = 'confirmed', change_seq = ? "
            "WHERE member_no = ? AND state = 'pending' AND sale_id = ?",
            [change_seq, member_no, key],
        )


def mark_refused(
    db: sqlite_utils.Database, key: str, member_no: str | None, error: str, now: str
) -> None:
    """The entry is set aside with ``error``; its ledger entries refused (caller's transaction)."""
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


def mark_held(
    db: sqlite_utils.Database,
    key: str,
    member_no: str | None,
    reason: str,
    now: str,
    change_seq: int | None = None,
) -> None:
    """The server stored the entry but holds its points: sent, held with ``reason``, its
    ledger entries held (caller's transaction).

    A ``change_seq`` says the club applied the sale's redemption at once (the
    discount was given at the till) in that member change: its ``redeem``
    entries are then ``confirmed`` with it, and only the others held.
    """
    db.execute(
        "UPDATE outbox SET sent_at = ?, held = ? WHERE idempotency_key = ?",
        [now, reason[:1000], key],
    )
    if member_no is None:
        return
    if change_seq is not None:  # by member first: the ledger's index
        db.execute(
            "UPDATE points_ledger SET state = 'confirmed', change_seq = ? "
            "WHERE member_no = ? AND state = 'pending' AND sale_id = ? AND kind = 'redeem'",
            [change_seq, member_no, key],
        )
    db.execute(
        "UPDATE points_ledger SET state = 'held' "
        "WHERE member_no = ? AND state = 'pending' AND sale_id = ?",
        [member_no, key],
    )


def record_answers(db: sqlite_utils.Database, answers: Iterable[Answer], now: str) -> None:
    """Record what became of entries, all in one transaction."""
    with db.atomic():
        for answer in answers:
            if answer.outcome is Outcome.SENT:
                mark_sent(db, answer.key, answer.member_no, answer.change_seq, now)
            elif answer.outcome is Outcome.HELD:
                mark_held(db, answer.key, answer.member_no, answer.error, now, answer.change_seq)
            else:
                mark_refused(db, answer.key, answer.member_no, answer.error, now)


def record_failure(db: sqlite_utils.Database, keys: Iterable[str], error: str) -> None:
    """A whole push failed: the entries stay pending, one attempt more, ``error`` noted."""
    with db.atomic():
        db.conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE idempotency_key = ?",
            [(error[:1000], key) for key in keys],
        )


def outbox_counts(db: sqlite_utils.Database) -> OutboxCounts:
    """Pending, refused and held outbox entries."""
    row = db.execute(
        f"SELECT COALESCE(SUM({PENDING}), 0), COALESCE(SUM(refused_at IS NOT NULL), 0), "
        "(SELECT COUNT(*) FROM outbox WHERE held IS NOT NULL) "  # the partial index outbox_held
        "FROM outbox WHERE sent_at IS NULL"  # the partial index outbox_pending
    ).fetchone()
    return OutboxCounts(int(row[0]), int(row[1]), int(row[2]))


def pending_count(db: sqlite_utils.Database) -> int:
    """How many entries wait to be pushed (refused ones do not)."""
    return outbox_counts(db)[0]


def pending_summary(db: sqlite_utils.Database) -> tuple[int, str | None]:
    """How many entries are pending, and the ``created_at`` of the oldest (None if none)."""
    row = db.execute(f"SELECT COUNT(*), MIN(created_at) FROM outbox WHERE {PENDING}").fetchone()
    return int(row[0]), None if row[1] is None else str(row[1])

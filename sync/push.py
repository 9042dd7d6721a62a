"""The outbox relay: pending sales pushed to ``POST /v1/sales`` in batches.

This module speaks HTTP; the outbox's states are :mod:`offline_store.outbox`'s
(what *pending* means, the next batch, sent, held, refused, a failed attempt). A
batch (at most 500 entries and about 4 MiB of body) is posted with each
entry's stored payload as is (its ``sale_id`` is the idempotency key, so the
POST may be retried). The server answers per item, in order
(:class:`clubcore.wire.SalesResults`), and one local transaction records
every answer of the batch:

- ``created`` / ``duplicate``: the entry is sent, and the sale's ledger
  entries become ``confirmed`` with the answer's ``change_seq``;
- ``held``: the club stored the sale but holds its points for review (its
  ``error`` says why): the entry is sent (never retried) and held with that
  reason, and the sale's ledger entries ``held`` (not in the local balance;
  released points come back as the member's balance in a delta), except its
  redemption when the answer has a ``change_seq`` (the club debited it at
  once): ``confirmed`` with it;
- ``conflict`` / ``rejected``: the entry is refused (kept aside, never
  retried, and reported) and the sale's pending ledger entries ``refused``.

A whole-request failure (no answer, 4xx/5xx for the whole body, an answer
that breaks the protocol) is recorded on every entry of the batch (one
attempt more) and raised: the caller backs off. An entry of another terminal
or store (a sale recorded before this terminal was provisioned as what it is
now) is refused locally without being sent: the server would refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from clubcore.errors import ClubError, ProtocolError
from clubcore.wire import SaleAccepted, SaleHeld, SalesResults
from offline_store.outbox import (
    MAX_BATCH,
    Answer,
    OutboxEntry,
    Outcome,
    next_batch,
    outbox_counts,
    record_answers,
    record_failure,
)
from sync.http import SyncClient, parse_answer

__all__ = ["MAX_BATCH", "PushResult", "outbox_counts", "push_outbox"]

_PATH = "/v1/sales"
_WHAT = f"POST {_PATH}"


@dataclass(frozen=True, slots=True)
class PushResult:
    """What one :func:`push_outbox` did."""

    created: int = 0
    duplicate: int = 0
    refused: int = 0
    batches: int = 0
    held: int = 0  # stored by the club, points held for review

    def __add__(self, other: PushResult) -> PushResult:
        return PushResult(
            self.created + other.created,
            self.duplicate + other.duplicate,
            self.refused + other.refused,
            self.batches + other.batches,
            self.held + other.held,
        )


def _owner(entry: OutboxEntry, terminal_id: str, store_id: str) -> str | None:
    """The sale's member number, or raise ValueError saying why this terminal may not push it."""
    if entry.kind != "sale":
        raise ValueError(f"unknown outbox kind {entry.kind!r}")
    try:
        sale = json.loads(entry.payload)
        owner = (sale["terminal_id"], sale["store_id"])
        member = sale.get("member_no")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ValueError("the stored payload is not a sale record") from None
    if owner != (terminal_id, store_id):
        raise ValueError(
            f"recorded by terminal {owner[0]} of store {owner[1]}, "
            f"not this terminal ({terminal_id} of store {store_id})"
        )
    return member if isinstance(member, str) else None


def _answers(
    data: dict[str, object], batch: list[OutboxEntry], members: dict[str, str | None]
) -> tuple[list[Answer], PushResult]:
    """The per-item answers (:class:`clubcore.wire.SalesResults`), checked against the batch.

    Raises:
        ProtocolError: not one answer per sale, in order.
    """
    results = parse_answer(SalesResults, data, _WHAT).results
    if len(results) != len(batch):
        raise ProtocolError(f"{_WHAT}: 'results' does not answer every sale, in order")
    answers = []
    for result, entry in zip(results, batch, strict=True):
        key = entry.idempotency_key
        if result.sale_id != key:
            raise ProtocolError(f"{_WHAT}: no answer in order for sale {key}")
        if isinstance(result, SaleAccepted):
            answers.append(Answer(key, members[key], Outcome.SENT, result.change_seq))
        elif isinstance(result, SaleHeld):
            reason = result.error or "no reason given"
            answers.append(Answer(key, members[key], Outcome.HELD, result.change_seq, reason))
        else:
            error = f"{result.status}: {result.error or 'no reason given'}"
            answers.append(Answer(key, members[key], Outcome.REFUSED, error=error))
    statuses = [result.status for result in results]
    created, duplicate, held = (statuses.count(s) for s in ("created", "duplicate", "held"))
    refused = len(results) - created - duplicate - held
    return answers, PushResult(created, duplicate, refused, 1, held)


def _push_batch(
    client: SyncClient,
    db: sqlite_utils.Database,
    batch: list[OutboxEntry],
    members: dict[str, str | None],
    now: str,
) -> PushResult:
    body = ('{"sales": [' + ",".join(entry.payload for entry in batch) + "]}").encode()
    try:
        data = client.post_json(_PATH, body, retry_post=True, deadline=60)
        answers, result = _answers(data, batch, members)
    except ClubError as exc:
        record_failure(db, [entry.idempotency_key for entry in batch], str(exc))
        raise
    record_answers(db, answers, now)
    return result


def _refused_locally(entry: OutboxEntry, why: ValueError) -> Answer:
    return Answer(entry.idempotency_key, None, Outcome.REFUSED, error=f"not sent: {why}")


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
        how many were created, duplicates, refused, held, and how many requests.

    Raises:
        ServerUnreachableError, ServerRejectedError, TerminalRevokedError,
        ProtocolError: a batch failed as a whole (recorded on its entries);
            batches before it stay acknowledged.
    """
    total = PushResult()
    while True:
        batch = next_batch(db, batch_size)
        if not batch:
            return total
        now = clock().isoformat()
        mine: list[OutboxEntry] = []
        members: dict[str, str | None] = {}
        not_mine: list[Answer] = []
        for entry in batch:
            try:
                members[entry.idempotency_key] = _owner(entry, terminal_id, store_id)
                mine.append(entry)
            except ValueError as exc:
                not_mine.append(_refused_locally(entry, exc))
        record_answers(db, not_mine, now)
        total += PushResult(refused=len(not_mine))
        if mine:
            total += _push_batch(client, db, mine, members, now)

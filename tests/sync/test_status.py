from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clubcore.errors import ServerRejectedError, ServerUnreachableError, TerminalRevokedError
from offline_store.outbox import OutboxCounts
from sync.status import StatusBoard, SyncStatus


def test_offline_since_the_first_failure_until_a_success() -> None:
    now = [datetime(2026, 11, 22, 9, 0, tzinfo=UTC)]
    board = StatusBoard(clock=lambda: now[0])
    seen: list[SyncStatus] = []
    unsubscribe = board.subscribe(seen.append)
    assert board.status.online is None
    board.failed(ServerUnreachableError("down"))
    first = board.status.offline_since
    now[0] += timedelta(minutes=5)
    board.failed(ServerUnreachableError("still down"))
    assert board.status.online is False and board.status.offline_since == first
    assert board.status.last_error == "still down"
    board.backlog(OutboxCounts(3, 1, 2), 42)
    board.succeeded()
    status = board.status
    assert status.online and status.offline_since is None and status.last_error is None
    assert (status.pending, status.refused, status.held, status.cursor) == (3, 1, 2, 42)
    assert status.last_success == now[0]
    assert len(seen) == 4
    unsubscribe()
    board.succeeded()
    assert len(seen) == 4
    assert status.as_dict()["last_success"] == now[0].isoformat()


def test_a_refusal_is_online_and_revocation_sticks() -> None:
    board = StatusBoard()
    board.failed(ServerRejectedError("401", code="unauthorized", status=401))
    assert board.status.online is True and board.status.last_error
    board.failed(TerminalRevokedError("revoked", code="terminal-revoked", status=403))
    board.failed(ServerUnreachableError("down"))
    assert board.status.revoked and board.status.online is False

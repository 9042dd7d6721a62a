"""What the UI shows about sync: online or not, the backlog, the last success and error.

:class:`StatusBoard` is written by the sync threads and read by anyone; each
change makes a new immutable :class:`SyncStatus` and calls the subscribers
(on the writing thread: a Kivy screen marshals to its own thread with
``Clock.schedule_once``).

"Online" means the server answered the last call, even with a refusal; only
:class:`~clubcore.errors.ServerUnreachableError` (no answer, TLS failure,
429/5xx after retries) makes the terminal offline. A revoked terminal stays
``revoked`` until it is provisioned again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from clubcore.errors import ServerUnreachableError, TerminalRevokedError
from offline_store.outbox import OutboxCounts, pending_summary

__all__ = ["StatusBoard", "SyncStatus", "prometheus_text", "stored_sync_state"]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """One moment of the sync state."""

    online: bool | None = None  # None: not tried yet
    pending: int = 0
    refused: int = 0  # set aside: the club did not store them
    held: int = 0  # stored by the club, their points held for review
    cursor: int | None = None
    last_success: datetime | None = None
    offline_since: datetime | None = None
    last_error: str | None = None
    revoked: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 text)."""
        data = asdict(self)
        for key in ("last_success", "offline_since"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


Listener = Callable[[SyncStatus], None]


class StatusBoard:
    """The current :class:`SyncStatus`, updated from any thread."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._status = SyncStatus()
        self._listeners: list[Listener] = []

    @property
    def status(self) -> SyncStatus:
        """The latest status."""
        with self._lock:
            return self._status

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every new status; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _update(self, **changes: Any) -> SyncStatus:
        with self._lock:
            self._status = replace(self._status, **changes)
            status, listeners = self._status, list(self._listeners)
        for listener in listeners:
            listener(status)
        return status

    def backlog(self, counts: OutboxCounts, cursor: int | None = None) -> SyncStatus:
        """Record the outbox's counts (and the delta cursor, when known)."""
        changes: dict[str, Any] = counts._asdict()
        if cursor is not None:
            changes["cursor"] = cursor
        return self._update(**changes)

    def succeeded(self) -> SyncStatus:
        """Record a call the server answered."""
        return self._update(
            online=True, last_success=self._clock(), offline_since=None, last_error=None
        )

    def failed(self, error: BaseException) -> SyncStatus:
        """Record a failure: offline when the server did not answer; revoked when revoked."""
        now = self._clock()
        with self._lock:
            current = self._status
        if isinstance(error, ServerUnreachableError):
            since = current.offline_since if current.online is False else now
            return self._update(online=False, offline_since=since or now, last_error=str(error))
        return self._update(
            online=True,
            offline_since=None,
            last_error=str(error),
            revoked=current.revoked or isinstance(error, TerminalRevokedError),
        )


def stored_sync_state(db: sqlite_utils.Database, now: datetime) -> dict[str, Any]:
    """What the data directory says about sync, for ``status`` and a scraper (any process).

    ``outbox_lag_seconds`` is the age of the oldest sale still waiting to be
    pushed (0 when none waits); ``last_push_at`` the last time the server
    took a sale; ``delta_cursor`` and ``last_pull_at`` where the delta puller
    stands and when it last moved.
    """
    pending, oldest = pending_summary(db)
    last_push = db.execute("SELECT MAX(sent_at) FROM outbox").fetchone()[0]
    cursor = db.execute(
        "SELECT cursor, updated_at FROM sync_cursors WHERE stream = 'changes'"
    ).fetchone()
    return {
        "outbox_pending": pending,
        "outbox_oldest_pending_at": oldest,
        "outbox_lag_seconds": _age(oldest, now),
        "last_push_at": last_push,
        "delta_cursor": int(cursor[0]) if cursor else None,
        "last_pull_at": cursor[1] if cursor else None,
    }


def _age(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return 0.0
    try:
        then = datetime.fromisoformat(stamp)
    except ValueError:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return round(max(0.0, (now - then).total_seconds()), 1)


def prometheus_text(terminal_id: str | None, state: dict[str, Any]) -> str:
    """``state`` in Prometheus' text format (for node_exporter's textfile collector)."""
    label = f'{{terminal="{terminal_id or "unprovisioned"}"}}'
    lines = []
    for name, key, help_text in (
        ("club_lane_outbox_pending", "outbox_pending", "Sales waiting to be pushed"),
        ("club_lane_outbox_lag_seconds", "outbox_lag_seconds", "Age of the oldest waiting sale"),
        ("club_lane_outbox_refused", "outbox_refused", "Sales the club refused (set aside)"),
        ("club_lane_outbox_held", "outbox_held", "Sales the club holds the points of"),
        ("club_lane_delta_cursor", "delta_cursor", "The delta puller's position"),
    ):
        value = state.get(key)
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines.append(f"{name}{label} {0 if value is None else value}")
    for name, key in (("club_lane_last_push_timestamp", "last_push_at"),
                      ("club_lane_last_pull_timestamp", "last_pull_at")):  # fmt: skip
        stamp = state.get(key)
        lines += [f"# TYPE {name} gauge", f"{name}{label} {_unix(stamp)}"]
    return "\n".join(lines) + "\n"


def _unix(stamp: str | None) -> float:
    try:
        then = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        then = None
    if then is None:
        return 0.0
    return (then if then.tzinfo else then.replace(tzinfo=UTC)).timestamp()

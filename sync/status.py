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

from clubcore.errors import ServerUnreachableError, TerminalRevokedError
from offline_store.outbox import OutboxCounts

__all__ = ["StatusBoard", "SyncStatus"]


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

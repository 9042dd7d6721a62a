"""The one thread that owns the terminal's database and runs its operations.

SQLite connections belong to the thread that opened them, and the UI thread
must never wait on the disk; so :class:`Worker` opens the session (the
:class:`~terminal.bootstrap.Terminal` and its checkout) on its own thread
and runs submitted operations there, one at a time, in order. Each result or
error is handed back through ``post`` (in the app: ``Clock.schedule_once``),
so callbacks run on the UI thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Post", "Worker"]

log = logging.getLogger(__name__)

S = TypeVar("S")
T = TypeVar("T")

#: run a callable on the UI thread soon (must be thread-safe)
Post = Callable[[Callable[[], None]], None]
Failed = Callable[[BaseException], None]
_Job = tuple[Callable[[Any], Any], Callable[[Any], None] | None, Failed | None]


class Worker(Generic[S]):
    """Runs ``op(session)`` calls on one thread; see the module docstring."""

    def __init__(
        self,
        open_session: Callable[[], S],
        post: Post,
        *,
        close_session: Callable[[S], None] | None = None,
        on_fatal: Failed | None = None,
    ) -> None:
        """Arguments:
        open_session: builds the session, called on the worker thread.
        post: hands a callable to the UI thread.
        close_session: called on the worker thread when it stops.
        on_fatal: posted when the session cannot be opened.
        """
        self._open = open_session
        self._close = close_session
        self._post = post
        self._on_fatal = on_fatal
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._main, name="ui worker", daemon=True)
        self.busy = 0
        self._busy_lock = threading.Lock()  # submit() may come from reader threads

    def start(self) -> None:
        """Start the thread (the session opens on it)."""
        self._thread.start()

    def submit(
        self,
        op: Callable[[S], T],
        done: Callable[[T], None] | None = None,
        failed: Failed | None = None,
    ) -> None:
        """Queue ``op``; ``done(result)`` or ``failed(error)`` runs later on the UI thread."""
        with self._busy_lock:
            self.busy += 1
        self._jobs.put((op, done, failed))

    def stop(self, timeout: float = 5.0) -> None:
        """Finish queued jobs, close the session and join the thread."""
        self._jobs.put(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _main(self) -> None:
        try:
            session = self._open()
        except Exception as exc:  # shown to the person; nothing else can run
            log.exception("the terminal could not be opened")
            if self._on_fatal is not None:
                fatal, error = self._on_fatal, exc
                self._post(lambda: fatal(error))
            return
        try:
            while (job := self._jobs.get()) is not None:
                self._run(session, *job)
        finally:
            if self._close is not None:
                self._close(session)

    def _run(
        self,
        session: S,
        op: Callable[[S], Any],
        done: Callable[[Any], None] | None,
        failed: Failed | None,
    ) -> None:
        try:
            result = op(session)
        except Exception as exc:
            if failed is None:
                log.exception("worker operation failed")
            error: BaseException = exc
            self._post(lambda: self._finish(failed, error))
            return
        self._post(lambda: self._finish(done, result))

    def _finish(self, callback: Callable[[Any], None] | None, value: Any) -> None:
        with self._busy_lock:
            self.busy -= 1
        if callback is not None:
            callback(value)

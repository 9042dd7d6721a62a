"""Fixtures for reader tests: a real pcscd with the vpcd driver, virtual cards, events.

pcscd: if one is already answering on its socket (a system service), the tests
use it and the restart test is skipped; otherwise the session starts
``pcscd --foreground`` as a subprocess, stops it at the end, and lets a test
stop and start it again. The tests skip only when pcscd or the vpcd driver is
not installed (``apt install pcscd vsmartcard-vpcd``).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator

import pytest

from terminal.readers.base import CardKind, CardRead, ReaderEvent, ReaderState, ReaderStatus
from terminal.readers.pcsc import PcscReader
from tests.pcsc_stack import READER, Pcscd


class Events:
    """A reader sink that tests wait on."""

    def __init__(self) -> None:
        self.queue: queue.Queue[ReaderEvent] = queue.Queue()
        self.seen: list[ReaderEvent] = []

    def __call__(self, event: ReaderEvent) -> None:
        self.queue.put(event)

    def next(self, match: Callable[[ReaderEvent], bool], timeout: float = 10.0) -> ReaderEvent:
        """The next event that matches; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.queue.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                history = "\n".join(map(repr, self.seen[-15:]))
                pytest.fail(f"no matching event in {timeout} s; last events:\n{history}")
            self.seen.append(event)
            if match(event):
                return event

    def status(self, state: ReaderState, timeout: float = 10.0) -> ReaderStatus:
        event = self.next(lambda e: isinstance(e, ReaderStatus) and e.state is state, timeout)
        assert isinstance(event, ReaderStatus)
        return event

    def card(self, timeout: float = 10.0) -> CardRead:
        """The next card read, failing if a refused (failed) read comes first."""
        event = self.next(lambda e: isinstance(e, CardRead), timeout)
        assert isinstance(event, CardRead)
        assert event.error is None, f"expected a card, got a failed read {event!r}"
        return event

    def refusal(self, timeout: float = 10.0) -> CardRead:
        """The next failed read of a present card, failing if a good read comes first."""
        event = self.next(lambda e: isinstance(e, CardRead), timeout)
        assert isinstance(event, CardRead) and event.error is not None, event
        assert event.kind is CardKind.UNREADABLE
        return event

    def drain(self) -> list[ReaderEvent]:
        """Every event so far, the queued ones included."""
        while not self.queue.empty():
            self.seen.append(self.queue.get())
        return self.seen

    def error(self, timeout: float = 10.0) -> ReaderStatus:
        """The next ERROR status, failing if a card is read first."""
        event = self.next(
            lambda e: isinstance(e, CardRead) or e.state is ReaderState.ERROR, timeout
        )
        assert isinstance(event, ReaderStatus), f"expected an error, got {event!r}"
        return event


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def reader(pcscd: Pcscd, events: Events) -> Iterator[PcscReader]:
    """A started PcscReader on "Virtual PCD 00 00", already READY."""
    rdr = PcscReader(f"pcsc:{READER}", READER)
    rdr.start(events)
    events.status(ReaderState.READY)
    yield rdr
    rdr.stop()
    assert rdr._thread is None

"""Simulated reader: cards are presented by code (the demo's on-screen cards, tests).

========================  =========
feature                   supported
========================  =========
UID, NDEF, text           yes, whatever is presented
status events             ready / stopped
hardware                  none
========================  =========

``present()`` may be called from any thread; the read is delivered on the
reader's own thread, exactly as a hardware driver would deliver it.
"""

from __future__ import annotations

import dataclasses
import queue
import time

from terminal.readers.base import CardRead, ReaderState, ThreadedReader

__all__ = ["SimReader", "open"]


class SimReader(ThreadedReader):
    """A reader fed by :meth:`present`."""

    def __init__(self, path: str = "sim") -> None:
        super().__init__(path)
        self._queue: queue.Queue[CardRead | None] = queue.Queue()

    def present(self, read: CardRead) -> None:
        """Present a card; it is delivered with this reader as source and a fresh timestamp."""
        self._queue.put(read)

    def interrupt(self) -> None:
        self._queue.put(None)

    def run(self) -> None:
        self.status(ReaderState.READY, "simulated reader")
        while not self.stopping.is_set():
            item = self._queue.get()
            if item is None:
                continue
            self.emit(dataclasses.replace(item, source=self.path, monotonic=time.monotonic()))


def open(path: str, rest: str) -> SimReader:
    return SimReader(path)

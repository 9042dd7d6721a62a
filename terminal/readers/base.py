"""The one reader interface every driver implements, and the events it emits.

A reader runs its card I/O on its own thread and hands events to a *sink*, a
callable that must be cheap and thread-safe (a ``queue.Queue.put``, or a
Kivy ``Clock.schedule_once`` wrapper). Two kinds of events exist:

- :class:`CardRead`: a card (or scan, or keyed entry) was read. It carries the
  raw facts only (UID, NDEF bytes, text); deciding whether the card is
  genuine is the verifier's job, not the driver's. A card that was present
  but could not be read (garbage or truncated replies, pulled away mid-read,
  an oversized message) is a :class:`CardRead` too, with ``error`` set: the
  verifier refuses it with that reason, so a failed read is never taken for
  a UID-only card, nor for no card at all.
- :class:`ReaderStatus`: the reader's state changed (ready, error,
  reconnecting, ...), with a human-readable detail.

Drivers subclass :class:`ThreadedReader` and implement :meth:`ThreadedReader.run`,
which loops until ``self.stopping`` is set and never lets an exception escape:
an unexpected error becomes a status event and a retry with backoff.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "Backoff",
    "CardKind",
    "CardRead",
    "Reader",
    "ReaderEvent",
    "ReaderState",
    "ReaderStatus",
    "Sink",
    "ThreadedReader",
]

log = logging.getLogger(__name__)


class CardKind(enum.StrEnum):
    """What kind of medium produced a :class:`CardRead`."""

    NFC_TYPE2 = "nfc-type2"  # NTAG21x / MIFARE Ultralight, NDEF in pages
    NFC_TYPE3 = "nfc-type3"  # FeliCa
    NFC_TYPE4 = "nfc-type4"  # ISO 14443-4 NDEF application
    CONTACT = "contact"  # ISO 7816 contact card, payload in a file selected by AID
    UID_ONLY = "uid-only"  # a chip whose UID we can read but no NDEF (MIFARE Classic ...)
    UNREADABLE = "unreadable"  # a card was present, but its read failed (``CardRead.error``)
    WEDGE = "wedge"  # keyboard-wedge scanner: barcode, QR, magstripe
    MANUAL = "manual"  # keyed in by the cashier


@dataclass(frozen=True, slots=True)
class CardRead:
    """A card, scan or keyed entry, as read; not yet verified.

    Attributes:
        source: the reader path that produced it (``pcsc:Virtual PCD 00 00``).
        kind: the medium.
        uid: the chip UID, if the medium has one.
        ndef: the raw NDEF message bytes read from the card, if any.
        text: the scanned or keyed text (wedge and manual entry), if any.
        monotonic: ``time.monotonic()`` when the read completed.
        atr: the ATR of a PC/SC card, if any (diagnostics).
        error: why a card that was present could not be read; such a read is
            always refused (:func:`terminal.verifier.identify`).
        chip_signature: what an NTAG21x answered to READ_SIG (its maker's
            originality signature over the UID, 32 bytes when genuine), or None
            when the reader or the chip did not give one
            (:mod:`clubcore.originality`).
    """

    source: str
    kind: CardKind
    uid: bytes | None = None
    ndef: bytes | None = None
    text: str | None = None
    monotonic: float = field(default_factory=time.monotonic)
    atr: bytes | None = None
    error: str | None = None
    chip_signature: bytes | None = None


class ReaderState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"  # waiting for a card
    READING = "reading"  # a card is being read
    ERROR = "error"  # a read or the device failed; the driver will retry
    RECONNECTING = "reconnecting"  # the device or service went away; retrying with backoff
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    """A reader's state changed. ``detail`` is for the technician's eyes."""

    source: str
    state: ReaderState
    detail: str = ""
    monotonic: float = field(default_factory=time.monotonic)


ReaderEvent = CardRead | ReaderStatus
Sink = Callable[[ReaderEvent], None]


class Reader(ABC):
    """One card reader (or scanner, or simulated source).

    Readers are created by :func:`terminal.readers.open_reader` from a path.
    """

    #: the path this reader was opened from, as given
    path: str

    @abstractmethod
    def start(self, sink: Sink) -> None:
        """Start reading on a background thread, delivering events to ``sink``.

        Arguments:
            sink: called from the reader's thread for every event; must not block.

        Raises:
            ReaderUnavailableError: the reader cannot be started at all
                (missing library, bad path). Transient faults do not raise;
                they are reported as :class:`ReaderStatus` events.
        """

    @abstractmethod
    def stop(self, timeout: float = 5.0) -> None:
        """Ask the reader to stop and wait up to ``timeout`` seconds for its thread.

        Idempotent; never raises.
        """


class Backoff:
    """Exponential backoff with full jitter, for reconnect loops.

    ``next()`` returns the next delay in seconds: random in [0, min(cap, base * 2**n)],
    never below ``floor``. ``reset()`` after a success.
    """

    def __init__(self, base: float = 0.2, cap: float = 10.0, floor: float = 0.05) -> None:
        self.base = base
        self.cap = cap
        self.floor = floor
        self.attempt = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return max(self.floor, random.uniform(0, ceiling))

    def reset(self) -> None:
        self.attempt = 0


class ThreadedReader(Reader):
    """Base for drivers: owns the thread, the stop flag and status de-duplication."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stopping = threading.Event()
        self._sink: Sink | None = None
        self._thread: threading.Thread | None = None
        self._last_state: tuple[ReaderState, str] | None = None

    def start(self, sink: Sink) -> None:
        if self._thread is not None:
            return
        self._sink = sink
        self.stopping.clear()
        self._thread = threading.Thread(target=self._main, name=f"reader {self.path}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.interrupt()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def interrupt(self) -> None:
        """Wake a blocking wait in :meth:`run` so that it sees ``stopping``. Optional."""

    def emit(self, event: ReaderEvent) -> None:
        """Deliver an event to the sink; a failing sink is logged, never fatal."""
        sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception:  # the sink is someone else's code; keep reading cards
            log.exception("reader %s: event sink failed", self.path)

    def refuse(self, detail: str, uid: bytes | None = None, atr: bytes | None = None) -> None:
        """Report a card that was present but could not be read.

        Emits an ERROR status for the technician, then a :class:`CardRead` of
        kind :attr:`CardKind.UNREADABLE` with ``error=detail`` for whoever
        identifies cards (the verifier refuses it with this reason).
        """
        self.status(ReaderState.ERROR, detail)
        self.emit(CardRead(self.path, CardKind.UNREADABLE, uid=uid, atr=atr, error=detail))

    def status(self, state: ReaderState, detail: str = "") -> None:
        """Emit a status event unless it repeats the previous one exactly."""
        if self._last_state == (state, detail):
            return
        self._last_state = (state, detail)
        self.emit(ReaderStatus(self.path, state, detail))

    def sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; returns True when the reader should stop."""
        return self.stopping.wait(seconds)

    def _main(self) -> None:
        self.status(ReaderState.STARTING)
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                self.run()
            except Exception as exc:  # a driver bug must not kill the terminal
                log.exception("reader %s crashed; restarting", self.path)
                self.status(ReaderState.ERROR, f"{type(exc).__name__}: {exc}")
                if self.sleep(backoff.next()):
                    break
            else:
                break
        self.status(ReaderState.STOPPED)

    @abstractmethod
    def run(self) -> None:
        """The driver's loop: read cards until ``self.stopping`` is set.

        Runs on the reader's thread. Should handle its own transient errors
        (emitting status events and backing off); anything that escapes is
        logged, reported as an ERROR status, and ``run`` is called again after
        a backoff.
        """

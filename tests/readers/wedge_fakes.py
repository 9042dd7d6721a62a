"""Fakes for the wedge driver's transport, and a typist that makes real evdev events.

There is no ``/dev/uinput`` here, so the fake stands in for ``evdev.InputDevice``
only: a pipe gives it a real file descriptor for ``select()``, and it hands out
real ``evdev.InputEvent`` objects with real ``ecodes``. Everything above the
transport (decoding, the read loop, reconnecting) is the driver's own code.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import suppress

import pytest
from evdev import InputEvent, ecodes

from terminal.readers.base import CardRead, ReaderEvent, ReaderState, ReaderStatus
from terminal.readers.wedge import InputInfo

#: every key of a US keyboard's main block: what the fake devices declare
KEYBOARD_KEYS = frozenset(range(ecodes.KEY_ESC, ecodes.KEY_KPDOT + 1))

# the US layout written out independently of the driver's table: char -> (key, shift)
_ROWS = {
    "1234567890-=": "!@#$%^&*()_+",
    "qwertyuiop[]": "QWERTYUIOP{}",
    "asdfghjkl;'": 'ASDFGHJKL:"',
    "zxcvbnm,./": "ZXCVBNM<>?",
    "`\\": "~|",
}
_NAMES = {
    "-": "MINUS",
    "=": "EQUAL",
    "[": "LEFTBRACE",
    "]": "RIGHTBRACE",
    ";": "SEMICOLON",
    "'": "APOSTROPHE",
    ",": "COMMA",
    ".": "DOT",
    "/": "SLASH",
    "`": "GRAVE",
    "\\": "BACKSLASH",
}
US: dict[str, tuple[int, bool]] = {" ": (ecodes.KEY_SPACE, False)}
for _plain, _shifted in _ROWS.items():
    for _p, _s in zip(_plain, _shifted, strict=True):
        _code = ecodes.ecodes[f"KEY_{_NAMES.get(_p, _p.upper())}"]
        US[_p], US[_s] = (_code, False), (_code, True)

ENDINGS = {"enter": ecodes.KEY_ENTER, "kpenter": ecodes.KEY_KPENTER, "tab": ecodes.KEY_TAB}


class Typist:
    """Makes the key events a scanner (or a person) sends, on a virtual clock."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def event(self, type_: int, code: int, value: int) -> InputEvent:
        sec = int(self.now)
        return InputEvent(sec, round((self.now - sec) * 1e6), type_, code, value)

    def key(self, code: int, shift: bool = False, *, right: bool = False) -> list[InputEvent]:
        """One keystroke at the current time: [Shift down] key down, up [Shift up]."""
        shift_key = ecodes.KEY_RIGHTSHIFT if right else ecodes.KEY_LEFTSHIFT
        events = [self.event(ecodes.EV_KEY, shift_key, 1)] if shift else []
        events += [
            self.event(ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + code),
            self.event(ecodes.EV_KEY, code, 1),
            self.event(ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
            self.event(ecodes.EV_KEY, code, 0),
        ]
        if shift:
            events.append(self.event(ecodes.EV_KEY, shift_key, 0))
        return [*events, self.event(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)]

    def type(
        self, text: str, *, interval: float = 0.004, end: str | None = "enter", right: bool = False
    ) -> list[InputEvent]:
        """``text`` typed one key every ``interval`` seconds, then the ``end`` key."""
        events: list[InputEvent] = []
        for char in text:
            code, shift = US[char]
            events += self.key(code, shift, right=right)
            self.now += interval
        if end is not None:
            events += self.key(ENDINGS[end])
            self.now += interval
        return events

    def pause(self, seconds: float) -> None:
        self.now += seconds


class FakeDevice:
    """The subset of ``evdev.InputDevice`` the driver uses, fed by the test."""

    def __init__(self, path: str, name: str = "Honeywell 1900 Barcode Scanner") -> None:
        self.path = path
        self.name = name
        self.phys = "usb-0000:00:14.0-2/input0"
        self.grabbed = False
        self.grabs = 0
        self.closed = False
        self.grab_error: OSError | None = None
        self._failure: OSError | None = None
        self._events: deque[InputEvent] = deque()
        self._lock = threading.Lock()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)

    def capabilities(self) -> dict[int, list[int]]:
        return {ecodes.EV_SYN: [0], ecodes.EV_KEY: sorted(KEYBOARD_KEYS)}

    def fileno(self) -> int:
        return self._read_fd

    def feed(self, events: Iterable[InputEvent]) -> None:
        """Queue events as if the kernel had them; select() sees the fd readable."""
        with self._lock:
            self._events.extend(events)
            os.write(self._write_fd, b"!")

    def unplug(self) -> None:
        """The next read fails as the kernel's does for a removed device."""
        with self._lock:
            self._failure = OSError(errno.ENODEV, os.strerror(errno.ENODEV))
            os.write(self._write_fd, b"!")

    def read_one(self) -> InputEvent | None:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._events:
                return self._events.popleft()
            with suppress(BlockingIOError):
                os.read(self._read_fd, 4096)  # empty: no longer readable
            return None

    def grab(self) -> None:
        if self.grab_error is not None:
            raise self.grab_error
        if self.grabbed:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        self.grabbed = True
        self.grabs += 1

    def ungrab(self) -> None:
        if not self.grabbed:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        self.grabbed = False

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                os.close(self._read_fd)
                os.close(self._write_fd)


class FakeInputs:
    """``/dev/input`` for one test: an opener and a lister over fake devices."""

    def __init__(self) -> None:
        self.nodes: dict[str, FakeDevice | OSError] = {}
        self.infos: list[InputInfo] = []
        self.opened: list[str] = []
        self._made: list[FakeDevice] = []

    def plug(self, path: str, name: str = "Honeywell 1900 Barcode Scanner") -> FakeDevice:
        device = FakeDevice(path, name)
        self._made.append(device)
        self.nodes[path] = device
        return device

    def deny(self, path: str, code: int = errno.EACCES) -> None:
        self.nodes[path] = OSError(code, os.strerror(code), path)

    def open(self, path: str) -> FakeDevice:
        self.opened.append(path)
        node = self.nodes.get(path)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        if isinstance(node, OSError):
            raise node
        return node

    def list(self) -> list[InputInfo]:
        return list(self.infos)

    def close_all(self) -> None:
        for device in self._made:
            device.close()


def info(
    device: str, name: str, *, accessible: bool = True, keys: frozenset[int] = KEYBOARD_KEYS
) -> InputInfo:
    return InputInfo(device, name, "usb-0000:00:14.0-1/input0", keys, accessible)


class Sink:
    """A reader sink that tests wait on."""

    def __init__(self) -> None:
        self.queue: queue.Queue[ReaderEvent] = queue.Queue()
        self.seen: list[ReaderEvent] = []

    def __call__(self, event: ReaderEvent) -> None:
        self.queue.put(event)

    def next(self, match: Callable[[ReaderEvent], bool], timeout: float = 3.0) -> ReaderEvent:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.queue.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                pytest.fail(f"no matching event in {timeout} s; seen: {self.seen[-10:]!r}")
            self.seen.append(event)
            if match(event):
                return event

    def status(self, state: ReaderState, timeout: float = 3.0) -> ReaderStatus:
        event = self.next(lambda e: isinstance(e, ReaderStatus) and e.state is state, timeout)
        assert isinstance(event, ReaderStatus)
        return event

    def card(self, timeout: float = 3.0) -> CardRead:
        event = self.next(lambda e: isinstance(e, CardRead), timeout)
        assert isinstance(event, CardRead)
        return event

    def reads(self) -> list[CardRead]:
        """The reads seen so far and still queued (call after the reader stopped)."""
        while not self.queue.empty():
            self.seen.append(self.queue.get_nowait())
        return [e for e in self.seen if isinstance(e, CardRead)]

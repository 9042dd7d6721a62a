"""Keyboard-wedge scanner driver: barcode, QR and magstripe scanners on Linux evdev.

=========================  =======================================================
feature                    supported
=========================  =======================================================
paths                      ``wedge`` (auto-pick), ``wedge:<absolute path>``; a
                           ``/dev/input/by-id/...-event-kbd`` path survives
                           re-plugging, ``/dev/input/eventN`` may not
exclusive                  grabbed (``EVIOCGRAB``): scans never reach the focused
                           widget; ungrabbed and closed on stop
keys                       US keycodes with Shift, keypad digits and ``./*-+=``;
                           CapsLock, NumLock, Ctrl/Alt chords ignored
bad bursts                 ERROR status: no terminator, over ``max_length`` (512)
                           characters, kernel events lost
open fails, unplugged      RECONNECTING with a hint; reopened with backoff
stop                       within ``poll`` (0.1 s)
=========================  =======================================================

Keycodes, not characters: key *positions* are decoded below any desktop layout,
so an active Persian layout does not matter (through it, ``CT1:`` arrives as
Persian letters). CapsLock is ignored: a grabbed device does not share the
desktop's lock state that scanners' "auto caps" modes assume.

Termination rule: a scan is one fast burst ended by Enter, keypad Enter or Tab,
each key-down within ``gap`` (50 ms, kernel timestamps) of the previous one;
scanners type every few ms, people every 100 ms or more. A burst that stops
without a terminator is **dropped** (ERROR status), never emitted: a cut scan
may hold another member's shorter number. After a dropped or over-long burst,
keys are swallowed until a terminator or a key ``holdoff`` (0.5 s) after the
previous one, so the tail of a scan cut by a USB hiccup is dropped too. A
person typing on the device produces nothing but that status. Keep the
scanner's suffix at Enter (the factory default) or Tab.

Auto-pick (``wedge``): among ``/dev/input/event*``, devices with the digit row
and Enter whose name or phys holds a scanner word (scanner, barcode, QR,
magstripe, MSR, or a maker: Honeywell, Hand Held Products, Metrologic, Zebra,
Symbol, Motorola, Datalogic, Newland, Zebex, Opticon, Netum, Inateck, MagTek,
ID TECH, Socket Mobile); the first by event number wins. Vendor ids and generic
names ("USB HID Keyboard") prove nothing, so a device not named like a scanner
is never grabbed unasked, even as the only keyboard: name it. Discovery reads
sysfs: ``evdev.list_devices()`` silently omits devices the user may not open.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import select
import struct
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypedDict

import evdev
from evdev import ecodes

from clubcore.errors import ReaderUnavailableError
from terminal.readers.base import Backoff, CardKind, CardRead, ReaderState, ThreadedReader

__all__ = [
    "GAP",
    "HOLDOFF",
    "MAX_LENGTH",
    "DeviceInfo",
    "Dropped",
    "InputDevice",
    "InputInfo",
    "ScanDecoder",
    "WedgeReader",
    "list_devices",
    "list_inputs",
    "open",
    "pick_scanner",
]

log = logging.getLogger(__name__)

#: longest pause between two key-downs of one scan, in seconds
GAP = 0.05
#: quiet time that ends the swallowing after a dropped burst, in seconds
HOLDOFF = 0.5
#: longer bursts are garbage (the longest card text is about 240 characters)
MAX_LENGTH = 512

_PERMISSION_HINT = "add the terminal's user to the 'input' group, or install the udev rule"
_MISSING_HINT = "plug the scanner in; `club-terminal readers` lists the input devices"
_BUSY_HINT = "another program (or another reader path) has grabbed this device"
_OPEN_HINTS = {
    errno.EACCES: _PERMISSION_HINT,
    errno.EPERM: _PERMISSION_HINT,
    errno.EBUSY: _BUSY_HINT,
}

_TERMINATORS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_TAB})
_SHIFTS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
_CHORDS = frozenset(
    ecodes.ecodes[f"KEY_{side}{key}"]
    for side in ("LEFT", "RIGHT")
    for key in ("CTRL", "ALT", "META")
)
_DIGIT_KEYS = frozenset(ecodes.ecodes[f"KEY_{d}"] for d in "0123456789")
_SCANNER_WORDS = re.compile(
    r"scanner|barcode|bar code|\bqr\b|magstripe|\bmsr\b|honeywell|hand held products|"
    r"metrologic|zebra|\bsymbol\b|motorola|datalogic|newland|zebex|opticon|netum|inateck|"
    r"magtek|id ?tech|socket mobile",
    re.IGNORECASE,
)
#: KEY_<name> followed by its character without and with Shift
_PUNCTUATION = (
    "MINUS-_ EQUAL=+ LEFTBRACE[{ RIGHTBRACE]} SEMICOLON;: APOSTROPHE'\" GRAVE`~ BACKSLASH\\| "
    "COMMA,< DOT.> SLASH/? KPDOT.. KPSLASH// KPASTERISK** KPMINUS-- KPPLUS++ KPEQUAL=="
)


def _us_keymap() -> dict[int, tuple[str, str]]:
    """keycode -> (character, character with Shift) on a US keyboard."""
    keys = {ecodes.ecodes[f"KEY_{c.upper()}"]: (c, c.upper()) for c in "abcdefghijklmnopqrstuvwxyz"}
    for digit, shifted in zip("1234567890", "!@#$%^&*()", strict=True):
        keys[ecodes.ecodes[f"KEY_{digit}"]] = (digit, shifted)
        keys[ecodes.ecodes[f"KEY_KP{digit}"]] = (digit, digit)
    for item in _PUNCTUATION.split():
        keys[ecodes.ecodes[f"KEY_{item[:-2]}"]] = (item[-2], item[-1])
    keys[ecodes.KEY_SPACE] = (" ", " ")
    return keys


_KEYMAP = _us_keymap()


@dataclass(frozen=True, slots=True)
class Dropped:
    """A burst of keys that was not a scan; ``reason`` is one of the texts below."""

    INCOMPLETE = "scan without Enter or Tab dropped; set the scanner's suffix to Enter"
    TOO_LONG = "scan over the length limit dropped (garbage)"
    EVENTS_LOST = "input events were lost mid-scan; scan again"

    reason: str
    length: int  # characters thrown away


class ScanDecoder:
    """Turns evdev key events into scans; see the termination rule above.

    Pure and single-threaded: :meth:`feed` never raises on any event.
    """

    def __init__(
        self, gap: float = GAP, max_length: int = MAX_LENGTH, holdoff: float = HOLDOFF
    ) -> None:
        if not 0 < gap < holdoff or max_length < 1:
            raise ValueError("need 0 < gap < holdoff and max_length >= 1")
        self.gap = gap
        self.max_length = max_length
        self.holdoff = holdoff
        self._chars: list[str] = []
        self._held: set[int] = set()
        self._last: float | None = None  # timestamp of the last key-down
        self._broken = False  # swallowing the rest of a dropped burst

    @property
    def pending(self) -> bool:
        """True while characters of an unterminated burst are buffered."""
        return bool(self._chars)

    def feed(self, event: evdev.InputEvent) -> str | Dropped | None:
        """Take one event.

        Arguments:
            event: any evdev event; only key events and ``SYN_DROPPED`` matter.

        Returns:
            the text of a completed scan (without its terminator), a
            :class:`Dropped` when a burst was thrown away, or None.
        """
        if event.type == ecodes.EV_SYN and event.code == ecodes.SYN_DROPPED:
            self._held.clear()  # key-ups may be lost too
            self._last = event.sec + event.usec / 1e6
            return self._break(Dropped.EVENTS_LOST)
        if event.type != ecodes.EV_KEY:
            return None
        if event.code in _SHIFTS or event.code in _CHORDS:
            if event.value == 1:
                self._held.add(event.code)
            elif event.value == 0:
                self._held.discard(event.code)
            return None
        if event.value != 1:  # key-up (0) and auto-repeat (2)
            return None
        return self._key_down(event.code, event.sec + event.usec / 1e6)

    def expire(self) -> Dropped | None:
        """The device has been quiet for ``gap``: drop an unterminated burst.

        Returns:
            a :class:`Dropped` if characters were pending, else None.
        """
        return self._break(Dropped.INCOMPLETE) if self._chars else None

    def _key_down(self, code: int, when: float) -> str | Dropped | None:
        since = math.inf if self._last is None else max(when - self._last, 0.0)
        self._last = when
        outcome: str | Dropped | None = None
        if self._chars and since > self.gap:
            outcome = self._break(Dropped.INCOMPLETE)
        if self._broken:
            if since < self.holdoff:  # still the dropped burst
                self._broken = code not in _TERMINATORS
                return outcome
            self._broken = False
        if code in _TERMINATORS:
            text = "".join(self._chars)
            self._chars.clear()
            return text or outcome
        char = self._char(code)
        if char is not None:
            self._chars.append(char)
            if len(self._chars) > self.max_length:
                return self._break(Dropped.TOO_LONG)
        return outcome

    def _char(self, code: int) -> str | None:
        pair = _KEYMAP.get(code)
        if pair is None or not self._held.isdisjoint(_CHORDS):
            return None
        return pair[1] if not self._held.isdisjoint(_SHIFTS) else pair[0]

    def _break(self, reason: str) -> Dropped:
        dropped = Dropped(reason, len(self._chars))
        self._chars.clear()
        self._broken = True
        return dropped


class InputDevice(Protocol):
    """The part of ``evdev.InputDevice`` the reader uses (the test seam)."""

    @property
    def name(self) -> str: ...
    def fileno(self) -> int: ...
    def read_one(self) -> evdev.InputEvent | None: ...
    def grab(self) -> None: ...
    def ungrab(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class InputInfo:
    """One ``/dev/input/event*`` node, as discovery sees it without opening it."""

    device: str  # /dev/input/eventN
    name: str
    phys: str
    keys: frozenset[int]  # key codes the device declares
    accessible: bool  # the terminal's user may open it
    stable: str = ""  # a /dev/input/by-id link to it, if any

    @property
    def is_keyboard(self) -> bool:
        """It has the digit row and Enter: it can type a scan."""
        return ecodes.KEY_ENTER in self.keys and self.keys >= _DIGIT_KEYS

    @property
    def looks_like_scanner(self) -> bool:
        """A keyboard whose name or phys carries a scanner word."""
        return self.is_keyboard and bool(_SCANNER_WORDS.search(f"{self.name} {self.phys}"))


class DeviceInfo(TypedDict):
    """One keyboard-type input device, as :func:`list_devices` reports it."""

    path: str  # reader path, e.g. wedge:/dev/input/by-id/usb-...-event-kbd
    device: str  # /dev/input/eventN
    name: str
    phys: str
    looks_like_scanner: bool  # ``wedge`` alone may pick it
    accessible: bool
    problem: str  # empty when usable
    hint: str


def _read_text(path: Path) -> str:
    with suppress(OSError):
        return path.read_text(errors="replace").strip()
    return ""


def _key_bits(bitmap: str) -> frozenset[int]:
    """Key codes from a sysfs ``capabilities/key`` bitmap (hex longs, high first)."""
    width = struct.calcsize("l") * 8
    codes: set[int] = set()
    for index, word in enumerate(reversed(bitmap.split())):
        with suppress(ValueError):
            value = int(word, 16)
            codes.update(index * width + bit for bit in range(width) if value >> bit & 1)
    return frozenset(codes)


def list_inputs(dev_dir: str = "/dev/input", sys_dir: str = "/sys/class/input") -> list[InputInfo]:
    """Every ``event*`` input node, read from sysfs without opening any device.

    Arguments:
        dev_dir: where the device nodes are.
        sys_dir: sysfs' input class directory.

    Returns:
        the nodes by event number; empty where there are none (containers).
    """
    by_id = Path(dev_dir) / "by-id"
    links = {Path(os.path.realpath(p)).name: str(p) for p in sorted(by_id.glob("*event*"))}
    found = []
    for node in sorted(Path(dev_dir).glob("event*"), key=lambda p: (len(p.name), p.name)):
        sysfs = Path(sys_dir) / node.name / "device"
        name, phys, keys = (_read_text(sysfs / f) for f in ("name", "phys", "capabilities/key"))
        readable = os.access(node, os.R_OK)
        found.append(
            InputInfo(str(node), name, phys, _key_bits(keys), readable, links.get(node.name, ""))
        )
    return found


def pick_scanner(inputs: list[InputInfo]) -> InputInfo:
    """The device ``wedge`` alone opens: the first accessible scanner-looking keyboard.

    Arguments:
        inputs: the input devices, as from :func:`list_inputs`.

    Returns:
        the chosen device.

    Raises:
        ReaderUnavailableError: none looks like a scanner (a plain keyboard is
            never chosen), or the scanners are not accessible; with a hint.
    """
    scanners = [info for info in inputs if info.looks_like_scanner]
    for info in scanners:
        if info.accessible:
            return info
    if scanners:
        raise ReaderUnavailableError(
            f"no permission to open the scanner {scanners[0].name!r} ({scanners[0].device})",
            hint=_PERMISSION_HINT,
        )
    keyboards = [info for info in inputs if info.is_keyboard]
    if not keyboards:
        raise ReaderUnavailableError("no keyboard-wedge scanner found", hint=_MISSING_HINT)
    names = ", ".join(f"{k.name!r} ({k.stable or k.device})" for k in keyboards)
    raise ReaderUnavailableError(
        f"no input device looks like a scanner; keyboards found: {names}",
        hint="a keyboard is never grabbed automatically; if one of them is the scanner, "
        "name it: wedge:<its /dev/input/by-id path>",
    )


def list_devices(lister: Callable[[], list[InputInfo]] = list_inputs) -> list[DeviceInfo]:
    """The keyboard-type input devices, for ``club-terminal readers``.

    Arguments:
        lister: discovery (tests inject one).

    Returns:
        one :class:`DeviceInfo` per device with digit keys and Enter.
    """
    return [_device_info(info) for info in lister() if info.is_keyboard]


def _device_info(info: InputInfo) -> DeviceInfo:
    path = f"wedge:{info.stable or info.device}"
    problem = "" if info.accessible else f"no read access to {info.device}"
    not_picked = f"not picked by `wedge` alone (not named like a scanner); use {path}"
    hint = _PERMISSION_HINT if problem else "" if info.looks_like_scanner else not_picked
    return DeviceInfo(
        path=path,
        device=info.device,
        name=info.name,
        phys=info.phys,
        looks_like_scanner=info.looks_like_scanner,
        accessible=info.accessible,
        problem=problem,
        hint=hint,
    )


def _unavailable(device: str, exc: OSError) -> ReaderUnavailableError:
    code = exc.errno or 0
    hint = _OPEN_HINTS.get(code, _MISSING_HINT)
    reason = os.strerror(code) if code else str(exc) or type(exc).__name__
    return ReaderUnavailableError(f"cannot open {device}: {reason}", hint=hint)


def _release(device: InputDevice) -> None:
    """Ungrab and close; a device that is gone must not stop the reader."""
    with suppress(OSError):
        device.ungrab()
    with suppress(OSError):
        device.close()


def _open_grabbed(node: str, opener: Callable[[str], InputDevice]) -> InputDevice:
    device = None
    try:
        device = opener(node)
        device.grab()
    except OSError as exc:
        if device is not None:
            _release(device)
        raise _unavailable(node, exc) from exc
    return device


class WedgeReader(ThreadedReader):
    """A keyboard-wedge scanner on one evdev device; see the module docstring.

    Arguments:
        path: the reader path, the ``source`` of its events.
        device: the input device node; None picks one (:func:`pick_scanner`) at
            every (re)open.
        decoder: makes the :class:`ScanDecoder` (to change ``gap`` and limits).
        opener: opens a node (``evdev.InputDevice``; tests pass a fake).
        lister: discovery for the auto-pick (tests pass a fake).
    """

    #: longest wait in select(), so that stop() is seen
    poll = 0.1

    def __init__(
        self,
        path: str,
        device: str | None = None,
        *,
        decoder: Callable[[], ScanDecoder] = ScanDecoder,
        opener: Callable[[str], InputDevice] = evdev.InputDevice,
        lister: Callable[[], list[InputInfo]] = list_inputs,
    ) -> None:
        super().__init__(path)
        self.device = device
        self.decoder = decoder
        self.opener = opener
        self.lister = lister
        self._ready = ""

    def run(self) -> None:
        backoff = Backoff()
        while not self.stopping.is_set():
            opened = self._open(backoff)
            if opened is None:
                return
            node, device = opened
            try:
                self._serve(node, device, backoff)
            finally:
                _release(device)
            self.sleep(backoff.next())

    def _open(self, backoff: Backoff) -> tuple[str, InputDevice] | None:
        while not self.stopping.is_set():
            try:
                node = self.device or pick_scanner(self.lister()).device
                return node, _open_grabbed(node, self.opener)
            except ReaderUnavailableError as exc:
                log.info("reader %s: %s", self.path, exc)
                self.status(ReaderState.RECONNECTING, str(exc))
                self.sleep(backoff.next())
        return None

    def _serve(self, node: str, device: InputDevice, backoff: Backoff) -> None:
        """Read scans until stopped or until the device fails (both return)."""
        decoder = self.decoder()
        self._ready = f"scanner {device.name!r} on {node}, grabbed"
        self.status(ReaderState.READY, self._ready)
        while not self.stopping.is_set():
            timeout = decoder.gap if decoder.pending else self.poll
            try:
                ready, _, _ = select.select([device], [], [], timeout)
                if not ready:
                    self._deliver(decoder.expire())
                    continue
                self._drain(device, decoder)
            except OSError as exc:
                gone = "unplugged" if exc.errno == errno.ENODEV else f"failed ({exc})"
                log.info("reader %s: %s %s", self.path, node, gone)
                self.status(ReaderState.RECONNECTING, f"scanner {node} {gone}; waiting for it")
                return
            backoff.reset()

    def _drain(self, device: InputDevice, decoder: ScanDecoder, limit: int = 256) -> None:
        """Decode the events waiting (at most ``limit``, so that stop is seen)."""
        for _ in range(limit):
            event = device.read_one()
            if event is None:
                return
            self._deliver(decoder.feed(event))

    def _deliver(self, outcome: str | Dropped | None) -> None:
        if isinstance(outcome, Dropped):
            log.info("reader %s: dropped %d characters: %s", self.path, outcome.length, outcome)
            self.status(ReaderState.ERROR, outcome.reason)
        elif outcome:
            self.emit(CardRead(self.path, CardKind.WEDGE, text=outcome))
            self.status(ReaderState.READY, self._ready)


def open(path: str, rest: str) -> WedgeReader:  # the driver protocol's name
    """Create (not start) a keyboard-wedge reader.

    Arguments:
        path: the whole reader path, ``wedge`` or ``wedge:/dev/input/...``.
        rest: the part after ``wedge:``; empty for auto-pick.

    Returns:
        the reader.

    Raises:
        ReaderUnavailableError: ``rest`` is not an absolute device path.
    """
    device = rest.strip()
    if device and not device.startswith("/"):
        raise ReaderUnavailableError(
            f"malformed wedge reader path {path!r}",
            hint="use wedge, or wedge:/dev/input/by-id/<scanner>-event-kbd",
        )
    return WedgeReader(path, device or None)

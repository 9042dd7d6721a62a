"""nfcpy reader driver: NFC tags on USB, serial and simulated (UDP) readers.

==============================  ==================================================
feature                         supported
==============================  ==================================================
paths                           ``nfc:usb``, ``nfc:usb:<vid>:<pid>``,
                                ``nfc:tty:<port>:<driver>``, ``nfc:udp``,
                                ``nfc:udp:<host>:<port>`` (IPv4 or a host name)
devices                         nfcpy 1.0.4's: ACR122U, RC-S380, RC-S330/360/370,
                                PN531/532/533, SCL3711; ``udp`` for tests
NFC Forum Type 2 (NTAG21x)      UID and NDEF (polled as ``106A``); an NTAG21x's
                                originality signature (READ_SIG)
NFC Forum Type 3 (FeliCa)       UID (IDm) and NDEF (polled as ``212F``); the
                                attribute block is read first and a message
                                over ``apdu.MAX_MESSAGE`` refused unread
NFC Forum Type 4 (A and B)      UID and NDEF application (``106A``, ``106B``)
Type 1, MIFARE Classic, others  UID only (:attr:`CardKind.UID_ONLY`)
one read per tap                yes: nfcpy's presence check waits for removal
card removed mid-read           ERROR status "card removed - tap again", go on
USB/serial fault                ``connect()`` returns False: reopen with backoff
open fails                      RECONNECTING with a hint (udev rule, plugdev,
                                pn533_usb/port100, pcscd), retried with backoff
stop latency                    about 0.5 s on hardware, about 1 s on ``udp``
issuing, diagnostics            :func:`write_ndef` (verified), :func:`list_devices`
==============================  ==================================================

On ``udp`` only ``212F`` is polled: nfcpy emulates only Type 3 tags, and each
unanswered poll costs a one-second UDP timeout. An empty NDEF message is reported
with the tag's NFC kind and ``ndef=b""`` (raw facts; the verifier refuses it). A
tag without a readable NDEF area is UID_ONLY only if it is still present: nfcpy
reports read errors as "no NDEF", and a card pulled away mid-read must not pass
as a UID-only card.

Size caps: a Type 3 message longer than ``apdu.MAX_MESSAGE`` is refused from
its attribute block, before nfcpy reads any of it. Type 2 and Type 4 messages
are read by nfcpy first and refused after (nfcpy reads them whole; a Type 2
tag holds at most 2 KB, a Type 4 NDEF file at most 64 KB).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import time
from contextlib import suppress
from pathlib import Path
from typing import Any, TypedDict

import ndef
import nfc
import nfc.clf
import nfc.clf.device
import nfc.clf.transport
import nfc.tag
import nfc.tag.tt2
import nfc.tag.tt2_nxp
import nfc.tag.tt3
import nfc.tag.tt4

from clubcore.errors import CardIOError, CardRejectedError, FormatError, ReaderUnavailableError
from clubcore.originality import SIGNATURE_SIZE
from terminal.readers.apdu import MAX_MESSAGE
from terminal.readers.base import Backoff, CardKind, CardRead, ReaderState, ThreadedReader

__all__ = [
    "CARD_REMOVED",
    "DeviceInfo",
    "NfcReader",
    "check_ndef_message",
    "list_devices",
    "open",
    "parse_path",
    "read_tag",
    "write_ndef",
    "write_tag",
]

log = logging.getLogger(__name__)

#: the status detail (and CardIOError message) when a read fails mid-way
CARD_REMOVED = "card removed - tap again"
#: where Linux lists USB devices and the kernel drivers bound to them
SYSFS_USB = Path("/sys/bus/usb/devices")

_TAG_ERRORS = (nfc.tag.TagCommandError, nfc.clf.CommunicationError)
_KINDS: tuple[tuple[Any, CardKind], ...] = (
    (nfc.tag.tt2.Type2Tag, CardKind.NFC_TYPE2),
    (nfc.tag.tt3.Type3Tag, CardKind.NFC_TYPE3),
    (nfc.tag.tt4.Type4Tag, CardKind.NFC_TYPE4),
)
_USB_PATH = re.compile(r"usb(?::(?P<vid>[0-9a-fA-F]{4}):(?P<pid>[0-9a-fA-F]{4}))?")
_TTY_PATH = re.compile(r"tty:[A-Za-z0-9][A-Za-z0-9_.-]{0,31}:(?:arygon|pn532|rcs956)")
_UDP_PATH = re.compile(
    r"udp(?::(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(?P<port>[0-9]{1,5}))?"
)
#: libusb1's errors are not OSErrors; the ones that matter, by name
_USB_ERRNO = {"USBErrorAccess": errno.EACCES, "USBErrorBusy": errno.EBUSY}
_KERNEL_MODULES = ("pn533_usb", "pn533", "port100")
_HINTS = {
    ("usb", errno.EACCES): "add the udev rule from deploy/ (or the user to the plugdev group) "
    "and re-plug the reader",
    ("usb", errno.EBUSY): "the kernel module pn533_usb or port100 holds it: blacklist it in "
    "/etc/modprobe.d; or pcscd holds it: stop pcscd, it cannot share a reader with nfcpy",
    ("tty", errno.EACCES): "add the user to the dialout group",
    ("tty", errno.EBUSY): "another program has the serial port open",
}
_NOT_FOUND_HINTS = {
    "usb": "plug the reader in; if it is plugged in, check its udev rule, that the kernel "
    "modules pn533_usb/port100 are blacklisted and that pcscd does not hold it",
    "tty": "check the port name (nfc:tty:USB0:pn532) and the driver name",
}


class DeviceInfo(TypedDict):
    """One USB reader nfcpy knows, as :func:`list_devices` reports it."""

    path: str  # reader path for this terminal, e.g. nfc:usb:054c:06c3
    nfcpy_path: str  # nfcpy's path by bus and address, e.g. usb:001:005
    driver: str  # nfcpy driver module, e.g. rcs380
    usable: bool
    problem: str  # empty when usable
    hint: str  # what to do about the problem; empty when usable


def _polling(device_path: str) -> dict[str, Any]:
    """nfcpy ``rdwr`` options: which targets, and sense rounds between stop checks."""
    if device_path.startswith("udp"):
        return {"targets": ["212F"], "iterations": 1, "interval": 0.0}
    return {"targets": ["106A", "106B", "212F"], "iterations": 2, "interval": 0.2}


def parse_path(rest: str) -> str:
    """Map the part of a reader path after ``nfc:`` to nfcpy's device path.

    Arguments:
        rest: ``usb``, ``usb:<vid>:<pid>`` (4 hex digits each),
            ``tty:<port>:<driver>``, ``udp`` or ``udp:<host>:<port>``.

    Returns:
        nfcpy's path, e.g. ``usb:072f:2200``, ``tty:USB0:pn532``,
        ``udp:localhost:54321``.

    Raises:
        ReaderUnavailableError: the path does not follow the grammar.
    """
    text = rest.strip()
    if match := _USB_PATH.fullmatch(text):
        vid, pid = match["vid"], match["pid"]
        return "usb" if vid is None else f"usb:{vid.lower()}:{pid.lower()}"
    if _TTY_PATH.fullmatch(text):
        return text
    match = _UDP_PATH.fullmatch(text)
    if match and (match["port"] is None or 0 < int(match["port"]) < 65536):
        return f"udp:{match['host'] or 'localhost'}:{int(match['port'] or 54321)}"
    raise ReaderUnavailableError(
        f"malformed nfc reader path 'nfc:{rest}'",
        hint="use nfc:usb, nfc:usb:<vid>:<pid> (e.g. nfc:usb:072f:2200), "
        "nfc:tty:<port>:<arygon|pn532|rcs956> or nfc:udp[:<host>:<port>]",
    )


def check_ndef_message(data: bytes) -> bytes:
    """Check that ``data`` is exactly one well-formed NDEF message.

    Record payloads are not interpreted; only the record structure (flags,
    lengths, MB/ME/CF) is checked, and no bytes may follow the last record.

    Arguments:
        data: the encoded NDEF message.

    Returns:
        the same bytes, as ``bytes``.

    Raises:
        FormatError: empty, truncated, trailing bytes, or bad record structure.
    """
    if not isinstance(data, bytes | bytearray):
        raise FormatError(f"an NDEF message must be bytes, not {type(data).__name__}")
    stream = io.BytesIO(bytes(data))
    try:
        records = list(ndef.message_decoder(stream, errors="strict", known_types={}))
    except ndef.DecodeError as exc:
        raise FormatError(f"not an NDEF message: {exc}") from exc
    if not records:
        raise FormatError("empty NDEF message")
    if stream.tell() != len(data):
        raise FormatError(f"{len(data) - stream.tell()} bytes after the last NDEF record")
    return bytes(data)


def _ndef_area(tag: Any) -> Any | None:
    """``tag.ndef``, asked twice: nfcpy turns a failed read into None ("no NDEF")."""
    area = tag.ndef
    return area if area is not None else tag.ndef


def _ndef_octets(tag: Any) -> bytes | None:
    found = _ndef_area(tag)
    if found is None or not found.is_readable:
        return None
    return bytes(found.octets)


_NDEF_SYSTEM = 0x12FC  # the FeliCa system code of NFC Forum Type 3 NDEF


def _check_type3_size(tag: Any) -> None:
    """Refuse a Type 3 message over MAX_MESSAGE from its attribute block, unread.

    nfcpy's ``tag.ndef`` reads the whole message the attribute block announces
    (up to 16 MB) before we see any of it; this reads block 0 of the NDEF
    service (0x000B) first, as nfcpy then does again.

    Raises:
        CardIOError: the announced length exceeds MAX_MESSAGE ("oversized").
        nfc.tag.TagCommandError: the attribute block read failed.
    """
    if tag.sys != _NDEF_SYSTEM:  # a multi-system FeliCa card: select NDEF, as nfcpy does
        try:
            tag.idm, tag.pmm = tag.polling(_NDEF_SYSTEM)
        except nfc.tag.tt3.Type3TagCommandError:
            return  # no NDEF system: nfcpy finds no NDEF either
        tag.sys = _NDEF_SYSTEM
    attributes = bytes(tag.read_from_ndef_service(0))
    length = int.from_bytes(attributes[11:14], "big")
    if length > MAX_MESSAGE:
        raise CardIOError(
            f"the card announces an oversized message ({length} bytes) - tap again",
            hint=f"at most {MAX_MESSAGE} bytes are read",
        )


def _chip_signature(tag: Any) -> bytes | None:
    """An NTAG21x's originality signature; None when it gave none.

    nfcpy's ``NTAG21x.signature`` answers 32 zero bytes when READ_SIG failed.
    """
    if not isinstance(tag, nfc.tag.tt2_nxp.NTAG21x):
        return None
    signature = bytes(tag.signature)
    return signature if len(signature) == SIGNATURE_SIZE and any(signature) else None


def read_tag(tag: Any, source: str) -> CardRead:
    """Read the UID and the NDEF message of an activated nfcpy tag.

    This is the body of the driver's ``on-connect`` callback.

    Arguments:
        tag: an ``nfc.tag.Tag`` from ``ContactlessFrontend.connect``.
        source: the reader path to put in the event.

    Returns:
        a :class:`CardRead`: the tag's NFC kind with ``ndef`` set (and an
        NTAG21x's ``chip_signature``), or :attr:`CardKind.UID_ONLY` without NDEF.

    Raises:
        CardIOError: the tag went away or answered garbage mid-read, or holds
            an oversized message.
        OSError: the reader device failed (nfcpy's ``connect()`` maps it to False).
    """
    uid = bytes(tag.identifier)
    kind = next((k for cls, k in _KINDS if isinstance(tag, cls)), CardKind.UID_ONLY)
    try:
        if kind is CardKind.NFC_TYPE3:
            _check_type3_size(tag)
        octets = _ndef_octets(tag) if kind is not CardKind.UID_ONLY else None
        present = octets is not None or bool(tag.is_present)
        signature = _chip_signature(tag) if octets is not None else None
    except (OSError, CardIOError):
        raise
    except _TAG_ERRORS as exc:
        raise CardIOError(CARD_REMOVED) from exc
    except Exception as exc:  # nfcpy's parsers choke on some malformed tag memory
        log.warning("tag %s: unreadable data", uid.hex(), exc_info=True)
        raise CardIOError("card unreadable - tap again", hint=f"{type(exc).__name__}") from exc
    if not present:
        raise CardIOError(CARD_REMOVED)
    if octets is None:
        return CardRead(source, CardKind.UID_ONLY, uid=uid)
    if len(octets) > MAX_MESSAGE:  # nfcpy has read it already; we do not parse it
        raise CardIOError(f"the card holds an oversized message ({len(octets)} bytes) - tap again")
    return CardRead(source, kind, uid=uid, ndef=octets, chip_signature=signature)


def write_tag(tag: Any, message: bytes, *, expect_uid: bytes | None = None) -> bytes:
    """Write an NDEF message to an activated nfcpy tag and read it back.

    Arguments:
        tag: an ``nfc.tag.Tag`` from ``ContactlessFrontend.connect``.
        message: a checked NDEF message (see :func:`check_ndef_message`).
        expect_uid: refuse any other tag (the card's signature covers its UID).

    Returns:
        the UID of the tag written.

    Raises:
        CardRejectedError: ``wrong-card``, ``not-ndef``, ``read-only`` or ``too-small``.
        CardIOError: the tag went away during the write, or did not read back equal.
    """
    uid = bytes(tag.identifier)
    if expect_uid is not None and uid != expect_uid:
        raise CardRejectedError(
            "wrong-card", f"this card ({uid.hex()}) is not the one prepared ({expect_uid.hex()})"
        )
    try:
        area = _writable_area(tag, len(message))
        area.octets = message
        changed = area.has_changed  # reads the NDEF area back from the tag
    except (CardIOError, CardRejectedError, OSError):
        raise
    except Exception as exc:  # TagCommandError, CommunicationError, nfcpy parser errors
        raise CardIOError(
            "card removed during the write - tap again", hint="the card may now be blank"
        ) from exc
    if changed:  # nfcpy compared the read-back with what it wrote
        raise CardIOError("the card did not read back what was written - tap again")
    return uid


def _writable_area(tag: Any, size: int) -> Any:
    area = _ndef_area(tag)
    if area is None and not tag.is_present:  # nfcpy reports read errors as "no NDEF"
        raise CardIOError(CARD_REMOVED)
    if area is None:
        raise CardRejectedError("not-ndef", "the card is not NDEF formatted", hint="format it")
    if not area.is_writeable:
        raise CardRejectedError("read-only", "the card is write protected")
    if size > area.capacity:
        message = f"the message needs {size} bytes, the card holds {area.capacity}"
        raise CardRejectedError("too-small", message)
    return area


def _open_frontend(device_path: str) -> Any:
    """Open nfcpy's ContactlessFrontend on ``device_path``.

    Raises:
        ReaderUnavailableError: not found or cannot be opened, with a hint.
    """
    kind = device_path.partition(":")[0]
    clf = nfc.ContactlessFrontend()
    try:
        found = clf.open(device_path)
    except Exception as exc:  # IOError from nfcpy, USBError, SerialException, gaierror
        code = exc.errno if isinstance(exc, OSError) else _USB_ERRNO.get(type(exc).__name__)
        code = errno.EACCES if code == errno.EPERM else code
        reason = os.strerror(code) if code is not None else str(exc) or type(exc).__name__
        hint = _HINTS.get((kind, code or 0), "check the cable, the path and the technician screen")
        raise ReaderUnavailableError(f"cannot open {device_path}: {reason}", hint=hint) from exc
    if not found:
        diagnosis = _usb_diagnosis() if kind == "usb" else None
        hint = diagnosis or _NOT_FOUND_HINTS.get(kind, "check the path")
        raise ReaderUnavailableError(f"no nfc reader found on {device_path}", hint=hint)
    return clf


def _close(clf: Any) -> None:
    with suppress(Exception):  # closing a dead device must not stop the reopen loop
        clf.close()  # on udp this sends RFOFF to the emulated tag


class NfcReader(ThreadedReader):
    """A reader on one nfcpy device; see the module docstring."""

    def __init__(self, path: str, device_path: str) -> None:
        super().__init__(path)
        self.device_path = device_path

    def run(self) -> None:
        backoff = Backoff()
        while not self.stopping.is_set():
            clf = self._open(backoff)
            if clf is None:
                return
            try:
                self._serve(clf, backoff)
            finally:
                _close(clf)

    def _open(self, backoff: Backoff) -> Any | None:
        while not self.stopping.is_set():
            try:
                return _open_frontend(self.device_path)
            except ReaderUnavailableError as exc:
                log.info("reader %s: %s", self.path, exc)
                self.status(ReaderState.RECONNECTING, str(exc))
                self.sleep(backoff.next())
        return None

    def _serve(self, clf: Any, backoff: Backoff) -> None:
        """Poll for cards until stopped (return) or until the device fails (return)."""
        options = _polling(self.device_path) | {"on-connect": self._on_connect}
        while not self.stopping.is_set():
            self.status(ReaderState.READY, f"waiting for a card on {clf}")
            try:
                result = clf.connect(rdwr=options, terminate=self.stopping.is_set)
            except Exception:  # connect() maps only IOError to False; keep the terminal up
                log.exception("reader %s: nfcpy failed", self.path)
                result = False
            if result is False:  # nfcpy's sign of a USB or serial error
                self.status(ReaderState.RECONNECTING, f"{self.device_path} failed; reopening")
                self.sleep(backoff.next())
                return
            if result is None:  # terminated
                return
            backoff.reset()  # a card came and went: the device is healthy

    def _on_connect(self, tag: Any) -> bool:
        """nfcpy's on-connect callback; True makes connect() wait for the tag to leave."""
        self.status(ReaderState.READING, f"reading {tag.type} {bytes(tag.identifier).hex()}")
        try:
            read = read_tag(tag, self.path)
        except CardIOError as exc:
            log.info("reader %s: %s", self.path, exc)
            self.refuse(exc.message, uid=bytes(tag.identifier))
        else:
            self.emit(read)
        return True


def open(path: str, rest: str) -> NfcReader:  # the driver protocol's name
    """Create (not start) an nfcpy reader.

    Arguments:
        path: the whole reader path, e.g. ``nfc:usb:054c:06c3``.
        rest: the part after ``nfc:``.

    Returns:
        the reader.

    Raises:
        ReaderUnavailableError: malformed path.
    """
    return NfcReader(path, parse_path(rest))


def _wait_for_tag(clf: Any, device_path: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    options = _polling(device_path) | {
        "on-connect": lambda tag: False,  # hand the tag back to us
        "beep-on-connect": False,
    }
    result = clf.connect(rdwr=options, terminate=lambda: time.monotonic() >= deadline)
    if result is False:
        raise ReaderUnavailableError(f"{device_path} failed (USB or serial error)")
    if result is None:
        raise CardIOError(f"no card was presented within {timeout:g} s", hint="tap the card")
    return result


def write_ndef(
    path: str, ndef_message: bytes, timeout: float = 10.0, *, expect_uid: bytes | None = None
) -> bytes:
    """Wait for a tag on an nfcpy reader and write an NDEF message to it (card issuing).

    Arguments:
        path: the reader path, e.g. ``nfc:usb`` (the reader must not be running).
        ndef_message: the encoded NDEF message.
        timeout: seconds to wait for a tag.
        expect_uid: refuse any tag with another UID.

    Returns:
        the UID of the tag written.

    Raises:
        FormatError: ``ndef_message`` is not one well-formed NDEF message.
        ReaderUnavailableError: bad path, or the reader cannot be opened.
        CardRejectedError: wrong card, not NDEF formatted, read-only or too small.
        CardIOError: no tag within ``timeout``, or the tag left during the write.
    """
    message = check_ndef_message(ndef_message)
    prefix, _, rest = path.strip().partition(":")
    if prefix != "nfc":
        raise ReaderUnavailableError(f"not an nfc reader path: {path!r}", hint="e.g. nfc:usb")
    device_path = parse_path(rest)
    clf = _open_frontend(device_path)
    try:
        tag = _wait_for_tag(clf, device_path, timeout)
        return write_tag(tag, message, expect_uid=expect_uid)
    except OSError as exc:  # the reader itself failed mid-write
        raise ReaderUnavailableError(f"{device_path} failed: {exc}") from exc
    finally:
        _close(clf)


def _kernel_driver(bus: int, address: int) -> str | None:
    """The kernel driver bound to a USB device's interface, from sysfs, if any."""
    for busnum in SYSFS_USB.glob("*/busnum"):
        device = busnum.parent
        with suppress(OSError, ValueError):
            if (int(busnum.read_text()), int((device / "devnum").read_text())) == (bus, address):
                links = [interface / "driver" for interface in SYSFS_USB.glob(f"{device.name}:*")]
                return next((Path(os.readlink(x)).name for x in links if x.is_symlink()), None)
    return None


def _usb_problem(bus: int, address: int, probe: bool) -> tuple[str, str]:
    """(problem, hint) for one known USB reader; ("", "") when it is usable."""
    driver = _kernel_driver(bus, address)
    if driver in _KERNEL_MODULES:
        return f"kernel module {driver} holds it", _HINTS[("usb", errno.EBUSY)]
    devnode = f"/dev/bus/usb/{bus:03d}/{address:03d}"
    if not os.access(devnode, os.R_OK | os.W_OK):
        return f"no read/write access to {devnode}", _HINTS[("usb", errno.EACCES)]
    if probe:
        try:
            _open_frontend(f"usb:{bus:03d}:{address:03d}").close()
        except ReaderUnavailableError as exc:
            return exc.message, exc.hint or ""
    return "", ""


def list_devices(probe: bool = True) -> list[DeviceInfo]:
    """The USB readers nfcpy supports that are plugged in, and whether each is usable.

    Arguments:
        probe: also open each accessible device briefly (fails if a running
            reader holds it, which is then reported as busy).

    Returns:
        one :class:`DeviceInfo` per device; empty without USB or libusb.
    """
    try:
        found = nfc.clf.transport.USB.find("usb") or []
    except Exception:  # no libusb, no USB bus (containers)
        log.debug("usb enumeration failed", exc_info=True)
        return []
    devices: list[DeviceInfo] = []
    for vid, pid, bus, address in found:
        driver = nfc.clf.device.usb_device_map.get((vid, pid))
        if driver is None:
            continue
        problem, hint = _usb_problem(int(bus), int(address), probe)
        devices.append(
            DeviceInfo(
                path=f"nfc:usb:{vid:04x}:{pid:04x}",
                nfcpy_path=f"usb:{int(bus):03d}:{int(address):03d}",
                driver=driver,
                usable=not problem,
                problem=problem,
                hint=hint,
            )
        )
    return devices


def _usb_diagnosis() -> str | None:
    """A hint naming why a plugged-in reader could not be used, if one is."""
    for device in list_devices(probe=False):
        if not device["usable"]:
            return f"{device['path']}: {device['problem']}; {device['hint']}"
    return None

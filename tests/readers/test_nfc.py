"""Tests of the nfcpy driver (terminal/readers/nfc.py).

Three levels, none needs hardware:

- two processes over nfcpy's ``udp:`` device: ``nfc_tag_emulator.py`` is a
  FeliCa (Type 3) tag, the driver reads and writes it for real;
- nfcpy's device seam: ``nfc.clf.device.connect`` (what
  ``ContactlessFrontend.open`` calls) hands out a :class:`FakeDevice` whose
  ``sense_tta``/``send_cmd_recv_rsp`` answer like an NTAG215 (Type 2) or a Type 4
  NDEF application, as nfcpy's own tag tests do; everything above the device
  (``ContactlessFrontend``, tag activation and NDEF parsing) is real nfcpy,
  driven by the driver's real thread and ``on-connect`` callback;
- hypothesis on the driver's parsers.
"""

from __future__ import annotations

import errno
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import ndef
import nfc
import nfc.clf
import nfc.clf.device
import nfc.clf.transport
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clubcore.errors import CardIOError, CardRejectedError, FormatError, ReaderUnavailableError
from clubcore.originality import verify_originality
from terminal.readers import CardKind, CardRead, ReaderState, ReaderStatus, open_reader
from terminal.readers import nfc as driver
from terminal.readers.apdu import MAX_MESSAGE
from tests.card_fakes import MAKER_PUBLIC_KEY, chip_signature
from tests.readers.conftest import Events
from tests.readers.nfc_tag_emulator import Card, FakeDevice, Ntag215, Type4Card, ntag215_memory

pytestmark = pytest.mark.timeout(60)

EMULATOR = Path(__file__).with_name("nfc_tag_emulator.py")
IDM = bytes.fromhex("03FE0011223344AA")
MESSAGE = b"".join(
    ndef.message_encoder(
        [
            ndef.UriRecord("https://club.example/m/1001"),
            ndef.Record("urn:nfc:ext:club.example:card", "1", bytes(range(40))),
        ]
    )
)
OTHER_MESSAGE = b"".join(ndef.message_encoder([ndef.TextRecord("issued at lane 3")]))


# ---------------------------------------------------------------- event helpers


@contextmanager
def running(path: str) -> Iterator[Events]:
    """Start the reader for ``path``; stop it on exit and check that stop() is prompt."""
    reader = open_reader(path)
    events = Events()
    reader.start(events)
    try:
        yield events
    finally:
        started = time.monotonic()
        reader.stop(timeout=5.0)
        stopped_in = time.monotonic() - started
        assert stopped_in < 2.0, f"stop() took {stopped_in:.2f} s"
        events.drain()
        assert isinstance(events.seen[-1], ReaderStatus)
        assert events.seen[-1].state is ReaderState.STOPPED


# ------------------------------------------------------- the two-process UDP test


class Emulator:
    """The tag emulator process; its stdout lines are collected on a thread."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, str(EMULATOR), "--time-limit", "25", *args]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        first = self.lines.get(timeout=15)
        assert first.startswith("PORT "), first
        self.port = int(first.split()[1])

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def finish(self, timeout: float = 15.0) -> list[str]:
        """Wait for the process to exit 0; return its remaining output lines."""
        assert self.proc.wait(timeout) == 0
        time.sleep(0.05)  # let the pump thread deliver the last lines
        return [self.lines.get() for _ in range(self.lines.qsize())]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture()
def emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def start(*args: str) -> Emulator:
        started.append(Emulator(*args))
        return started[-1]

    yield start
    for emu in started:
        emu.kill()


def test_udp_two_processes_read_type3_tag(emulator: Callable[..., Emulator]) -> None:
    emu = emulator("--ndef", MESSAGE.hex(), "--taps", "2")
    with running(f"nfc:udp:localhost:{emu.port}") as events:
        first, second = events.card(), events.card()
        for read in (first, second):  # one read per tap
            assert read.source == f"nfc:udp:localhost:{emu.port}"
            assert (read.kind, read.uid, read.ndef) == (CardKind.NFC_TYPE3, IDM, MESSAGE)
        output = emu.finish()
    assert output[-1] == f"NDEF {MESSAGE.hex()}"  # the emulator saw the reads and exited
    assert output[-2].startswith("TAP 2 ")
    ready = [e for e in events.seen if isinstance(e, ReaderStatus) and e.state is ReaderState.READY]
    assert "udp:" in ready[0].detail


def test_udp_two_processes_write_type3_tag(emulator: Callable[..., Emulator]) -> None:
    emu = emulator("--ndef", MESSAGE.hex(), "--taps", "1", "--tap-seconds", "5")
    path = f"nfc:udp:localhost:{emu.port}"
    # refused before any command reaches the tag, so the emulator sees no tap
    with pytest.raises(CardRejectedError) as refused:
        driver.write_ndef(path, OTHER_MESSAGE, timeout=10, expect_uid=b"\x01" * 8)
    assert refused.value.reason == "wrong-card"
    assert driver.write_ndef(path, OTHER_MESSAGE, timeout=10, expect_uid=IDM) == IDM
    assert emu.finish()[-1] == f"NDEF {OTHER_MESSAGE.hex()}"  # the tag's memory changed


def test_udp_write_too_large_for_the_tag(emulator: Callable[..., Emulator]) -> None:
    emu = emulator("--ndef", OTHER_MESSAGE.hex(), "--capacity", "32", "--tap-seconds", "5")
    with pytest.raises(CardRejectedError) as refused:
        driver.write_ndef(f"nfc:udp:localhost:{emu.port}", MESSAGE, timeout=10)
    assert refused.value.reason == "too-small"
    assert emu.finish()[-1] == f"NDEF {OTHER_MESSAGE.hex()}"  # unchanged


def test_udp_oversized_type3_message_is_refused_from_its_attribute_block(
    emulator: Callable[..., Emulator],
) -> None:
    huge = b"".join(ndef.message_encoder([ndef.TextRecord("x" * 9000)]))
    assert len(huge) > MAX_MESSAGE
    emu = emulator("--ndef", huge.hex(), "--capacity", str(len(huge)), "--tap-seconds", "1")
    with running(f"nfc:udp:localhost:{emu.port}") as events:
        refused = events.refusal()
        output = emu.finish()
    assert refused.uid == IDM and "oversized message (9" in (refused.error or "")
    tap = next(line for line in output if line.startswith("TAP 1 "))
    assert tap.split()[2] == "reads=1"  # the attribute block only, none of the 9 KB


# ------------------------------------- fakes at nfcpy's device seam (see emulator)


def install(monkeypatch: pytest.MonkeyPatch, *outcomes: Any) -> list[str]:
    """Make ``ContactlessFrontend.open`` get ``outcomes`` in turn (the last repeats).

    An outcome is a device, None (not found) or an exception to raise.
    Returns the list of nfcpy paths opened.
    """
    opened: list[str] = []

    def connect(path: str) -> Any:
        opened.append(path)
        outcome = outcomes[min(len(opened), len(outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(nfc.clf.device, "connect", connect)
    return opened


# --------------------------------------------------- Type 2 and Type 4 reading


def test_type2_and_type4_tags_are_read_one_per_tap(monkeypatch: pytest.MonkeyPatch) -> None:
    ntag, t4 = Ntag215(ntag215_memory(MESSAGE)), Type4Card(OTHER_MESSAGE)
    device = FakeDevice(ntag, t4)
    install(monkeypatch, device)
    with running("nfc:usb:054c:06c3") as events:
        read = events.card()
        assert (read.kind, read.uid, read.ndef) == (CardKind.NFC_TYPE2, ntag.uid, MESSAGE)
        assert read.source == "nfc:usb:054c:06c3"
        time.sleep(0.3)  # the card stays on the reader: no second read
        ntag.removed = True  # lifted; the Type 4 card is tapped next
        read = events.card()
        assert (read.kind, read.uid, read.ndef) == (CardKind.NFC_TYPE4, t4.uid, OTHER_MESSAGE)
    reads = [e for e in events.seen if isinstance(e, CardRead)]
    assert len(reads) == 2
    states = [e.state for e in events.seen if isinstance(e, ReaderStatus)]
    starting, ready, reading = ReaderState.STARTING, ReaderState.READY, ReaderState.READING
    assert states[:4] == [starting, ready, reading, ready]


def test_ntag_originality_signature_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    signed, mute = ntag215_memory(MESSAGE), ntag215_memory(MESSAGE)
    uid = bytes(signed[0:3] + signed[4:8])
    original = Ntag215(signed, signature=chip_signature(uid))
    clone = Ntag215(mute, signature=None)  # a chip without READ_SIG
    install(monkeypatch, FakeDevice(original, clone))
    with running("nfc:usb") as events:
        read = events.card()
        assert (read.kind, read.ndef, read.chip_signature) == (
            CardKind.NFC_TYPE2,
            MESSAGE,
            chip_signature(uid),
        )
        assert verify_originality(read.uid or b"", read.chip_signature or b"", [MAKER_PUBLIC_KEY])
        original.removed = True
        read = events.card()
        assert (read.uid, read.ndef, read.chip_signature) == (uid, MESSAGE, None)


def test_tag_without_ndef_is_uid_only(monkeypatch: pytest.MonkeyPatch) -> None:
    blank = ntag215_memory(None)
    blank[12] = 0x00  # no capability container: not NDEF formatted
    card = Ntag215(blank)
    install(monkeypatch, FakeDevice(card))
    with running("nfc:usb") as events:
        read = events.card()
    assert (read.kind, read.uid, read.ndef) == (CardKind.UID_ONLY, card.uid, None)


@pytest.mark.parametrize(
    "make_card",
    [lambda: Ntag215(ntag215_memory(MESSAGE), vanish_after_reads=1), lambda: Type4Card(MESSAGE, 1)],
    ids=["type2", "type4"],
)
def test_card_removed_mid_read_reports_error_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, make_card: Callable[[], Card]
) -> None:
    card = make_card()  # it vanishes on its second data read
    device = FakeDevice(card)
    install(monkeypatch, device)
    with running("nfc:usb") as events:
        error = events.status(ReaderState.ERROR)
        assert error.detail == driver.CARD_REMOVED
        refused = events.refusal()  # a refusal with its reason, never a UID-only read
        assert (refused.error, refused.uid) == (driver.CARD_REMOVED, card.uid)
        assert card.removed
        good = Ntag215(ntag215_memory(MESSAGE))
        device.cards.append(good)  # tapped again (another card, to tell them apart)
        read = events.card()
        assert (read.kind, read.uid, read.ndef) == (CardKind.NFC_TYPE2, good.uid, MESSAGE)
    assert [e.uid for e in events.seen if isinstance(e, CardRead)] == [card.uid, good.uid]


def test_an_oversized_message_is_a_refusal_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = b"".join(ndef.message_encoder([ndef.TextRecord("x" * 9000)]))
    card = Type4Card(huge)
    install(monkeypatch, FakeDevice(card))
    with running("nfc:usb") as events:
        refused = events.refusal()
    assert refused.uid == card.uid and "oversized message" in (refused.error or "")


# --------------------------------------------------------- reopen with backoff


def test_open_failures_report_hints_and_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    card = Ntag215(ntag215_memory(MESSAGE))
    denied, busy = OSError(errno.EACCES, "denied"), OSError(errno.EBUSY, "busy")
    opened = install(monkeypatch, denied, busy, FakeDevice(card))
    with running("nfc:usb:054c:06c3") as events:
        first = events.status(ReaderState.RECONNECTING)
        assert "Permission denied" in first.detail and "udev" in first.detail
        assert "plugdev" in first.detail
        second = events.status(ReaderState.RECONNECTING)
        assert "pn533_usb" in second.detail and "pcscd" in second.detail
        assert events.card().uid == card.uid
    assert opened == ["usb:054c:06c3"] * 3


def test_reader_not_found_is_retried_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = install(monkeypatch, None)
    with running("nfc:usb") as events:
        status = events.status(ReaderState.RECONNECTING)
        assert "no nfc reader found on usb" in status.detail
        assert "plug the reader in" in status.detail
        time.sleep(0.5)
    assert len(opened) >= 2  # retried, with a growing delay


def test_usb_error_in_connect_closes_and_reopens(monkeypatch: pytest.MonkeyPatch) -> None:
    card = Ntag215(ntag215_memory(MESSAGE))
    dead, fresh = FakeDevice(card, broken=True), FakeDevice(card)
    opened = install(monkeypatch, dead, fresh)
    with running("nfc:usb") as events:
        status = events.status(ReaderState.RECONNECTING)
        assert "reopening" in status.detail
        assert events.card().uid == card.uid
        assert dead.closed and not fresh.closed
    assert len(opened) == 2 and fresh.closed


# ----------------------------------------------------- writing at device level


def test_write_ndef_to_type2_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    card = Ntag215(ntag215_memory(OTHER_MESSAGE))
    install(monkeypatch, FakeDevice(card))
    assert driver.write_ndef("nfc:usb", MESSAGE, timeout=2) == card.uid
    assert card.memory[16 : 18 + len(MESSAGE)] == bytes([3, len(MESSAGE)]) + MESSAGE


@pytest.mark.parametrize(
    ("memory", "reason"),
    [
        (ntag215_memory(OTHER_MESSAGE, read_only=True), "read-only"),
        (ntag215_memory(OTHER_MESSAGE)[:60], "too-small"),  # an NTAG with 15 pages
        (bytearray(12) + b"\x00" * 528, "not-ndef"),
    ],
)
def test_write_ndef_refuses_unsuitable_tags(
    monkeypatch: pytest.MonkeyPatch, memory: bytearray, reason: str
) -> None:
    memory[0:12] = ntag215_memory(None)[0:12]
    if reason == "too-small":
        memory[14] = 5  # CC: 40 bytes of data area
    before = bytes(memory)
    install(monkeypatch, FakeDevice(Ntag215(memory)))
    with pytest.raises(CardRejectedError) as refused:
        driver.write_ndef("nfc:usb", MESSAGE, timeout=2)
    assert refused.value.reason == reason
    assert bytes(memory) == before


def test_write_ndef_card_removed_before_the_write(monkeypatch: pytest.MonkeyPatch) -> None:
    card = Ntag215(ntag215_memory(OTHER_MESSAGE), vanish_after_reads=1)
    before = bytes(card.memory)
    install(monkeypatch, FakeDevice(card))
    with pytest.raises(CardIOError, match=driver.CARD_REMOVED):
        driver.write_ndef("nfc:usb", MESSAGE, timeout=2)
    assert bytes(card.memory) == before  # not "not NDEF formatted", and nothing written


def test_write_ndef_timeout_and_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeDevice())
    started = time.monotonic()
    with pytest.raises(CardIOError, match="no card was presented"):
        driver.write_ndef("nfc:usb", MESSAGE, timeout=0.3)
    assert time.monotonic() - started < 2
    with pytest.raises(FormatError):
        driver.write_ndef("nfc:usb", MESSAGE + b"\x00", timeout=0.3)
    with pytest.raises(ReaderUnavailableError):
        driver.write_ndef("pcsc:Virtual PCD 00 00", MESSAGE, timeout=0.3)


# ------------------------------------------------------------------ diagnostics


def test_list_devices_reports_unusable_readers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert driver.list_devices() == []  # no USB here
    found = [(0x054C, 0x06C3, 1, 5), (0x1234, 0x5678, 1, 6), (0x072F, 0x2200, 2, 7)]
    monkeypatch.setattr(nfc.clf.transport.USB, "find", lambda path: found)
    (tmp_path / "2-1").mkdir()
    (tmp_path / "2-1" / "busnum").write_text("2\n")
    (tmp_path / "2-1" / "devnum").write_text("7\n")
    (tmp_path / "2-1:1.0").mkdir()
    (tmp_path / "2-1:1.0" / "driver").symlink_to("../../../bus/usb/drivers/pn533_usb")
    monkeypatch.setattr(driver, "SYSFS_USB", tmp_path)
    rcs380, acr122 = driver.list_devices()
    assert (rcs380["path"], rcs380["driver"], rcs380["usable"]) == (
        "nfc:usb:054c:06c3",
        "rcs380",
        False,
    )
    assert "/dev/bus/usb/001/005" in rcs380["problem"] and "udev" in rcs380["hint"]
    assert acr122["nfcpy_path"] == "usb:002:007"
    assert acr122["problem"] == "kernel module pn533_usb holds it"
    assert "blacklist" in acr122["hint"]


# ------------------------------------------------------------------ path parsing


@pytest.mark.parametrize(
    ("rest", "nfcpy_path"),
    [
        ("usb", "usb"),
        ("usb:072F:2200", "usb:072f:2200"),
        ("tty:USB0:pn532", "tty:USB0:pn532"),
        ("tty:ACM1:arygon", "tty:ACM1:arygon"),
        ("udp", "udp:localhost:54321"),
        ("udp:127.0.0.1:9000", "udp:127.0.0.1:9000"),
    ],
)
def test_parse_path(rest: str, nfcpy_path: str) -> None:
    assert driver.parse_path(rest) == nfcpy_path
    assert open_reader(f"nfc:{rest}").path == f"nfc:{rest}"


@pytest.mark.parametrize(
    "rest",
    [
        *("", "usb:072f", "usb:72f:2200", "usb:001:023", "tty:USB0", "tty:USB0:os"),
        *("tty:../x:pn532", "udp:localhost", "udp:localhost:0", "udp:localhost:65536"),
        *("udp::1:80", "serial"),
    ],
)
def test_parse_path_refuses(rest: str) -> None:
    with pytest.raises(ReaderUnavailableError, match="malformed nfc reader path"):
        driver.parse_path(rest)


def test_all_names_exist() -> None:
    assert all(hasattr(driver, name) for name in driver.__all__)


# -------------------------------------------------------------------- hypothesis


@given(st.text(max_size=40))
def test_parse_path_fuzz(rest: str) -> None:
    try:
        nfcpy_path = driver.parse_path(rest)
    except ReaderUnavailableError:
        return
    assert nfcpy_path.split(":")[0] in ("usb", "tty", "udp")
    assert driver.parse_path(nfcpy_path) == nfcpy_path  # outputs are fixed points


@given(st.from_regex(r"[0-9a-fA-F]{4}", fullmatch=True), st.integers(1, 65535))
def test_parse_path_valid(vid: str, port: int) -> None:
    assert driver.parse_path(f"usb:{vid}:{vid}") == f"usb:{vid.lower()}:{vid.lower()}"
    assert driver.parse_path(f"udp:lane-3.local:{port}") == f"udp:lane-3.local:{port}"


records = st.builds(
    ndef.Record,
    st.sampled_from(["urn:nfc:wkt:T", "urn:nfc:ext:club.example:card", "application/octet-stream"]),
    st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=8),
    st.binary(max_size=300),
)


@given(st.lists(records, min_size=1, max_size=4), st.binary(min_size=1, max_size=4))
def test_check_ndef_message_roundtrip(message: list[Any], junk: bytes) -> None:
    octets = b"".join(ndef.message_encoder(message))
    assert driver.check_ndef_message(octets) == octets
    with pytest.raises(FormatError):
        driver.check_ndef_message(octets + junk)
    with pytest.raises(FormatError):
        driver.check_ndef_message(octets[:-1])


@given(st.binary(max_size=200))
def test_check_ndef_message_fuzz(data: bytes) -> None:
    with suppress(FormatError):  # the only error allowed
        assert driver.check_ndef_message(data) == data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=4, max_size=4), st.binary(max_size=200))
def test_read_tag_never_crashes_on_garbage_memory(cc: bytes, data: bytes) -> None:
    memory = ntag215_memory(None)
    memory[12:16] = cc
    memory[16 : 16 + len(data)] = data
    card = Ntag215(memory)
    clf = nfc.ContactlessFrontend()
    clf.device = FakeDevice(card)
    target = clf.sense(nfc.clf.RemoteTarget("106A"))
    tag = nfc.tag.activate(clf, target)
    try:
        read = driver.read_tag(tag, "nfc:usb")
    except CardIOError:
        return
    assert read.uid == card.uid
    assert read.kind in (CardKind.NFC_TYPE2, CardKind.UID_ONLY)
    assert (read.ndef is None) == (read.kind is CardKind.UID_ONLY)

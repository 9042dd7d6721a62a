"""The keyboard-wedge driver: decoding, the termination rule, the read loop, discovery."""

from __future__ import annotations

import base64
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from evdev import InputEvent, ecodes
from hypothesis import given, settings
from hypothesis import strategies as st

from clubcore.errors import ReaderUnavailableError
from terminal.readers import open_reader, wedge
from terminal.readers.base import CardKind, ReaderState
from terminal.readers.wedge import (
    Dropped,
    ScanDecoder,
    WedgeReader,
    list_devices,
    list_inputs,
    pick_scanner,
)
from tests.readers.wedge_fakes import FakeInputs, Sink, Typist, info

NODE = "/dev/input/event7"


def decode(events: list[InputEvent], decoder: ScanDecoder | None = None) -> list[str | Dropped]:
    decoder = decoder or ScanDecoder()
    outcomes = (decoder.feed(event) for event in events)
    return [outcome for outcome in outcomes if outcome is not None]


# --- decoding ---------------------------------------------------------------


def test_digits() -> None:
    assert decode(Typist().type("0123456789")) == ["0123456789"]


def test_letters_and_symbols_need_shift() -> None:
    text = "abcXYZ:;=?+-_!@#$%^&*()[]{}'\"`~\\|,<.>/ "
    assert decode(Typist().type(text)) == [text]
    assert decode(Typist().type("QR:=?", right=True)) == ["QR:=?"]  # right Shift too


def test_qr_payload_comes_out_exactly() -> None:
    body = base64.b32encode(bytes(range(7, 120))).decode("ascii").rstrip("=")
    payload = "CT1:" + body
    assert decode(Typist().type(payload)) == [payload]


def test_track2_comes_out_exactly() -> None:
    track2 = ";6037991234567890=2512101000000?"
    assert decode(Typist().type(track2)) == [track2]


@pytest.mark.parametrize("end", ["enter", "kpenter", "tab"])
def test_enter_keypad_enter_and_tab_end_a_scan(end: str) -> None:
    typist = Typist()
    events = typist.type("12345", end=end) + typist.type("678", end=end)
    assert decode(events) == ["12345", "678"]


def test_keypad_digits_decode_as_digits() -> None:
    typist = Typist()
    events = [e for d in "907" for e in typist.key(ecodes.ecodes[f"KEY_KP{d}"])]
    assert decode(events + typist.key(ecodes.KEY_KPENTER)) == ["907"]


def test_key_repeats_and_key_ups_are_ignored() -> None:
    typist = Typist()
    events = [
        typist.event(ecodes.EV_KEY, ecodes.KEY_4, 1),
        typist.event(ecodes.EV_KEY, ecodes.KEY_4, 2),  # auto-repeat
        typist.event(ecodes.EV_KEY, ecodes.KEY_4, 2),
        typist.event(ecodes.EV_KEY, ecodes.KEY_4, 0),
        typist.event(ecodes.EV_KEY, ecodes.KEY_2, 0),  # a stray key-up
        typist.event(ecodes.EV_KEY, ecodes.KEY_ENTER, 1),
        typist.event(ecodes.EV_KEY, ecodes.KEY_ENTER, 0),
    ]
    assert decode(events) == ["4"]


def test_capslock_and_ctrl_chords_are_ignored() -> None:
    typist = Typist()
    events = typist.key(ecodes.KEY_CAPSLOCK) + typist.type("ab", end=None)
    events += [typist.event(ecodes.EV_KEY, ecodes.KEY_LEFTCTRL, 1)]
    events += [*typist.key(ecodes.KEY_J), typist.event(ecodes.EV_KEY, ecodes.KEY_LEFTCTRL, 0)]
    assert decode(events + typist.type("C")) == ["abC"]


def test_an_empty_enter_yields_nothing() -> None:
    assert decode(Typist().type("")) == []


# --- the termination rule ---------------------------------------------------


def test_the_gap_splits_an_unterminated_burst_from_the_next_scan() -> None:
    typist = Typist()
    events = typist.type("1234", end=None)
    typist.pause(1.0)
    events += typist.type("5678")
    assert decode(events) == [Dropped(Dropped.INCOMPLETE, 4), "5678"]


def test_back_to_back_scans_both_come_out() -> None:
    typist = Typist()
    events = typist.type("CT1:AAAA")
    typist.pause(0.01)
    assert decode(events + typist.type(";12=3?")) == ["CT1:AAAA", ";12=3?"]


def test_slow_human_typing_yields_no_text() -> None:
    typist = Typist()
    events = typist.type("123456", interval=0.15)
    typist.pause(2.0)
    events += typist.type("9", interval=0.3)  # one key, then Enter 300 ms later
    outcomes = decode(events)
    assert all(isinstance(o, Dropped) for o in outcomes), outcomes
    assert outcomes[0] == Dropped(Dropped.INCOMPLETE, 1)


def test_tail_of_a_scan_cut_by_a_hiccup_is_not_a_scan() -> None:
    typist = Typist()
    events = typist.type("12", end=None)
    typist.pause(0.15)  # a USB hiccup mid-scan
    events += typist.type("34567")
    typist.pause(1.0)
    events += typist.type("999")  # the next scan, after a quiet time, is good
    assert decode(events) == [Dropped(Dropped.INCOMPLETE, 2), "999"]


def test_terminator_after_the_gap_does_not_rescue_the_burst() -> None:
    typist = Typist()
    events = typist.type("1234", end=None)
    typist.pause(0.1)
    assert decode(events + typist.type("")) == [Dropped(Dropped.INCOMPLETE, 4)]


def test_over_long_garbage_is_dropped_and_the_next_scan_read() -> None:
    typist = Typist()
    events = typist.type("7" * 600, interval=0.001)
    typist.pause(1.0)
    events += typist.type("42")
    assert decode(events) == [Dropped(Dropped.TOO_LONG, 513), "42"]


def test_expire_drops_a_pending_burst() -> None:
    decoder = ScanDecoder()
    assert decode(Typist().type("123", end=None), decoder) == []
    assert decoder.pending
    assert decoder.expire() == Dropped(Dropped.INCOMPLETE, 3)
    assert not decoder.pending and decoder.expire() is None


def test_lost_kernel_events_drop_the_burst() -> None:
    typist = Typist()
    events = [*typist.type("12", end=None), typist.event(ecodes.EV_SYN, ecodes.SYN_DROPPED, 0)]
    events += typist.type("34")
    assert decode(events) == [Dropped(Dropped.EVENTS_LOST, 2)]


def test_decoder_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        ScanDecoder(gap=0.6, holdoff=0.5)
    with pytest.raises(ValueError):
        ScanDecoder(max_length=0)


_events = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=0.7),  # delay before the event
        st.sampled_from([ecodes.EV_KEY] * 6 + [ecodes.EV_SYN, ecodes.EV_MSC, ecodes.EV_LED, 99]),
        st.one_of(
            st.integers(0, 0x2FF),
            st.sampled_from([ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_TAB]),
        ),
        st.sampled_from([0, 1, 1, 1, 2, -1, 7]),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(_events)
def test_any_key_events_yield_only_texts_or_drops(raw: list[tuple[float, int, int, int]]) -> None:
    decoder, typist = ScanDecoder(max_length=40), Typist()
    outcomes = []
    for delay, type_, code, value in raw:
        typist.pause(delay)
        outcomes.append(decoder.feed(typist.event(type_, code, value)))
    outcomes.append(decoder.expire())
    for outcome in outcomes:
        assert outcome is None or isinstance(outcome, str | Dropped)
        if isinstance(outcome, str):
            assert outcome and len(outcome) <= 40
            assert "\n" not in outcome and "\t" not in outcome


# --- the reader on a fake transport ------------------------------------------


@pytest.fixture
def inputs() -> Iterator[FakeInputs]:
    fakes = FakeInputs()
    yield fakes
    fakes.close_all()


def start(inputs: FakeInputs, device: str | None = NODE) -> tuple[WedgeReader, Sink]:
    path = "wedge" if device is None else f"wedge:{device}"
    reader = WedgeReader(path, device, opener=inputs.open, lister=inputs.list)
    sink = Sink()
    reader.start(sink)
    return reader, sink


def stop(reader: WedgeReader) -> float:
    began = time.monotonic()
    reader.stop()
    return time.monotonic() - began


def test_reader_grabs_reads_a_scan_and_releases_on_stop(inputs: FakeInputs) -> None:
    device = inputs.plug(NODE)
    reader, sink = start(inputs)
    try:
        ready = sink.status(ReaderState.READY)
        assert device.grabbed and NODE in ready.detail
        device.feed(Typist().type("CT1:MZXW6YTB"))
        read = sink.card()
        assert (read.source, read.kind, read.text) == (
            f"wedge:{NODE}",
            CardKind.WEDGE,
            "CT1:MZXW6YTB",
        )
    finally:
        assert stop(reader) < 1.0
    assert not device.grabbed and device.closed
    assert sink.status(ReaderState.STOPPED)


def test_reader_reports_an_unterminated_burst(inputs: FakeInputs) -> None:
    device = inputs.plug(NODE)
    reader, sink = start(inputs)
    try:
        sink.status(ReaderState.READY)
        device.feed(Typist().type("0912", end=None))
        assert "without Enter" in sink.status(ReaderState.ERROR, timeout=1.0).detail
        typist = Typist(start=1_800_000_000.0)
        device.feed(typist.type("777"))
        assert sink.card().text == "777"
        sink.status(ReaderState.READY)  # the error is cleared
    finally:
        stop(reader)
    assert [r.text for r in sink.reads()] == ["777"]


def test_reader_reports_garbage(inputs: FakeInputs) -> None:
    device = inputs.plug(NODE)
    reader, sink = start(inputs)
    try:
        sink.status(ReaderState.READY)
        device.feed(Typist().type("x" * 700, interval=0.001))
        assert "over the length limit" in sink.status(ReaderState.ERROR).detail
    finally:
        stop(reader)
    assert sink.reads() == []


def test_permission_denied_reconnects_with_a_hint(inputs: FakeInputs) -> None:
    inputs.deny(NODE)
    reader, sink = start(inputs)
    try:
        status = sink.status(ReaderState.RECONNECTING)
        assert "Permission denied" in status.detail and "'input' group" in status.detail
        device = inputs.plug(NODE)  # the udev rule is in place now
        sink.status(ReaderState.READY)
        device.feed(Typist().type("5"))
        assert sink.card().text == "5"
    finally:
        assert stop(reader) < 1.0


def test_missing_device_reconnects_with_a_hint(inputs: FakeInputs) -> None:
    reader, sink = start(inputs)
    try:
        status = sink.status(ReaderState.RECONNECTING)
        assert "No such file" in status.detail and "plug the scanner in" in status.detail
    finally:
        assert stop(reader) < 1.0


def test_grab_held_elsewhere_reconnects_with_a_hint(inputs: FakeInputs) -> None:
    device = inputs.plug(NODE)
    device.grab_error = OSError(errno.EBUSY, os.strerror(errno.EBUSY))
    reader, sink = start(inputs)
    try:
        assert "grabbed this device" in sink.status(ReaderState.RECONNECTING).detail
    finally:
        stop(reader)
    assert device.closed


def test_unplugged_mid_run_reconnects_and_reopens(inputs: FakeInputs) -> None:
    first = inputs.plug(NODE)
    reader, sink = start(inputs)
    try:
        sink.status(ReaderState.READY)
        first.unplug()
        del inputs.nodes[NODE]
        assert "unplugged" in sink.status(ReaderState.RECONNECTING).detail
        assert first.closed
        second = inputs.plug(NODE)
        sink.status(ReaderState.READY)
        assert second.grabbed
        second.feed(Typist().type(";1234=2512?"))
        assert sink.card().text == ";1234=2512?"
    finally:
        stop(reader)
    assert not second.grabbed and second.closed


def test_stop_returns_within_a_second_while_reconnecting(inputs: FakeInputs) -> None:
    inputs.deny(NODE)
    reader, sink = start(inputs)
    sink.status(ReaderState.RECONNECTING)
    time.sleep(0.3)  # deep in the backoff sleep
    assert stop(reader) < 1.0


def test_the_real_evdev_opener_maps_a_missing_node() -> None:
    reader = wedge.open("wedge:/dev/input/event-none", "/dev/input/event-none")
    sink = Sink()
    reader.start(sink)
    try:
        status = sink.status(ReaderState.RECONNECTING)
        assert "cannot open /dev/input/event-none" in status.detail
    finally:
        assert stop(reader) < 1.0


# --- auto-pick and discovery ---------------------------------------------------


def test_auto_pick_opens_the_scanner_not_the_keyboard(inputs: FakeInputs) -> None:
    inputs.infos = [
        info("/dev/input/event3", "AT Translated Set 2 keyboard"),
        info("/dev/input/event9", "Honeywell Imaging & Mobility 1900"),
    ]
    keyboard, scanner = inputs.plug("/dev/input/event3"), inputs.plug("/dev/input/event9")
    reader, sink = start(inputs, device=None)
    try:
        assert "event9" in sink.status(ReaderState.READY).detail
        assert scanner.grabbed and not keyboard.grabbed
        scanner.feed(Typist().type("123"))
        assert sink.card().source == "wedge"
    finally:
        stop(reader)
    assert inputs.opened == ["/dev/input/event9"]


def test_auto_pick_never_grabs_a_lone_keyboard(inputs: FakeInputs) -> None:
    inputs.infos = [info("/dev/input/event3", "USB HID Keyboard")]
    inputs.plug("/dev/input/event3")
    reader, sink = start(inputs, device=None)
    try:
        status = sink.status(ReaderState.RECONNECTING)
        assert "no input device looks like a scanner" in status.detail
        assert "USB HID Keyboard" in status.detail and "never grabbed" in status.detail
    finally:
        stop(reader)
    assert inputs.opened == []


def test_pick_scanner_rules() -> None:
    mouse = info("/dev/input/event1", "Logitech Barcode Mouse", keys=frozenset({ecodes.BTN_LEFT}))
    locked = info("/dev/input/event5", "Zebra DS2208 Scanner", accessible=False)
    second = info("/dev/input/event6", "Datalogic QuickScan")
    assert pick_scanner([mouse, locked, second]) is second
    with pytest.raises(ReaderUnavailableError, match="no permission") as denied:
        pick_scanner([mouse, locked])
    assert "'input' group" in str(denied.value)
    with pytest.raises(ReaderUnavailableError, match="no keyboard-wedge scanner found"):
        pick_scanner([mouse])


def test_list_devices_reports_keyboards_with_problems() -> None:
    rows = list_devices(
        lambda: [
            info("/dev/input/event2", "Power Button", keys=frozenset({ecodes.KEY_POWER})),
            info("/dev/input/event3", "AT Translated Set 2 keyboard"),
            info("/dev/input/event5", "Symbol Bar Code Scanner", accessible=False),
        ]
    )
    assert [r["device"] for r in rows] == ["/dev/input/event3", "/dev/input/event5"]
    keyboard, scanner = rows
    assert keyboard["problem"] == "" and not keyboard["looks_like_scanner"]
    assert "wedge:/dev/input/event3" in keyboard["hint"]
    assert scanner["looks_like_scanner"] and not scanner["accessible"]
    assert scanner["problem"] == "no read access to /dev/input/event5"
    assert "udev rule" in scanner["hint"] and scanner["path"] == "wedge:/dev/input/event5"


def _key_bitmap(codes: set[int]) -> str:
    """The kernel's sysfs form: 64-bit words in hex, most significant first."""
    value = sum(1 << code for code in codes)
    words = [(value >> shift) & (2**64 - 1) for shift in range(0, max(codes) + 1, 64)]
    return " ".join(f"{w:x}" for w in reversed(words))


def test_list_inputs_reads_sysfs_and_by_id_links(tmp_path: Path) -> None:
    dev, sys = tmp_path / "dev", tmp_path / "sys"
    (dev / "by-id").mkdir(parents=True)
    digits = {ecodes.ecodes[f"KEY_{d}"] for d in "0123456789"} | {ecodes.KEY_ENTER}
    for number, name, keys in [(10, "Newland HR22", digits), (2, "Sleep Button", {142})]:
        (dev / f"event{number}").write_text("")
        device = sys / f"event{number}" / "device"
        (device / "capabilities").mkdir(parents=True)
        (device / "name").write_text(name + "\n")
        (device / "phys").write_text("usb-0000:00:14.0-3/input0\n")
        (device / "capabilities" / "key").write_text(_key_bitmap(keys) + "\n")
    os.symlink("../event10", dev / "by-id" / "usb-Newland_HR22-event-kbd")
    found = list_inputs(str(dev), str(sys))
    assert [f.name for f in found] == ["Sleep Button", "Newland HR22"]
    assert found[1].keys == digits and found[1].looks_like_scanner
    assert found[1].stable == str(dev / "by-id" / "usb-Newland_HR22-event-kbd")
    assert not found[0].is_keyboard and found[0].keys == {142}
    assert list_devices(lambda: found)[0]["path"] == f"wedge:{found[1].stable}"


def test_paths() -> None:
    assert wedge.open("wedge", "").device is None
    reader = open_reader("wedge:/dev/input/by-id/usb-scanner-event-kbd")
    assert isinstance(reader, WedgeReader)
    assert reader.device == "/dev/input/by-id/usb-scanner-event-kbd"
    with pytest.raises(ReaderUnavailableError, match="malformed"):
        open_reader("wedge:event3")


def test_public_names() -> None:
    assert all(hasattr(wedge, name) for name in wedge.__all__)

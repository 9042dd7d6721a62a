"""Benchmark: card presented -> verified identification delivered, through real reader stacks.

A temporary terminal database is seeded with ``--members`` demo members
(:func:`terminal.demo_data.seed`), a fresh Ed25519 club key is trusted in it
(:func:`offline_store.cards.add_public_key`), and signed club cards for member
``member_number(42)`` are made for the chips below (the signature covers each
chip's UID). Every reader event goes to a sink that, like the app's, runs
:func:`terminal.verifier.identify` against :class:`StoreCardDirectory` on the
reader's thread and timestamps the verified identification. Measured:

- ``pcsc_ntag215``: a vpcd virtual NTAG215 (``tests.readers.vpcd.Ntag215``)
  through a real pcscd, pyscard and :class:`terminal.readers.pcsc.PcscReader`:
  from the moment the card is inserted (the virtual card's ``connect()``) to
  the verified identification, broken down into pcscd's detection, the card
  I/O and the verification. Once with a reader that answers 16 bytes per
  ``FF B0`` page read and once with one that answers 4. The card is removed,
  and its removal seen by pcscd, between reads; each insertion waits a random
  fraction of pcscd's polling period so that the detection delay is sampled
  uniformly rather than always at the same phase.
- ``nfc_udp_type3``: the Type 3 tag emulator (``tests/readers/nfc_tag_emulator.py``,
  a second process) through nfcpy's ``udp`` device and
  :class:`terminal.readers.nfc.NfcReader`: from the driver finding the tag (its
  READING status, emitted from nfcpy's on-connect callback once its poll got
  the tag's SENSF_RES and activated it, before the NDEF read) to the verified
  identification. The emulator prints its
  ``TAP`` line when a tap *ends*, so the tap's start cannot be observed from
  this process; see the notes in the output.
- ``verifier_only``: :func:`identify` alone on the same card read, in process.
  ``verifier_random_members`` does the same over cards of many different members.

pcscd is started (and stopped at the end) if it is not already running.
Everything is bounded: ``--reads`` per measurement and an overall ``--deadline``;
a measurement cut short by the deadline says ``"truncated": true``.

Prints one JSON document. Usage::

    python -m benchmarks.readers [--members 100000] [--reads 100] [--skip-nfc]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from smartcard.scard import (
    SCARD_E_TIMEOUT,
    SCARD_S_SUCCESS,
    SCARD_SCOPE_USER,
    SCARD_STATE_CHANGED,
    SCARD_STATE_PRESENT,
    SCARD_STATE_UNAWARE,
    SCardEstablishContext,
    SCardGetStatusChange,
    SCardReleaseContext,
)

from benchmarks.common import emit, machine, peak_rss_mb, summarize, time_calls
from clubcore.cardformat import CardFields, generate_private_key, public_key_bytes, sign_card
from clubcore.errors import CardRejectedError
from offline_store.cards import StoreCardDirectory, add_public_key
from terminal.bootstrap import Terminal, bootstrap
from terminal.demo_data import member_number, seed
from terminal.readers import open_reader
from terminal.readers.base import CardKind, CardRead, Reader, ReaderEvent, ReaderState, ReaderStatus
from terminal.verifier import Identification, Strength, identify
from tests.pcsc_stack import Pcscd, PcscdError, pcscd_missing
from tests.readers.vpcd import PORT_01, Ntag215

#: vpcd's second reader (cards connect to PORT_01): the reader tests insert their
#: cards into "Virtual PCD 00 00", and may run at the same time on this machine
READER = "Virtual PCD 00 01"
#: pcsc-lite polls a driver without its own event thread (vpcd) every 400 ms
#: (PCSCLITE_STATUS_POLL_RATE); insertions are spread over one such period
PCSCD_POLL_S = 0.4
EMULATOR = Path(__file__).resolve().parent.parent / "tests" / "readers" / "nfc_tag_emulator.py"
#: emulator timing: each tap lasts TAP_S from activation, then the tag is away GAP_S
TAP_S = 0.1
GAP_S = 0.2

PCSC_UID = bytes.fromhex("045A3C11223381")  # 7-byte NFC-A UID of the virtual NTAG215
NFC_IDM = bytes.fromhex("03FE0011223344AA")  # 8-byte FeliCa IDm of the emulated tag
KEY_ID = 7
CARD_SERIAL = 4_000_000_001
MEMBER_INDEX = 42
WARMUP = 2  # reads per reader measurement that are made but not counted
READ_TIMEOUT_S = 5.0  # longest wait for one read before counting it as missed
MAX_MISSES = 5  # a measurement gives up after this many missed or failed reads
CLEANUP_RESERVE_S = 10.0  # kept out of the phases' share of the deadline


class BenchmarkError(RuntimeError):
    """The benchmark cannot go on (wrong identification, stack not coming up)."""


# -- the terminal's side: store, card, sink ---------------------------------------


@dataclass(frozen=True, slots=True)
class Club:
    """The seeded store and what the cards say."""

    terminal: Terminal
    directory: StoreCardDirectory
    today: date
    fields: CardFields
    member_no: str
    sign: Callable[[CardFields, bytes], bytes]  # NDEF message of a card for a chip UID


def make_club(data_dir: Path, n_members: int) -> tuple[Club, dict[str, Any]]:
    terminal = bootstrap(data_dir)
    try:
        started = time.perf_counter()
        summary = seed(terminal.db, members=n_members, now=terminal.clock())
        seconds = round(time.perf_counter() - started, 2)
        key = generate_private_key()
        add_public_key(terminal.db, KEY_ID, public_key_bytes(key))
    except BaseException:
        terminal.close()
        raise
    today = terminal.local_now().date()
    number = member_number(MEMBER_INDEX)
    fields = CardFields(KEY_ID, int(number), CARD_SERIAL, today + timedelta(days=730))

    def sign(card_fields: CardFields, uid: bytes) -> bytes:
        return sign_card(card_fields, uid, key)

    club = Club(terminal, StoreCardDirectory(terminal.db), today, fields, number, sign)
    return club, {"members": summary.members, "seed_s": seconds, "member_no": number}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One verified identification as the sink produced it (monotonic seconds)."""

    read: CardRead
    found: float | None  # the READING status that preceded the read
    delivered: float  # identify() returned
    identification: Identification | None
    rejected: str | None


class VerifyingSink:
    """A reader sink that verifies every card read on the reader's thread.

    The app's sink hands events to the UI; here the verification the UI
    would trigger runs in the sink itself, so the time it stamps is when a
    verified identification exists. The store connection is shared with the
    main thread, which does not touch it while a reader runs.
    """

    def __init__(self, club: Club) -> None:
        self.club = club
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        self.statuses: queue.Queue[ReaderStatus] = queue.Queue()
        self.errors: list[str] = []
        self._found: float | None = None

    def __call__(self, event: ReaderEvent) -> None:
        if isinstance(event, CardRead):
            identification: Identification | None = None
            rejected: str | None = None
            try:
                identification = identify(event, self.club.directory, today=self.club.today)
            except CardRejectedError as exc:
                rejected = f"{exc.reason}: {exc}"
            delivered = time.monotonic()
            found, self._found = self._found, None
            self.deliveries.put(Delivery(event, found, delivered, identification, rejected))
            return
        if event.state is ReaderState.READING:
            self._found = event.monotonic
        elif event.state is ReaderState.ERROR:
            self.errors.append(event.detail)
        self.statuses.put(event)

    def wait_status(self, state: ReaderState, timeout: float) -> ReaderStatus:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                status = self.statuses.get(timeout=remaining)
            except queue.Empty:
                break
            if status.state is state:
                return status
            seen.append(f"{status.state}: {status.detail}")
        raise BenchmarkError(f"reader not {state} within {timeout:g} s; saw {seen[-5:]}")

    def next_delivery(self, timeout: float) -> Delivery | None:
        try:
            return self.deliveries.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def check(self, delivery: Delivery) -> Identification:
        """The identification, or BenchmarkError if it is not the expected member."""
        ident = delivery.identification
        if ident is None:
            raise BenchmarkError(f"the card was rejected: {delivery.rejected}")
        if (
            ident.member_no != self.club.member_no
            or ident.strength is not Strength.SIGNED
            or ident.member is None
            or ident.flagged_unsynced
        ):
            raise BenchmarkError(f"wrong identification: {ident!r}")
        return ident


@contextlib.contextmanager
def running(reader: Reader, sink: VerifyingSink) -> Iterator[Reader]:
    reader.start(sink)
    try:
        yield reader
    finally:
        reader.stop(timeout=5.0)


def _ms(seconds: float) -> float:
    return seconds * 1000


class ReaderWatch:
    """Our own PC/SC context, to see when pcscd has noticed a card's removal."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        hresult, self.context = SCardEstablishContext(SCARD_SCOPE_USER)
        if hresult != SCARD_S_SUCCESS:
            raise BenchmarkError(f"no PC/SC context: 0x{hresult & 0xFFFFFFFF:08X}")

    def wait_empty(self, timeout: float) -> bool:
        """True once pcscd reports no card in the reader (within ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        state = SCARD_STATE_UNAWARE
        while (remaining := deadline - time.monotonic()) > 0:
            hresult, states = SCardGetStatusChange(
                self.context, int(remaining * 1000) + 1, [(self.reader, state)]
            )
            if hresult & 0xFFFFFFFF == SCARD_E_TIMEOUT & 0xFFFFFFFF:
                return False
            if hresult != SCARD_S_SUCCESS:
                raise BenchmarkError(f"SCardGetStatusChange: 0x{hresult & 0xFFFFFFFF:08X}")
            state = int(states[0][1]) & ~SCARD_STATE_CHANGED
            if not state & SCARD_STATE_PRESENT:
                return True
        return False

    def close(self) -> None:
        SCardReleaseContext(self.context)


# -- measurements -----------------------------------------------------------------


@dataclass
class Samples:
    """Per-read timings (ms) of one reader measurement."""

    names: tuple[str, ...]
    values: dict[str, list[float]] = field(default_factory=dict)
    warmup_left: int = WARMUP

    def add(self, **timings: float) -> bool:
        """Record one read (False while it is a warm-up read, not recorded)."""
        if self.warmup_left > 0:
            self.warmup_left -= 1
            return False
        for name in self.names:
            self.values.setdefault(name, []).append(round(timings[name], 4))
        return True

    @property
    def count(self) -> int:
        return len(self.values.get(self.names[0], []))

    def report(self) -> dict[str, Any]:
        return {name: summarize(self.values[name]) for name in self.names if self.values.get(name)}


def bench_pcsc(
    club: Club, read_size: int, reads: int, until: float
) -> tuple[dict[str, Any], CardRead | None]:
    """Insert -> verified identification through pcscd, vpcd and PcscReader.

    Returns:
        The figures, and the last card read (for :func:`bench_verifier`).
    """
    uid = PCSC_UID
    card = Ntag215(club.sign(club.fields, uid), read_size=read_size, uid=uid, port=PORT_01)
    sink = VerifyingSink(club)
    samples = Samples(
        ("present_to_verified", "pcscd_detect", "card_io", "verify_in_sink", "found_to_verified")
    )
    rng = random.Random(read_size)
    misses: list[str] = []
    apdus: set[int] = set()
    last_read: CardRead | None = None
    foreign = 0
    watch = ReaderWatch(READER)
    started = time.monotonic()
    try:
        with running(open_reader(f"pcsc:{READER}"), sink):
            sink.wait_status(ReaderState.READY, 15.0)
            while samples.count < reads and time.monotonic() < until:
                time.sleep(rng.uniform(0.0, PCSCD_POLL_S))  # a random phase of pcscd's poll
                presented = time.monotonic()
                card.connect()
                try:
                    delivery = sink.next_delivery(min(READ_TIMEOUT_S, until - time.monotonic()))
                    while delivery is not None and delivery.read.uid != uid:
                        foreign += 1  # someone else's card in our reader; not ours to judge
                        delivery = sink.next_delivery(min(READ_TIMEOUT_S, until - time.monotonic()))
                    if delivery is None or delivery.found is None:
                        misses.append(f"no read within {READ_TIMEOUT_S:g} s; {sink.errors[-3:]}")
                    else:
                        sink.check(delivery)
                        last_read = delivery.read
                        apdus.add(len(card.apdus))
                        samples.add(
                            present_to_verified=_ms(delivery.delivered - presented),
                            pcscd_detect=_ms(delivery.found - presented),
                            card_io=_ms(delivery.read.monotonic - delivery.found),
                            verify_in_sink=_ms(delivery.delivered - delivery.read.monotonic),
                            found_to_verified=_ms(delivery.delivered - delivery.found),
                        )
                finally:
                    card.remove()
                if not watch.wait_empty(READ_TIMEOUT_S):
                    misses.append("pcscd did not see the card removed")
                if len(misses) >= MAX_MISSES:
                    break
    finally:
        card.remove()
        watch.close()
    figures = {
        "page_read_bytes": read_size,
        "n": samples.count,
        "warmup_reads": WARMUP,
        "truncated": samples.count < reads,
        "apdus_per_read": sorted(apdus),
        "misses": misses,
        "foreign_reads": foreign,
        "reader_errors": sink.errors,
        "wall_s": round(time.monotonic() - started, 1),
        **samples.report(),
    }
    return figures, last_read


class Emulator:
    """The Type 3 tag emulator process; its stdout lines are collected on a thread."""

    def __init__(self, ndef_message: bytes, taps: int, time_limit: float) -> None:
        command = [
            sys.executable,
            str(EMULATOR),
            "--ndef",
            ndef_message.hex(),
            "--idm",
            NFC_IDM.hex(),
            "--taps",
            str(taps),
            "--tap-seconds",
            str(TAP_S),
            "--gap",
            str(GAP_S),
            "--time-limit",
            f"{time_limit:.0f}",
        ]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            _, first = self.lines.get(timeout=15)
        except queue.Empty:
            self.stop()
            raise BenchmarkError("the tag emulator did not print its port") from None
        if not first.startswith("PORT "):
            self.stop()
            raise BenchmarkError(f"the tag emulator said {first!r}, not PORT <n>")
        self.port = int(first.split()[1])

    def _pump(self) -> None:
        if self.proc.stdout is None:
            return
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.strip()))

    def output(self) -> list[str]:
        return [self.lines.get()[1] for _ in range(self.lines.qsize())]

    def stop(self, grace: float = 3.0) -> int | None:
        """Wait up to ``grace`` s for the emulator to exit, then kill it; its exit status."""
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None


def bench_nfc(club: Club, reads: int, until: float) -> dict[str, Any]:
    """Tag found -> verified identification through nfcpy's udp device and NfcReader."""
    fields = CardFields(KEY_ID, club.fields.member_no, CARD_SERIAL + 1, club.fields.expiry)
    taps = reads + WARMUP
    emulator = Emulator(club.sign(fields, NFC_IDM), taps, max(until - time.monotonic(), 5.0))
    sink = VerifyingSink(club)
    samples = Samples(("found_to_verified", "tag_io", "verify_in_sink"))
    misses: list[str] = []
    cycles: list[float] = []  # between consecutive counted reads
    last: float | None = None
    started = time.monotonic()
    try:
        with running(open_reader(f"nfc:udp:localhost:{emulator.port}"), sink):
            while samples.count < reads and time.monotonic() < until:
                delivery = sink.next_delivery(min(READ_TIMEOUT_S, until - time.monotonic()))
                if delivery is None or delivery.found is None:
                    if emulator.proc.poll() is not None:
                        misses.append(f"emulator exited ({emulator.proc.returncode})")
                        break
                    misses.append(f"no read within {READ_TIMEOUT_S:g} s; {sink.errors[-3:]}")
                    if len(misses) >= MAX_MISSES:
                        break
                    continue
                sink.check(delivery)
                counted = samples.add(
                    found_to_verified=_ms(delivery.delivered - delivery.found),
                    tag_io=_ms(delivery.read.monotonic - delivery.found),
                    verify_in_sink=_ms(delivery.delivered - delivery.read.monotonic),
                )
                if counted and last is not None:
                    cycles.append(_ms(delivery.delivered - last))
                last = delivery.delivered
    finally:
        status = emulator.stop()
    output = emulator.output()
    return {
        "n": samples.count,
        "warmup_reads": WARMUP,
        "truncated": samples.count < reads,
        "emulator": {
            "tap_seconds": TAP_S,
            "gap_seconds": GAP_S,
            "taps_served": sum(line.startswith("TAP ") for line in output),
            "exit_status": status,
        },
        "misses": misses,
        "reader_errors": sink.errors,
        "wall_s": round(time.monotonic() - started, 1),
        **samples.report(),
        "tap_cycle": summarize(cycles) if cycles else None,
    }


def bench_verifier(club: Club, read: CardRead, calls: int) -> dict[str, Any]:
    """identify() alone on one card read, in process."""

    def once(_: int) -> None:
        identify(read, club.directory, today=club.today)

    time_calls(once, min(calls, 200))  # warm the statement cache and SQLite's pages
    return summarize(time_calls(once, calls))


def bench_verifier_members(
    club: Club, n_members: int, calls: int, rng: random.Random
) -> dict[str, Any]:
    """identify() over cards of ``calls`` random members (the lookups not cached)."""
    reads = []
    for i in range(calls):
        number = int(member_number(rng.randrange(n_members)))
        uid = bytes([0x04]) + rng.randbytes(6)
        fields = CardFields(KEY_ID, number, CARD_SERIAL + 10 + i, club.fields.expiry)
        reads.append(CardRead("bench", CardKind.NFC_TYPE2, uid=uid, ndef=club.sign(fields, uid)))

    def once(i: int) -> None:
        ident = identify(reads[i], club.directory, today=club.today)
        if ident.member is None:
            raise BenchmarkError(f"member {ident.member_no} not found")

    return summarize(time_calls(once, calls))


# -- main -------------------------------------------------------------------------


def _share(deadline: float, phases_left: int) -> float:
    """The end of the next phase: an equal share of the time left."""
    now = time.monotonic()
    return now + max(deadline - CLEANUP_RESERVE_S - now, 0.0) / max(phases_left, 1)


def _notes(skip_nfc: bool) -> list[str]:
    notes = [
        "All times are milliseconds of time.monotonic() in this process; reader figures "
        f"exclude {WARMUP} warm-up reads. benchmarks.common.summarize takes p99 as the "
        "sample at index int(0.99 n), so with n <= 100 p99 is the maximum.",
        "The sink runs terminal.verifier.identify() on the reader's thread against "
        "StoreCardDirectory on the seeded terminal database (signature over the chip UID, "
        "key, denylist, expiry, member lookup) and stamps 'delivered' when it returns. The "
        "Debouncer the app puts in front of it is not in the path.",
        "pcsc_ntag215.present_to_verified: from the virtual card's connect() (card presented) "
        "to the verified identification. = pcscd_detect + card_io + verify_in_sink.",
        f"pcsc_ntag215.pcscd_detect: presented -> the driver's READING status. vpcd has no "
        f"event thread, so pcsc-lite polls it every {PCSCD_POLL_S * 1000:.0f} ms; cards are "
        "presented at a random phase of that period, so this is roughly uniform over it. "
        "It is the virtual stack's detection delay, not the driver's; real readers "
        "(CCID with an interrupt endpoint) report insertion sooner, others poll too.",
        "pcsc_ntag215.card_io: READING -> CardRead: SCardConnect, ATR, FF CA (UID), FF B0 "
        "page reads, disconnect. Every APDU crosses pcscd and vpcd's TCP framing (2-byte "
        "length + payload, both directions) to the card's thread in this process, so this "
        "includes loopback TCP transport latency a USB reader does not have, and lacks the "
        "radio time a real tag has. read_16_byte_pages: the card answers FF B0 with 16 "
        "bytes (4 pages, like most readers); read_4_byte_pages: with 4 bytes, so the driver "
        "needs about three times the APDUs. Only card_io differs between them, so the "
        "4-byte variant gets fewer reads (--short-page-reads, default 30).",
        "pcsc_ntag215.found_to_verified: READING -> verified, i.e. what the terminal adds "
        "once the PC/SC stack has reported the card.",
        "Between reads the card is removed and the benchmark waits until pcscd reports the "
        "reader empty (through its own PC/SC context), so each read is a new insertion; "
        "that costs two pcscd polls (about 0.8 s) of wall time per read.",
        "verify_in_sink is identify() on the reader's thread right after an idle wait, "
        "sharing the GIL with the card's and the reader's threads; it is typically slower "
        "than the hot loop of verifier_only.",
        "verifier_only: identify() alone on the CardRead of the PC/SC card (same member, "
        "same card every call, so SQLite pages and statements are warm). "
        "verifier_random_members: identify() over signed cards of random seeded members.",
        "targets: 'card read event to member identified and basket priced (no radio time) "
        "p99 <= 2 ms' applies to verifier_only plus pricing (benchmarks.checkout "
        "identify_and_price_50_lines measures pricing); reader latencies have no target in "
        "DESIGN.md and are informational.",
        f"The PC/SC card is inserted into '{READER}' (the reader tests use 'Virtual PCD 00 "
        "00'). pcscd is shared by everything on this machine: if other programs use it at "
        "the same time the figures may be disturbed ('misses'; 'foreign_reads' counts cards "
        "with another UID, which are ignored), and a pcscd the benchmark started is stopped "
        "at its end even if another program has begun to use it meanwhile.",
    ]
    if skip_nfc:
        return notes
    return [
        *notes,
        "nfc_udp_type3.found_to_verified: the driver's READING status (emitted from nfcpy's "
        "on-connect callback: the poll got the emulated tag's SENSF_RES and nfcpy activated "
        "it; the NDEF read has not begun) -> verified. = tag_io + "
        "verify_in_sink. tag_io is nfcpy's Type 3 NDEF read (CHECK commands over UDP "
        "loopback to the emulator process).",
        "The time from the tag entering the field to READING is not measured: the emulator "
        "(another engineer's file, not changed) prints 'TAP k' when a tap ends, not when it "
        "starts, and over udp each unanswered poll of nfcpy costs a 1 s timeout, so that "
        "delay reflects the simulation, not a reader.",
        f"nfc_udp_type3.tap_cycle: time between consecutive verified reads = tap length "
        f"({TAP_S} s from activation) + removal detection by nfcpy's presence check + gap "
        f"({GAP_S} s) + the 1 s udp poll timeout nfcpy waits out while the tag is away; "
        "informational only (it shows one read per tap and no stalls).",
    ]


def run(args: argparse.Namespace, tmp: Path, result: dict[str, Any]) -> list[str]:
    """Run every measurement into ``result``; returns the errors (empty on success)."""
    deadline = time.monotonic() + args.deadline
    errors: list[str] = []
    club, result["store"] = make_club(tmp / "terminal", args.members)
    try:
        phases = ["pcsc16", "pcsc4"] + ([] if args.skip_nfc else ["nfc"])
        pcsc_read: CardRead | None = None
        pcsc: dict[str, Any] = {"reader": READER, "card": "NTAG215 (tests.readers.vpcd)"}
        result["pcsc_ntag215"] = pcsc
        why_not = pcscd_missing()
        if why_not is not None:
            pcsc["skipped"] = why_not
            phases = [p for p in phases if not p.startswith("pcsc")]
        else:
            daemon = Pcscd(tmp / "pcscd.log", verbose=False, port=PORT_01)
            try:
                try:
                    daemon.start()
                except PcscdError as exc:
                    raise BenchmarkError(str(exc)) from None
                pcsc["pcscd"] = "already running (left alone)" if daemon.external else "started"
                for read_size, reads in ((16, args.reads), (4, args.short_page_reads)):
                    until = _share(deadline, len(phases))
                    phases.pop(0)
                    figures, last = bench_pcsc(club, read_size, reads, until)
                    pcsc[f"read_{read_size}_byte_pages"] = figures
                    pcsc_read = pcsc_read or last
            except BenchmarkError as exc:
                pcsc["error"] = str(exc)
                errors.append(f"pcsc_ntag215: {exc}")
                phases = [p for p in phases if not p.startswith("pcsc")]
            finally:
                daemon.stop()
        if args.skip_nfc:
            result["nfc_udp_type3"] = {"skipped": "--skip-nfc"}
        else:
            try:
                result["nfc_udp_type3"] = bench_nfc(club, args.reads, _share(deadline, 1))
            except BenchmarkError as exc:
                result["nfc_udp_type3"] = {"error": str(exc)}
                errors.append(f"nfc_udp_type3: {exc}")
        read = pcsc_read or CardRead(
            f"pcsc:{READER}",
            CardKind.NFC_TYPE2,
            uid=PCSC_UID,
            ndef=club.sign(club.fields, PCSC_UID),
        )
        result["verifier_only"] = {
            "card_read": "from the PC/SC reader" if pcsc_read else "built in process",
            **bench_verifier(club, read, args.verifier_calls),
        }
        result["verifier_random_members"] = bench_verifier_members(
            club, args.members, min(args.verifier_calls, 2_000), random.Random(42)
        )
    finally:
        club.terminal.close()
    return errors


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: stop pcscd, remove temp dirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=100, help="reads per reader measurement")
    parser.add_argument(
        "--short-page-reads",
        type=int,
        default=30,
        help="reads of the PC/SC variant whose card answers 4 bytes per page read",
    )
    parser.add_argument("--verifier-calls", type=int, default=5_000)
    parser.add_argument("--deadline", type=float, default=300.0, help="overall limit, seconds")
    parser.add_argument("--skip-nfc", action="store_true", help="skip the nfcpy udp measurement")
    args = parser.parse_args()
    counts = (args.reads, args.short_page_reads, args.verifier_calls)
    if args.members <= MEMBER_INDEX or min(counts) < 1:
        parser.error(f"--members must exceed {MEMBER_INDEX}; every count must be >= 1")
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    result: dict[str, Any] = {"benchmark": "readers", "machine": machine()}
    load_before = os.getloadavg()
    result["config"] = {
        "members": args.members,
        "reads": args.reads,
        "short_page_reads": args.short_page_reads,
        "verifier_calls": args.verifier_calls,
        "deadline_s": args.deadline,
    }
    with tempfile.TemporaryDirectory(prefix="club-bench-readers-") as tmp:
        errors = run(args, Path(tmp), result)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["load_average_1m"] = {  # other work on the machine skews the tails
        "start": round(load_before[0], 2),
        "end": round(os.getloadavg()[0], 2),
    }
    result["peak_rss_mb"] = peak_rss_mb()
    result["targets"] = {
        "card_read_event_to_member_identified_and_priced_p99_ms": 2,
        "applies_to": "verifier_only + pricing (pricing: benchmarks.checkout)",
        "verifier_only_p99_ms": result["verifier_only"]["p99_ms"],
        "reader_latency": "no target in DESIGN.md; informational",
    }
    result["notes"] = _notes(args.skip_nfc)
    if errors:
        result["errors"] = errors
    emit(result)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()

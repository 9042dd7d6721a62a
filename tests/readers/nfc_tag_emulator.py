"""Emulated NFC tags for the nfcpy driver's tests.

- :class:`Ntag215` and :class:`Type4Card` behind :class:`FakeDevice`, an nfcpy
  device driver that tests install at ``nfc.clf.device.connect``;
- as a script, a FeliCa (NFC Forum Type 3) tag over nfcpy's ``udp:`` device.

Run it as a second process; the club terminal's nfcpy driver, opened as
``nfc:udp:localhost:<port>``, then finds this "card" exactly as it would find
one on a USB reader::

    python tests/readers/nfc_tag_emulator.py --ndef d1010a55036e666370792e6f7267

How the two processes pair (nfcpy 1.0.4, ``nfc/clf/udp.py``):

- The *card* side (this script, ``clf.connect(card=...)`` -> ``listen_ttf``)
  binds a UDP socket to ``0.0.0.0:<port>`` and waits. It rebinds on every
  listen cycle (``clf.listen`` mutes, that is closes, the socket first).
- The *reader* side (``clf.connect(rdwr=...)`` -> ``sense_ttf``) never binds:
  it sends ``"212F <hex SENSF_REQ>"`` to ``<host>:<port>`` from an ephemeral
  port and the card answers to whatever address the datagram came from.
- When the reader mutes its field (next sense, or close) it sends ``RFOFF``,
  which ends the emulated tag's command loop (``BrokenLinkError``).

So only the card side needs the port to be free. ``--port 0`` (the default)
picks a free port here; the chosen port is printed first, as ``PORT <n>``, so
tests running in parallel do not collide (a small race remains between picking
the port and nfcpy binding it, and nfcpy rebinds on every listen cycle).
A reader that finds the tag but sends no command before turning its field off
does not count as a tap (nfcpy's listen drops the RFOFF and keeps listening).

The emulated tag follows nfcpy's ``examples/tagtool.py`` emulate mode: a
``Type3TagEmulation`` with NDEF services 0x0009 (write) and 0x000B (read)
backed by a block memory whose block 0 is the NDEF attribute block. Each
activation is one "tap": it lasts ``--tap-seconds`` (or until the reader turns
its field off), then the tag is away for ``--gap`` seconds. After ``--taps``
taps the script prints ``NDEF <hex>`` (the message now in memory, so writes
can be checked) and exits 0; past ``--time-limit`` it exits 3, whatever it is
blocked on.

Output lines (stdout, flushed): ``PORT <n>``, ``TAP <k>`` after each tap,
``NDEF <hex>`` at the end.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import nfc
import nfc.clf
import nfc.clf.device
import nfc.tag.tt3

__all__ = [
    "Card",
    "FakeDevice",
    "Ntag215",
    "TagMemory",
    "Type4Card",
    "attribute_block",
    "free_udp_port",
    "main",
    "ntag215_memory",
]

#: IDm (manufacture ID): 8 bytes, must not start with 01FE (that means NFC-DEP)
DEFAULT_IDM = "03FE0011223344AA"
#: PMm: IC code FF (no nfcpy FeliCa product class, so a plain Type3Tag) and
#: the largest timing parameters, so a busy test machine does not time out.
DEFAULT_PMM = "FFFFFFFFFFFFFFFF"
NDEF_SYSTEM_CODE = "12FC"


def attribute_block(length: int, nmaxb: int, nbr: int = 4, nbw: int = 4) -> bytes:
    """The 16-byte NDEF attribute information block (NFC Forum Type 3 Tag spec).

    Arguments:
        length: bytes of NDEF message stored (Ln).
        nmaxb: number of 16-byte data blocks available for NDEF.
        nbr: blocks the reader may read in one command.
        nbw: blocks the reader may write in one command.

    Returns:
        version 1.0, not being written (WriteF 0), read/write (RWFlag 1), checksum.
    """
    head = struct.pack(">BBBH4xBB", 0x10, nbr, nbw, nmaxb, 0x00, 0x01)
    head += length.to_bytes(3, "big")
    return head + struct.pack(">H", sum(head))


class TagMemory:
    """Block memory of the emulated tag: block 0 is the attribute block."""

    def __init__(self, message: bytes, capacity: int) -> None:
        nmaxb = max(1, (max(capacity, len(message)) + 15) // 16)
        self.data = bytearray(attribute_block(len(message), nmaxb))
        self.data += message + bytes(nmaxb * 16 - len(message))
        self.reads = 0
        self.writes = 0

    def read(self, block: int, rb: bool, re: bool) -> bytearray | None:
        """nfcpy block read callback; None makes the tag answer an error status."""
        if 0 <= block < len(self.data) // 16:
            self.reads += 1
            return self.data[block * 16 : block * 16 + 16]
        return None

    def write(self, block: int, data: bytearray, wb: bool, we: bool) -> bool:
        """nfcpy block write callback; False makes the tag answer an error status."""
        if 0 <= block < len(self.data) // 16 and len(data) == 16:
            self.writes += 1
            self.data[block * 16 : block * 16 + 16] = data
            return True
        return False

    def message(self) -> bytes:
        """The NDEF message as the attribute block's length field says."""
        length = int.from_bytes(self.data[11:14], "big")
        return bytes(self.data[16 : 16 + length])


# ------------------------------------------- tags behind a fake nfcpy device
#
# For Type 2 and Type 4 tags, which nfcpy cannot emulate over udp, tests put a
# FakeDevice behind nfcpy's device seam (nfc.clf.device.connect); everything
# above it (ContactlessFrontend, tag activation, NDEF parsing) is real nfcpy.


def ntag215_memory(message: bytes | None, *, read_only: bool = False) -> bytearray:
    """An NTAG215 memory image (135 pages): UID, CC, NDEF TLV, config pages."""
    uid = bytes.fromhex("04A1B2C3D4E5F6")
    memory = bytearray(135 * 4)
    memory[0:4] = uid[0:3] + bytes([0x88 ^ uid[0] ^ uid[1] ^ uid[2]])
    memory[4:8] = uid[3:7]
    memory[8:12] = bytes([uid[3] ^ uid[4] ^ uid[5] ^ uid[6], 0x48, 0, 0])
    memory[12:16] = bytes([0xE1, 0x10, 0x3E, 0x0F if read_only else 0x00])
    if message is not None:
        tlv = bytes([0x03, len(message)]) + message + b"\xfe"
        memory[16 : 16 + len(tlv)] = tlv
    return memory


class Card:
    """A card on the fake reader; it can be lifted (``removed``) or vanish mid-read."""

    sens_res = b""
    sel_res = b""

    def __init__(self, uid: bytes, vanish_after_reads: int | None = None) -> None:
        self.uid = uid
        self.removed = False
        self.reads_left = vanish_after_reads

    def count_read(self) -> None:
        if self.reads_left is not None:
            self.reads_left -= 1
            if self.reads_left < 0:
                self.removed = True
                raise nfc.clf.TimeoutError("card gone")

    def respond(self, command: bytes) -> bytes:
        raise NotImplementedError


class Ntag215(Card):
    """An NTAG215; READ_SIG answers ``signature``, or mutes when it is None."""

    sens_res, sel_res = b"\x44\x00", b"\x00"

    def __init__(
        self,
        memory: bytearray,
        vanish_after_reads: int | None = None,
        *,
        signature: bytes | None = None,
    ) -> None:
        super().__init__(bytes(memory[0:3] + memory[4:8]), vanish_after_reads)
        self.memory = memory
        self.signature = signature

    def respond(self, command: bytes) -> bytes:
        pages = len(self.memory) // 4
        if command == b"\x60":  # GET_VERSION
            return bytes.fromhex("0004040201001103")
        if command == b"\x3c\x00" and self.signature is not None:  # READ_SIG
            return self.signature
        if command[0] == 0x30 and len(command) == 2:  # READ 4 pages
            self.count_read()
            if command[1] >= pages:
                return b"\x00"  # NAK
            start = command[1] * 4
            return bytes((self.memory * 2)[start : start + 16])
        if command[0] == 0xA2 and len(command) == 6 and command[1] < pages:  # WRITE
            self.memory[command[1] * 4 : command[1] * 4 + 4] = command[2:6]
            return b"\x0a"
        raise nfc.clf.TimeoutError("NTAG mutes on unknown commands")


class Type4Card(Card):
    """ISO-DEP I-blocks carrying APDUs to an NDEF application (mapping 2.0)."""

    sens_res, sel_res = b"\x44\x03", b"\x20"

    def __init__(self, message: bytes, vanish_after_reads: int | None = None) -> None:
        super().__init__(bytes.fromhex("04832F9A272D80"), vanish_after_reads)
        size = max(0x800, len(message) + 2)  # the NDEF file, as big as the message needs
        cc = bytes.fromhex(f"000F 20 003B 0034 04 06 E104 {size:04X} 00 00")
        ndef_file = bytearray(size)
        ndef_file[0 : 2 + len(message)] = len(message).to_bytes(2, "big") + message
        self.files = {b"\xe1\x03": bytearray(cc), b"\xe1\x04": ndef_file}
        self.selected: bytearray | None = None

    def respond(self, command: bytes) -> bytes:
        if command == b"\xe0\x80":  # RATS -> ATS
            return bytes.fromhex("067577810280")
        if command[0] & 0xF6 == 0xB2:  # R(NAK) presence check -> R(ACK)
            return bytes([0xA2 | (command[0] & 1)])
        assert command[0] & 0xEE == 0x02, "expected an I-block"
        return command[0:1] + self.apdu(command[1:])

    def apdu(self, apdu: bytes) -> bytes:
        ins, p1, p2, body = apdu[1], apdu[2], apdu[3], apdu[4:]
        if ins == 0xA4:  # SELECT
            data = body[1 : 1 + body[0]]
            if p1 == 0x04:
                return b"\x90\x00" if data == bytes.fromhex("D2760000850101") else b"\x6a\x82"
            self.selected = self.files.get(data)
            return b"\x90\x00" if self.selected is not None else b"\x6a\x82"
        if ins in (0xB0, 0xD6) and self.selected is not None:
            offset = p1 << 8 | p2
            if ins == 0xD6:
                self.selected[offset : offset + body[0]] = body[1 : 1 + body[0]]
                return b"\x90\x00"
            self.count_read()
            return bytes(self.selected[offset : offset + (body[0] or 256)]) + b"\x90\x00"
        return b"\x6d\x00"


class FakeDevice(nfc.clf.device.Device):  # type: ignore[misc]
    """An nfcpy device driver whose field holds the cards of a list, one at a time."""

    def __init__(self, *cards: Card, broken: bool = False) -> None:
        self.cards = list(cards)
        self.broken = broken  # every sense fails like a USB transfer error
        self.active: Card | None = None
        self.closed = False
        self._path, self._chipset_name = "usb:001:002", "FakeChip"

    def close(self) -> None:
        self.closed = True

    def mute(self) -> None:
        pass

    def sense_tta(self, target: Any) -> Any:
        if self.broken:
            raise OSError(errno.EIO, "usb transfer failed")
        self.active = next((c for c in self.cards if not c.removed), None)
        card = self.active
        if card is None or (target.sel_req and bytes(target.sel_req) != card.uid):
            return None
        return nfc.clf.RemoteTarget(
            "106A", sens_res=card.sens_res, sel_res=card.sel_res, sdd_res=card.uid
        )

    def sense_ttb(self, target: Any) -> None:
        return None

    def sense_ttf(self, target: Any) -> None:
        return None

    def send_cmd_recv_rsp(self, target: Any, data: bytearray, timeout: float) -> bytearray:
        if self.active is None or self.active.removed:
            raise nfc.clf.TimeoutError("no card in the field")
        return bytearray(self.active.respond(bytes(data)))

    def get_max_send_data_size(self, target: Any) -> int:
        return 256

    def get_max_recv_data_size(self, target: Any) -> int:
        return 256


# ------------------------------------------------ the Type 3 tag over udp


def free_udp_port() -> int:
    """A UDP port nobody is bound to right now (bind to port 0, ask, release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("0.0.0.0", 0))
        port: int = probe.getsockname()[1]
        return port


def say(line: str) -> None:
    print(line, flush=True)


class Emulator:
    """Serves taps of one Type 3 tag through ``clf.connect(card=...)``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.memory = TagMemory(bytes.fromhex(args.ndef), args.capacity)
        self.sensf_res = bytearray.fromhex("01" + args.idm + args.pmm + NDEF_SYSTEM_CODE)
        self.tap_ends = float("inf")

    def on_startup(self, target: Any) -> Any:
        target.brty = "212F"
        target.sensf_res = self.sensf_res
        return target

    def on_connect(self, tag: Any) -> bool:
        tag.add_service(0x0009, self.memory.read, self.memory.write)
        tag.add_service(0x000B, self.memory.read, self.memory.write)
        self.tap_ends = time.monotonic() + self.args.tap_seconds
        return True  # let connect() run the command loop

    def terminate(self) -> bool:
        return time.monotonic() >= self.tap_ends

    def serve(self, clf: Any) -> int:
        # A listen window that ends between SENSF_RES and the reader's first command
        # makes nfcpy rebind the socket and drop that command; keep windows long.
        options = {"on-startup": self.on_startup, "on-connect": self.on_connect, "timeout": 10.0}
        for tap in range(1, self.args.taps + 1):
            result = clf.connect(card=options, terminate=self.terminate)
            if result is False:
                say("ERROR connect failed")
                return 4
            self.tap_ends = float("inf")
            say(f"TAP {tap} reads={self.memory.reads} writes={self.memory.writes}")
            clf.device.mute()  # the tag leaves: stop answering at once
            time.sleep(self.args.gap)
        say(f"NDEF {self.memory.message().hex()}")
        return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ndef", required=True, help="NDEF message bytes, hex")
    parser.add_argument("--port", type=int, default=0, help="UDP port; 0 picks a free one")
    parser.add_argument("--idm", default=DEFAULT_IDM, help="8-byte IDm, hex (the card's UID)")
    parser.add_argument("--pmm", default=DEFAULT_PMM, help="8-byte PMm, hex")
    parser.add_argument("--capacity", type=int, default=256, help="NDEF capacity in bytes")
    parser.add_argument("--taps", type=int, default=1, help="activations to serve")
    parser.add_argument("--tap-seconds", type=float, default=0.5, help="how long a tap lasts")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds away between taps")
    parser.add_argument("--time-limit", type=float, default=20.0, help="hard exit after this")
    args = parser.parse_args(argv)
    if len(bytes.fromhex(args.idm)) != 8 or len(bytes.fromhex(args.pmm)) != 8:
        parser.error("--idm and --pmm are 8 bytes each")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator; see the module docstring. Returns the exit status."""
    args = parse_args(argv)
    # A blocked recv (reader gone without RFOFF) must not outlive the test.
    watchdog = threading.Timer(args.time_limit, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    port = args.port or free_udp_port()
    clf = nfc.ContactlessFrontend(f"udp:localhost:{port}")
    say(f"PORT {port}")
    try:
        return Emulator(args).serve(clf)
    finally:
        clf.close()


if __name__ == "__main__":
    sys.exit(main())

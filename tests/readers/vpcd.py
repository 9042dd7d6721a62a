"""Virtual cards for pcscd's vsmartcard-vpcd driver, for tests.

A card is a TCP *client* of vpcd (``127.0.0.1:35963`` is reader
"Virtual PCD 00 00", ``35964`` is "Virtual PCD 00 01"). Every message both
ways is a 2-byte big-endian length and a payload. A 1-byte payload from vpcd
is a control: 0 power off, 1 power on, 2 reset, 4 get ATR (answer with the
ATR); anything longer is a C-APDU, answered with an R-APDU. Closing the
socket removes the card.

===================  ========================================================
card                 answers
===================  ========================================================
:class:`Ntag215`     ``FF CA`` (7-byte UID), ``FF B0`` page reads (4 or 16
                     bytes per read), ``FF D6`` 4-byte page writes; PC/SC
                     part 3 storage-card ATR (MIFARE Ultralight/NTAG);
                     READ_SIG ``3C 00`` through an ACR122U-style direct
                     transmit ``FF 00 00 00 04 D4 42 3C 00`` -> ``D5 43 00
                     <signature>`` (``D5 43 01``, the chip's timeout, when it
                     has no signature; ``6A 81`` when ``direct_transmit`` is
                     off, as from a reader without it)
:class:`Type4Tag`    ``FF CA``; ISO 7816-4 SELECT of the NDEF application,
                     the CC file and the NDEF file, READ BINARY
:class:`ContactCard` SELECT of the club AID (answers ``61xx`` + GET RESPONSE),
                     READ BINARY of a 2-byte length and the NDEF message
                     (answers ``6Cxx`` to a wrong Le); no ``FF CA``
:class:`ClassicCard` ``FF CA`` (4-byte UID) only; MIFARE Classic 1K ATR
===================  ========================================================

Faults (:class:`Fault`) replace the reply to the N-th C-APDU (counted from 1
after each insertion) and every later one: garbage bytes, a truncated 1-byte
reply, a wrong status word, or removing the card instead of answering.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import struct
import threading
from dataclasses import dataclass

__all__ = [
    "CLUB_AID",
    "PORT_00",
    "PORT_01",
    "ClassicCard",
    "ContactCard",
    "Fault",
    "FaultKind",
    "Ntag215",
    "Type4Tag",
    "VirtualCard",
    "iso14443_4_atr",
    "storage_atr",
]

PORT_00 = 35963  # "Virtual PCD 00 00"
PORT_01 = 35964  # "Virtual PCD 00 01"
CLUB_AID = bytes.fromhex("F0434C554201")
NDEF_AID = bytes.fromhex("D2760000850101")

SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_INS_UNKNOWN = b"\x6d\x00"
SW_CLA_UNKNOWN = b"\x6e\x00"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_SECURITY = b"\x69\x82"
SW_NO_EF = b"\x69\x86"
SW_FUNCTION_UNSUPPORTED = b"\x6a\x81"


def storage_atr(card_name: int, standard: int = 0x03) -> bytes:
    """The PC/SC part 3 ATR of a contactless storage card (RID A0 00 00 03 06)."""
    body = bytes([0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C]) + bytes.fromhex("A000000306")
    body += bytes([standard]) + card_name.to_bytes(2, "big") + bytes(4)
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


def iso14443_4_atr(historical: bytes) -> bytes:
    """The PC/SC ATR of an ISO 14443-4 card: 3B 8n 80 01, the ATS historical bytes, TCK."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


class FaultKind(enum.Enum):
    GARBAGE = "garbage"  # a few random-looking bytes, no sensible status word
    TRUNCATED = "truncated"  # a single byte
    WRONG_STATUS = "wrong-status"  # 6F 00, "no precise diagnosis"
    REMOVE = "remove"  # close the socket instead of answering (card pulled away)


@dataclass(frozen=True)
class Fault:
    """Misbehave from the ``after``-th C-APDU on (1 = the first one)."""

    kind: FaultKind
    after: int = 1


class VirtualCard:
    """A vpcd card on a background thread. Subclasses implement :meth:`answer`."""

    atr: bytes = bytes.fromhex("3B8080010101")

    def __init__(self, port: int = PORT_00, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.fault: Fault | None = None
        self.apdus: list[bytes] = []  # C-APDUs received since the last insertion
        self.removed = threading.Event()  # set when the connection ends, either side
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.removed.set()

    # -- life cycle -------------------------------------------------------------------

    def connect(self, timeout: float = 5.0) -> None:
        """Insert the card: connect to vpcd and answer it on a thread."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("card already inserted")
        self.remove()  # tidy up after a card that removed itself (a REMOVE fault)
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.apdus = []
        self.removed.clear()
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
        self._thread.start()

    insert = connect

    def remove(self, timeout: float = 5.0) -> None:
        """Take the card away (close the socket); idempotent."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> VirtualCard:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- protocol ---------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                payload = _recv_message(sock)
                if payload is None:
                    return
                reply = self._handle(payload)
                if reply is None:
                    continue
                if reply is _REMOVE:
                    return
                sock.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            self.removed.set()

    def _handle(self, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            if payload[0] == 4:
                return self.atr
            if payload[0] in (1, 2):
                self.power_on()
            return None
        with self._lock:
            self.apdus.append(payload)
            count = len(self.apdus)
            fault = self.fault
            if fault is not None and count >= fault.after:
                return _FAULT_REPLY[fault.kind]
            return self.answer(payload)

    def power_on(self) -> None:
        """Called on power on and reset: forget any selected file."""

    def answer(self, apdu: bytes) -> bytes:
        """Answer one C-APDU with an R-APDU (data and status word)."""
        return SW_INS_UNKNOWN


_REMOVE = b"<remove>"
_FAULT_REPLY = {
    FaultKind.GARBAGE: bytes.fromhex("DEADBEEF42"),
    FaultKind.TRUNCATED: b"\x90",
    FaultKind.WRONG_STATUS: b"\x6f\x00",
    FaultKind.REMOVE: _REMOVE,
}


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
        # vpcd writes the length and the payload separately; without quick ACKs,
        # Nagle on its side and delayed ACKs on ours cost 40 ms a message
        if hasattr(socket, "TCP_QUICKACK"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    return data


def _recv_message(sock: socket.socket) -> bytes | None:
    header = _recv_exact(sock, 2)
    if header is None:
        return None
    (length,) = struct.unpack(">H", header)
    return _recv_exact(sock, length)


def _le(apdu: bytes) -> int:
    """Le of a short case-2 APDU (5 bytes); 0 means 256."""
    return apdu[4] or 256


class _UidCard(VirtualCard):
    """A contactless card that answers the PC/SC GET DATA pseudo-APDU ``FF CA``."""

    uid = bytes.fromhex("04A1B2C3D4E5F6")

    def answer(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\xff\xca":
            if apdu[2:4] != b"\x00\x00":
                return SW_WRONG_P1P2
            return self.uid + SW_OK
        return self.answer_more(apdu)

    def answer_more(self, apdu: bytes) -> bytes:
        return SW_INS_UNKNOWN if apdu[0] == 0xFF else SW_CLA_UNKNOWN


class Ntag215(_UidCard):
    """An NTAG215: 135 pages of 4 bytes, NDEF in pages 4..129 (CC says 496 bytes)."""

    atr = storage_atr(0x0003)
    PAGES = 135
    USER_END = 130  # first page after user memory

    def __init__(
        self,
        ndef: bytes | None = None,
        *,
        read_size: int = 16,
        uid: bytes = bytes.fromhex("04A1B2C3D4E5F6"),
        port: int = PORT_00,
        signature: bytes | None = None,
        direct_transmit: bool = True,
    ) -> None:
        super().__init__(port)
        if read_size not in (4, 16):
            raise ValueError("read_size is 4 or 16")
        self.read_size = read_size
        self.uid = uid
        self.signature = signature  # what READ_SIG answers; None: the chip mutes
        self.direct_transmit = direct_transmit
        self.memory = bytearray(4 * self.PAGES)
        bcc0 = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]
        bcc1 = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
        self.memory[0:9] = uid[:3] + bytes([bcc0]) + uid[3:] + bytes([bcc1])
        self.memory[12:16] = bytes([0xE1, 0x10, 0x3E, 0x00])  # CC: v1.0, 496 bytes, rw
        self.memory[16:19] = b"\x03\x00\xfe"  # empty NDEF TLV
        if ndef is not None:
            self.load(ndef)

    def load(self, ndef: bytes) -> None:
        """Store ``ndef`` as an NDEF TLV from page 4 (1- or 3-byte length)."""
        if len(ndef) < 0xFF:
            tlv = bytes([0x03, len(ndef)]) + ndef + b"\xfe"
        else:
            tlv = b"\x03\xff" + len(ndef).to_bytes(2, "big") + ndef + b"\xfe"
        end = 16 + len(tlv)
        if end > 4 * self.USER_END:
            raise ValueError("message does not fit an NTAG215")
        self.memory[16 : 4 * self.USER_END] = bytes(4 * self.USER_END - 16)
        self.memory[16:end] = tlv

    def answer_more(self, apdu: bytes) -> bytes:
        if apdu[:3] == b"\xff\xb0\x00" and len(apdu) == 5:
            page = apdu[3]
            if page >= self.PAGES:
                return SW_WRONG_P1P2
            count = min(self.read_size, _le(apdu))
            data = bytes(self.memory[(page * 4 + i) % len(self.memory)] for i in range(count))
            return data + SW_OK
        if apdu[:4] == b"\xff\x00\x00\x00" and len(apdu) == 5 + apdu[4]:
            return self.direct(apdu[5:])
        if apdu[:3] == b"\xff\xd6\x00" and len(apdu) == 9 and apdu[4] == 4:
            page = apdu[3]
            if not 4 <= page < self.USER_END:
                return SW_SECURITY
            self.memory[page * 4 : page * 4 + 4] = apdu[5:9]
            return SW_OK
        return super().answer_more(apdu)

    def direct(self, payload: bytes) -> bytes:
        """A PN53x command in the reader's direct transmit: InCommunicateThru READ_SIG."""
        if not self.direct_transmit:
            return SW_FUNCTION_UNSUPPORTED
        if payload != b"\xd4\x42\x3c\x00" or self.signature is None:
            return b"\xd5\x43\x01" + SW_OK  # the chip did not answer (PN53x timeout)
        return b"\xd5\x43\x00" + self.signature + SW_OK


class _FileCard(_UidCard):
    """ISO 7816-4 SELECT / READ BINARY over a few files."""

    def __init__(self, port: int = PORT_00) -> None:
        super().__init__(port)
        self.selected: bytes | None = None
        self.app_selected = False

    def power_on(self) -> None:
        self.selected = None
        self.app_selected = False

    def files(self) -> dict[bytes, bytes]:
        raise NotImplementedError

    def read_binary(self, apdu: bytes) -> bytes:
        if self.selected is None:
            return SW_NO_EF
        content = self.files()[self.selected]
        offset = int.from_bytes(apdu[2:4], "big")
        if offset > len(content):
            return SW_WRONG_P1P2
        return content[offset : offset + _le(apdu)] + SW_OK


class Type4Tag(_FileCard):
    """An NFC Forum Type 4 tag: NDEF application, CC file E103, NDEF file E104."""

    atr = iso14443_4_atr(bytes.fromhex("8073C021C057597562"))  # historical bytes of an ATS

    def __init__(self, ndef: bytes, *, mle: int = 0x3B, port: int = PORT_00) -> None:
        super().__init__(port)
        self.ndef = ndef
        self.mle = mle

    def files(self) -> dict[bytes, bytes]:
        cc = bytes.fromhex("000F20") + self.mle.to_bytes(2, "big") + bytes.fromhex("0034")
        cc += bytes.fromhex("0406E104") + (2 + len(self.ndef)).to_bytes(2, "big") + b"\x00\xff"
        return {b"\xe1\x03": cc, b"\xe1\x04": len(self.ndef).to_bytes(2, "big") + self.ndef}

    def answer_more(self, apdu: bytes) -> bytes:
        if apdu[:4] == b"\x00\xa4\x04\x00":
            self.app_selected = apdu[5 : 5 + apdu[4]] == NDEF_AID
            self.selected = None
            return SW_OK if self.app_selected else SW_NOT_FOUND
        if apdu[:4] == b"\x00\xa4\x00\x0c" and self.app_selected and len(apdu) >= 7:
            fid = apdu[5:7]
            if fid not in self.files():
                return SW_NOT_FOUND
            self.selected = fid
            return SW_OK
        if apdu[:2] == b"\x00\xb0" and len(apdu) == 5:
            if _le(apdu) > self.mle:
                return b"\x67\x00"
            return self.read_binary(apdu)
        return super().answer_more(apdu)


class ContactCard(VirtualCard):
    """A contact card with the club application: READ BINARY gives length + NDEF."""

    atr = bytes.fromhex("3BF81300008131FE454A434F5076323431B7")  # JCOP 2.4.1, T=1

    def __init__(self, ndef: bytes, *, port: int = PORT_00) -> None:
        super().__init__(port)
        self.content = len(ndef).to_bytes(2, "big") + ndef
        self.selected = False
        self.pending = b""  # the FCI waiting for GET RESPONSE

    def power_on(self) -> None:
        self.selected = False
        self.pending = b""

    def answer(self, apdu: bytes) -> bytes:
        if apdu[0] != 0x00:
            return SW_CLA_UNKNOWN
        if apdu[1] == 0xA4 and apdu[2] == 0x04:
            self.selected = apdu[5 : 5 + apdu[4]] == CLUB_AID
            if not self.selected:
                return SW_NOT_FOUND
            self.pending = b"\x6f\x08\x84\x06" + CLUB_AID
            return bytes([0x61, len(self.pending)])
        if apdu[1] == 0xC0:
            data, self.pending = self.pending[: _le(apdu)], b""
            return data + SW_OK
        if apdu[1] == 0xB0 and len(apdu) == 5:
            if not self.selected:
                return SW_NO_EF
            offset = int.from_bytes(apdu[2:4], "big")
            available = min(256, len(self.content) - offset)
            if available <= 0:
                return SW_WRONG_P1P2
            if _le(apdu) != available:
                return bytes([0x6C, available & 0xFF])
            return self.content[offset : offset + available] + SW_OK
        return SW_INS_UNKNOWN


class ClassicCard(_UidCard):
    """A MIFARE Classic 1K seen through PC/SC: a 4-byte UID and nothing else we read."""

    atr = storage_atr(0x0001)
    uid = bytes.fromhex("DEADBEEF")

    def __init__(self, uid: bytes = bytes.fromhex("DEADBEEF"), *, port: int = PORT_00) -> None:
        super().__init__(port)
        self.uid = uid

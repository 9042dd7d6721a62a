"""Card protocols over APDUs, free of pyscard: ATR, status words, TLVs, CC files.

Everything talks to a card through a :data:`Transmit` callable (raw bytes
both ways), so it runs the same against pcscd, a fake or fuzzed bytes.
Malformed data raises :class:`FormatError`; a refused command or a bad reply
raises :class:`CardIOError`. Nothing else escapes on purpose.

=====================  =====================================================
card                   how it is read
=====================  =====================================================
NFC Forum Type 2       ``FF CA`` UID; ``FF B0 00 <page> <Le>`` page reads
(NTAG21x, Ultralight)  (4 or 16 bytes a read, partial replies tolerated);
                       capability container in page 3; NDEF TLV from page 4
NFC Forum Type 4       SELECT ``D2760000850101``, SELECT ``E103`` (CC), READ
                       BINARY CC, SELECT the NDEF file it names, READ BINARY
                       NLEN then the message in chunks of at most MLe
club contact card      SELECT :data:`CLUB_AID`, READ BINARY (Le ``00``) of a
                       2-byte big-endian length and the NDEF message
UID-only storage card  ``FF CA`` only (MIFARE Classic and the like)
NTAG21x originality    READ_SIG ``3C 00`` through the reader's direct
signature              transmit, PN53x style (ACR122U and kin): ``FF 00 00
                       00 04 D4 42 3C 00`` (InCommunicateThru), answered
                       ``D5 43 <status> <32 bytes>``; other readers refuse the
                       pseudo-APDU and give no signature
=====================  =====================================================

``61xx`` is followed by GET RESPONSE, ``6Cxx`` by the same command with Le
``xx``. The club AID ``F0 43 4C 55 42 01`` is proprietary (category F, "CLUB"
in ASCII, application 01); it is ours, not registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clubcore.cardformat import wrap_tlv
from clubcore.errors import CardIOError, CardRejectedError, FormatError
from clubcore.originality import READ_SIG, SIGNATURE_SIZE
from terminal.readers.base import CardKind

__all__ = [
    "CLUB_AID",
    "NDEF_AID",
    "PCSC_RID",
    "AtrInfo",
    "TlvScan",
    "Transmit",
    "Type2CC",
    "Type4CC",
    "classify_atr",
    "exchange",
    "parse_rapdu",
    "parse_type2_cc",
    "parse_type4_cc",
    "read_card",
    "read_chip_signature",
    "read_club_file",
    "read_type2",
    "read_type4",
    "read_uid",
    "scan_tlvs",
    "write_type2",
]

#: raw C-APDU in, raw R-APDU (data + SW1 SW2) out
Transmit = Callable[[bytes], bytes]

CLUB_AID = bytes.fromhex("F0434C554201")
NDEF_AID = bytes.fromhex("D2760000850101")
PCSC_RID = bytes.fromhex("A000000306")
SW_OK = 0x9000
SW_EOF = 0x6282  # end of file reached before Le bytes: the data is still good
MAX_MESSAGE = 8192  # no club payload is anywhere near this
_TYPE2_NAMES = {0x0003: "MIFARE Ultralight / NTAG", 0x003A: "MIFARE Ultralight C"}
_STORAGE_NAMES = {0x0001: "MIFARE Classic 1K", 0x0002: "MIFARE Classic 4K", **_TYPE2_NAMES}
#: PN53x InCommunicateThru (D4 42) in the ACR122U's direct transmit (FF 00 00 00 Lc)
_DIRECT_READ_SIG = bytes([0xFF, 0x00, 0x00, 0x00, 2 + len(READ_SIG), 0xD4, 0x42]) + READ_SIG
_UNSUPPORTED_SW1 = {0x68, 0x6A, 0x6B, 0x6D, 0x6E}  # "not here": function, file, P1P2, INS, CLA


@dataclass(frozen=True, slots=True)
class AtrInfo:
    """What the ATR says about a card.

    Attributes:
        storage: a PC/SC part 3 contactless storage card (RID A0 00 00 03 06).
        card_name: the part 3 card name (``0x0003`` Ultralight/NTAG ...), if storage.
        type2: NDEF can be read as NFC Forum Type 2 pages.
        label: a human name for diagnostics.
    """

    storage: bool
    card_name: int | None
    type2: bool
    label: str


def classify_atr(atr: bytes) -> AtrInfo:
    """Classify a card from its ATR; never raises.

    Arguments:
        atr: the ATR bytes as pcscd reports them.

    Returns:
        Storage cards by their PC/SC part 3 card name; anything else is
        "ISO 14443-4" (``3B 8n 80 01 ...``) or "ISO 7816" (contact, or unknown).
    """
    index = atr.find(b"\x4f\x0c" + PCSC_RID)
    if atr[:1] == b"\x3b" and index >= 0 and len(atr) >= index + 10:
        name = int.from_bytes(atr[index + 8 : index + 10], "big")
        label = _STORAGE_NAMES.get(name, f"storage card {name:04X}")
        return AtrInfo(True, name, name in _TYPE2_NAMES, label)
    if len(atr) >= 4 and atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2:4] == b"\x80\x01":
        return AtrInfo(False, None, False, "ISO 14443-4")
    return AtrInfo(False, None, False, "ISO 7816")


def parse_rapdu(raw: bytes) -> tuple[bytes, int]:
    """Split a raw R-APDU (data followed by SW1 SW2) into data and status word.

    Raises:
        CardIOError: fewer than 2 bytes (a truncated reply).
    """
    if len(raw) < 2:
        raise CardIOError(f"the card gave a truncated reply ({raw.hex() or 'nothing'})")
    return bytes(raw[:-2]), int.from_bytes(raw[-2:], "big")


def _has_le(apdu: bytes) -> bool:
    return len(apdu) == 5 or (len(apdu) > 5 and len(apdu) == 6 + apdu[4])


def exchange(transmit: Transmit, apdu: bytes, what: str, ok: tuple[int, ...] = (SW_OK,)) -> bytes:
    """Send a command, follow ``61xx`` and ``6Cxx``, and check the status word.

    Arguments:
        transmit: sends raw bytes to the card.
        apdu: the C-APDU.
        what: the command's name for error messages ("READ BINARY").
        ok: the status words that mean success.

    Returns:
        The response data (concatenated over GET RESPONSE).

    Raises:
        CardIOError: a truncated reply, or a status word not in ``ok``.
    """
    data, sw = parse_rapdu(transmit(apdu))
    if sw >> 8 == 0x6C and _has_le(apdu):
        data, sw = parse_rapdu(transmit(apdu[:-1] + bytes([sw & 0xFF])))
    for _ in range(64):  # GET RESPONSE chains are short; a card looping forever is broken
        if sw >> 8 != 0x61:
            break
        more, sw = parse_rapdu(transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF])))
        data += more
    if sw not in ok:
        raise _StatusError(what, sw)
    return data


class _StatusError(CardIOError):
    """A refusal; ``sw`` tells "no such function or file" from a broken card."""

    def __init__(self, what: str, sw: int) -> None:
        super().__init__(f"the card refused {what} (status {sw:04X})")
        self.sw = sw
        self.absent = sw >> 8 in _UNSUPPORTED_SW1


def read_uid(transmit: Transmit) -> bytes | None:
    """Read the chip UID with the PC/SC pseudo-APDU ``FF CA 00 00 00``.

    Returns:
        The UID, or None when the card or reader does not support it (contact cards).

    Raises:
        CardIOError: any other bad reply.
    """
    try:
        uid = exchange(transmit, bytes.fromhex("FFCA000000"), "GET UID")
    except _StatusError as exc:
        if exc.absent:
            return None
        raise
    if not 4 <= len(uid) <= 10:
        raise FormatError(f"a UID of {len(uid)} bytes is not a chip UID")
    return uid


@dataclass(frozen=True, slots=True)
class Type2CC:
    """A Type 2 capability container (page 3)."""

    version: int
    data_size: int  # bytes of the data area from page 4
    read_access: int
    write_access: int


def parse_type2_cc(cc: bytes) -> Type2CC:
    """Parse page 3 of a Type 2 tag.

    Raises:
        FormatError: not 4 bytes, no ``E1`` magic, a major version other than 1,
            or a zero size.
    """
    if len(cc) != 4:
        raise FormatError(f"a Type 2 capability container is 4 bytes, not {len(cc)}")
    if cc[0] != 0xE1:
        raise FormatError(f"no NDEF capability container (magic {cc[0]:02X}, not E1)")
    if cc[1] >> 4 != 1:
        raise FormatError(f"unsupported Type 2 mapping version {cc[1] >> 4}.{cc[1] & 15}")
    if cc[2] == 0:
        raise FormatError("the capability container gives a data area of 0 bytes")
    # page numbers are one byte: the data area ends before page 256
    size = min(cc[2] * 8, (256 - 4) * 4)
    return Type2CC(cc[1], size, cc[3] >> 4, cc[3] & 0x0F)


@dataclass(frozen=True, slots=True)
class TlvScan:
    """The result of scanning Type 2 TLVs.

    Attributes:
        ndef: the first NDEF message, or None when the area holds none (or an empty one).
        more: non-zero when the memory given ends too early: read at least this
            many bytes in total and scan again.
    """

    ndef: bytes | None
    more: int = 0


def scan_tlvs(memory: bytes, complete: bool = False) -> TlvScan:
    """Find the NDEF message in a Type 2 data area (the bytes from page 4 on).

    Arguments:
        memory: the data area read so far.
        complete: ``memory`` is the whole data area; running out is then final.

    Returns:
        The message, or None for no message, or how many bytes are needed.

    Raises:
        FormatError: ``complete`` and a TLV runs off the end.
    """
    pos = 0
    while True:
        if pos >= len(memory):
            return TlvScan(None) if complete else TlvScan(None, pos + 1)
        tag = memory[pos]
        if tag == 0x00:
            pos += 1
            continue
        if tag == 0xFE:
            return TlvScan(None)
        head = 4 if pos + 1 < len(memory) and memory[pos + 1] == 0xFF else 2
        if pos + head > len(memory):
            return _short(memory, pos + head, complete)
        length = memory[pos + 1] if head == 2 else int.from_bytes(memory[pos + 2 : pos + 4], "big")
        end = pos + head + length
        if end > len(memory):  # other TLVs are skipped by length: read past them
            return _short(memory, end if tag == 0x03 else end + 1, complete)
        if tag == 0x03:
            return TlvScan(bytes(memory[pos + head : end]) or None)
        pos = end


def _short(memory: bytes, need: int, complete: bool) -> TlvScan:
    if complete:
        raise FormatError(f"a TLV runs past the end of the data area ({len(memory)} bytes)")
    return TlvScan(None, need)


def _read_pages(transmit: Transmit, page: int, want: int) -> bytes:
    """READ BINARY from ``page``; readers answer 4 or 16 bytes, some fewer."""
    if page > 0xFF:
        raise FormatError(f"page {page} is past the addressable memory")
    le = min(16, (want + 3) // 4 * 4)
    data = exchange(transmit, bytes([0xFF, 0xB0, 0x00, page, le]), f"READ page {page}")
    if not data:
        raise CardIOError(f"the card gave no data for page {page}")
    return data


def _read_type2_cc(transmit: Transmit) -> tuple[Type2CC, bytes]:
    head = _read_pages(transmit, 3, 4)
    if len(head) < 4:
        raise FormatError(f"the capability container read gave {len(head)} bytes, not 4")
    return parse_type2_cc(head[:4]), head[4:]


def _extend(transmit: Transmit, memory: bytes, need: int) -> bytes:
    """Read on from page 4 + ``len(memory)``/4 until ``memory`` holds ``need`` bytes."""
    while len(memory) < need:
        skip = len(memory) % 4  # a reader that answered a partial page
        chunk = _read_pages(transmit, 4 + len(memory) // 4, need - len(memory) + skip)
        if len(chunk) <= skip:
            raise CardIOError(f"the card gave {len(chunk)} bytes for a page read")
        memory += chunk[skip:]
    return memory


def read_type2(transmit: Transmit) -> bytes | None:
    """Read the NDEF message of a Type 2 tag.

    Returns:
        The message, or None when the tag has no (or an empty) NDEF message.

    Raises:
        FormatError: a bad capability container or TLV structure.
        CardIOError: a refused or empty read.
    """
    cc, memory = _read_type2_cc(transmit)
    if cc.read_access != 0:
        raise CardIOError("the tag does not allow reading its NDEF area")
    memory = memory[: cc.data_size]
    while True:
        scan = scan_tlvs(memory, complete=len(memory) >= cc.data_size)
        if not scan.more:
            return scan.ndef
        if scan.more > cc.data_size:
            raise FormatError(f"a TLV runs past the end of the data area ({cc.data_size} bytes)")
        memory = _extend(transmit, memory, scan.more)[: cc.data_size]


def write_type2(transmit: Transmit, message: bytes) -> None:
    """Write an NDEF message to a Type 2 tag from page 4, then read it back.

    The NDEF TLV is first written with length 0, then the body, then the real
    length, so a tag pulled away mid-write holds an empty message, not a torn one.

    Arguments:
        transmit: sends raw bytes to the connected tag.
        message: the NDEF message (not yet TLV-wrapped).

    Raises:
        CardRejectedError: ``reason`` "read-only" or "too-small"; nothing was written.
        CardIOError: a refused write, or the read-back differs.
        FormatError: a bad capability container.
    """
    cc, _ = _read_type2_cc(transmit)
    if cc.write_access != 0:
        raise CardRejectedError("read-only", "this tag is write-protected")
    need = len(message) + (3 if len(message) < 0xFF else 5)
    if need > cc.data_size:
        raise CardRejectedError(
            "too-small", f"the message needs {need} bytes; this tag holds {cc.data_size}"
        )
    image = wrap_tlv(message)
    image += bytes(-len(image) % 4)
    _write_page(transmit, 4, b"\x03\x00\xfe\x00")
    for offset in range(4, len(image), 4):
        _write_page(transmit, 4 + offset // 4, image[offset : offset + 4])
    _write_page(transmit, 4, image[:4])
    if _extend(transmit, b"", len(image))[: len(image)] != image:
        raise CardIOError("the tag did not keep what was written (read-back differs)")


def _write_page(transmit: Transmit, page: int, data: bytes) -> None:
    exchange(transmit, bytes([0xFF, 0xD6, 0x00, page, 0x04]) + data, f"WRITE page {page}")


def read_chip_signature(transmit: Transmit) -> bytes | None:
    """Ask an NTAG21x for its originality signature (READ_SIG) through the reader.

    Sent after the NDEF read, while the chip is still active. Only a 32-byte
    answer counts: a reader that refuses the pseudo-APDU or answers in another
    framing, and a chip that does not answer or NAKs (no READ_SIG: not an
    NTAG21x, or a magic chip without it), give None, which the verifier
    cannot tell apart (see ``docs/card-format.md``).

    Returns:
        The 32 bytes the chip answered, or None.

    Raises:
        CardIOError: the card went away or the reply was truncated.
    """
    try:
        data = exchange(transmit, _DIRECT_READ_SIG, "READ_SIG")
    except _StatusError:
        return None
    if data[:2] != b"\xd5\x43" or len(data) < 3 or data[2] & 0x3F:
        return None  # not PN53x framing, or the chip did not answer (status != 0)
    signature = bytes(data[3:])
    return signature if len(signature) == SIGNATURE_SIZE else None


@dataclass(frozen=True, slots=True)
class Type4CC:
    """The interesting fields of a Type 4 CC file."""

    version: int
    mle: int
    file_id: bytes
    max_size: int
    read_access: int


def parse_type4_cc(cc: bytes) -> Type4CC:
    """Parse a Type 4 capability container file.

    Raises:
        FormatError: too short, a bad length, MLe 0, or no NDEF file control TLV.
    """
    if len(cc) < 15:
        raise FormatError(f"a Type 4 capability container is at least 15 bytes, not {len(cc)}")
    mle = int.from_bytes(cc[3:5], "big")
    if mle == 0:
        raise FormatError("the capability container gives MLe 0")
    if cc[7] == 0x04 and cc[8] == 0x06:  # NDEF file control TLV
        size = int.from_bytes(cc[11:13], "big")
        return Type4CC(cc[2], mle, bytes(cc[9:11]), size, cc[13])
    if cc[7] == 0x06 and cc[8] == 0x08 and len(cc) >= 17:  # extended (mapping 3.0)
        size = int.from_bytes(cc[11:15], "big")
        return Type4CC(cc[2], mle, bytes(cc[9:11]), size, cc[15])
    raise FormatError(f"no NDEF file control TLV in the capability container ({cc[7]:02X})")


def _select_aid(transmit: Transmit, aid: bytes, what: str) -> bool:
    apdu = bytes([0x00, 0xA4, 0x04, 0x00, len(aid)]) + aid + b"\x00"
    try:
        exchange(transmit, apdu, what)
    except _StatusError as exc:
        if exc.absent:
            return False
        raise
    return True


def _select_file(transmit: Transmit, fid: bytes) -> None:
    exchange(transmit, b"\x00\xa4\x00\x0c\x02" + fid, f"SELECT file {fid.hex().upper()}")


def _read_binary(transmit: Transmit, offset: int, le: int) -> bytes:
    apdu = b"\x00\xb0" + offset.to_bytes(2, "big") + bytes([le & 0xFF])
    return exchange(transmit, apdu, f"READ BINARY at {offset}", ok=(SW_OK, SW_EOF))


def read_type4(transmit: Transmit) -> bytes | None:
    """Read the NDEF message of a Type 4 tag.

    Returns:
        The message, or None when there is no NDEF application or it is empty.

    Raises:
        FormatError: a bad CC file or NLEN.
        CardIOError: a refused command.
    """
    if not _select_aid(transmit, NDEF_AID, "SELECT NDEF application"):
        return None
    _select_file(transmit, b"\xe1\x03")
    cc = parse_type4_cc(_read_binary(transmit, 0, 15))
    if cc.read_access != 0:
        raise CardIOError("the tag does not allow reading its NDEF file")
    _select_file(transmit, cc.file_id)
    nlen = _read_binary(transmit, 0, 2)
    if len(nlen) != 2:
        raise FormatError(f"NLEN is 2 bytes, not {len(nlen)}")
    size = int.from_bytes(nlen, "big")
    if size + 2 > cc.max_size or size > MAX_MESSAGE:
        raise FormatError(f"NLEN {size} exceeds the NDEF file ({cc.max_size} bytes)")
    return _read_body(transmit, 2, size, min(cc.mle, 255)) or None


def _read_body(transmit: Transmit, start: int, size: int, chunk: int) -> bytes:
    body = b""
    while len(body) < size:
        data = _read_binary(transmit, start + len(body), min(chunk, size - len(body)))
        if not data:
            raise CardIOError(f"READ BINARY at {start + len(body)} gave no data")
        body += data
    return body[:size]


def read_club_file(transmit: Transmit) -> bytes | None:
    """Read the club application of a contact card: a 2-byte length and the message.

    Returns:
        The message, or None when the card has no club application or it is empty.

    Raises:
        FormatError: a length that is absurd.
        CardIOError: a refused command.
    """
    if not _select_aid(transmit, CLUB_AID, "SELECT club application"):
        return None
    head = _read_binary(transmit, 0, 0)  # Le 00: whatever is there, up to 256
    if len(head) < 2:
        raise FormatError(f"the club file starts with {len(head)} bytes, not a 2-byte length")
    size = int.from_bytes(head[:2], "big")
    if size > MAX_MESSAGE:
        raise FormatError(f"the club file claims a message of {size} bytes")
    body = head[2 : 2 + size]
    body += _read_body(transmit, 2 + len(body), size - len(body), 256)
    return body or None


def read_card(transmit: Transmit, atr: bytes) -> tuple[CardKind, bytes | None, bytes | None]:
    """Read whatever the card holds, choosing the protocol from the ATR.

    Arguments:
        transmit: sends raw bytes to the connected card.
        atr: the card's ATR.

    Returns:
        ``(kind, uid, ndef)``; kind is UID_ONLY when there is a UID but no message.

    Raises:
        CardIOError: a refused command or a card with neither UID nor message.
        FormatError: malformed data on the card.
    """
    info = classify_atr(atr)
    uid = read_uid(transmit)
    ways = [(CardKind.NFC_TYPE2, read_type2)] if info.type2 else []
    if not info.storage:
        ways = [(CardKind.NFC_TYPE4, read_type4), (CardKind.CONTACT, read_club_file)]
    for kind, read in ways:
        ndef = read(transmit)
        if ndef is not None:
            return kind, uid, ndef
    if uid is None:
        raise CardIOError(f"this card ({info.label}) has no UID and no club data")
    return CardKind.UID_ONLY, uid, None

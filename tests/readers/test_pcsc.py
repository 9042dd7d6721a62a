"""The PC/SC driver against a real pcscd with the vpcd driver, plus fuzzing of its parsers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import date

import ndef
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clubcore import cardformat as cf
from clubcore.cardformat import unwrap_tlv, wrap_tlv
from clubcore.errors import CardIOError, CardRejectedError, FormatError, ReaderUnavailableError
from clubcore.originality import OriginalityPolicy
from terminal.readers import apdu, open_reader
from terminal.readers.base import CardKind, ReaderState
from terminal.readers.pcsc import CARD_REMOVED, PcscReader, list_readers, write_ntag
from terminal.verifier import identify
from tests.card_fakes import MAKER_PUBLIC_KEY, OTHER_MAKER, DictDirectory, chip_signature
from tests.readers.conftest import READER, Events, Pcscd
from tests.readers.vpcd import (
    ClassicCard,
    ContactCard,
    Fault,
    FaultKind,
    Ntag215,
    Type4Tag,
    VirtualCard,
)

Insert = Callable[[VirtualCard], VirtualCard]


def message(text: str = "member 000123") -> bytes:
    return b"".join(ndef.message_encoder([ndef.TextRecord(text), ndef.UriRecord("https://c.lb")]))


LONG = message("x" * 300)  # needs the 3-byte TLV length and many page reads

pcsc = pytest.mark.pcsc


# -- reads ------------------------------------------------------------------------------


@pcsc
@pytest.mark.parametrize("read_size", [4, 16])
@pytest.mark.parametrize("payload", [message(), LONG], ids=["short", "long"])
def test_ntag215_read(
    reader: PcscReader, events: Events, insert: Insert, read_size: int, payload: bytes
) -> None:
    card = Ntag215(payload, read_size=read_size, uid=bytes.fromhex("04112233445566"))
    insert(card)
    read = events.card()
    assert read.kind is CardKind.NFC_TYPE2
    assert read.uid == bytes.fromhex("04112233445566")
    assert read.ndef == payload
    assert read.source == f"pcsc:{READER}"
    assert read.atr == Ntag215.atr
    assert all(apdu[:2] in (b"\xff\xca", b"\xff\xb0", b"\xff\x00") for apdu in card.apdus)
    assert card.apdus[-1] == bytes.fromhex("FF00000004D4423C00")  # READ_SIG, after the NDEF
    assert read.chip_signature is None  # this chip has none
    if read_size == 4:  # 4-byte readers need one read per page
        assert len(card.apdus) >= 2 + len(payload) // 4


CLUB_KEY = cf.private_key_from_seed(bytes(range(32)))
CLUB_CARD = cf.CardFields(key_id=3, member_no=123456789012, serial=1001, expiry=date(2030, 1, 1))


@pcsc
def test_ntag_originality_signature_tells_the_original_from_a_clone(
    reader: PcscReader, events: Events, insert: Insert
) -> None:
    """Two NTAGs with the same UID and the same signed record, only one made by the maker."""
    uid = bytes.fromhex("04112233445566")
    record = cf.sign_card(CLUB_CARD, uid, CLUB_KEY)
    directory = DictDirectory(
        keys={3: cf.public_key_bytes(CLUB_KEY)},
        originality=OriginalityPolicy((MAKER_PUBLIC_KEY,)),
    )
    cards = {
        "original": Ntag215(record, uid=uid, signature=chip_signature(uid)),
        "clone": Ntag215(record, uid=uid, signature=chip_signature(uid, OTHER_MAKER)),
        "mute chip": Ntag215(record, uid=uid, signature=None),
        "reader without": Ntag215(
            record, uid=uid, signature=chip_signature(uid), direct_transmit=False
        ),
    }
    reads = {}
    for name, card in cards.items():
        insert(card)
        reads[name] = events.card()
        card.remove()
    assert all(read.ndef == record and read.uid == uid for read in reads.values())
    assert reads["original"].chip_signature == chip_signature(uid)
    assert identify(reads["original"], directory, today=date(2027, 1, 1)).chip_original is True
    with pytest.raises(CardRejectedError) as copied:
        identify(reads["clone"], directory, today=date(2027, 1, 1))
    assert copied.value.reason == "copied" and "not an original" in (copied.value.hint or "")
    for name in ("mute chip", "reader without"):  # no signature: the policy decides
        assert reads[name].chip_signature is None
        assert identify(reads[name], directory, today=date(2027, 1, 1)).chip_original is False


@pcsc
def test_type4_read_respects_mle(reader: PcscReader, events: Events, insert: Insert) -> None:
    payload = message("y" * 150)
    card = insert(Type4Tag(payload, mle=0x3B))
    read = events.card()
    assert (read.kind, read.ndef, read.uid) == (CardKind.NFC_TYPE4, payload, Type4Tag.uid)
    reads = [a for a in card.apdus if a[:2] == b"\x00\xb0"]
    assert all(a[4] <= 0x3B for a in reads) and len(reads) >= 4


@pcsc
def test_contact_card_read_follows_61xx_and_6cxx(
    reader: PcscReader, events: Events, insert: Insert
) -> None:
    payload = message()
    card = insert(ContactCard(payload))
    read = events.card()
    assert (read.kind, read.ndef, read.uid) == (CardKind.CONTACT, payload, None)
    assert any(a[1] == 0xC0 for a in card.apdus)  # GET RESPONSE after 61xx
    assert [a[4] for a in card.apdus if a[1] == 0xB0][:2] == [0, 2 + len(payload)]  # 6Cxx retry


@pcsc
def test_uid_only_card(reader: PcscReader, events: Events, insert: Insert) -> None:
    insert(ClassicCard(bytes.fromhex("0A0B0C0D")))
    read = events.card()
    assert (read.kind, read.uid, read.ndef) == (CardKind.UID_ONLY, bytes.fromhex("0A0B0C0D"), None)


@pcsc
def test_blank_ntag_is_uid_only(reader: PcscReader, events: Events, insert: Insert) -> None:
    insert(Ntag215(None))
    read = events.card()
    assert (read.kind, read.uid, read.ndef) == (CardKind.UID_ONLY, Ntag215().uid, None)


# -- faults -----------------------------------------------------------------------------


@pcsc
def test_card_removed_mid_read_then_next_card(
    reader: PcscReader, events: Events, insert: Insert
) -> None:
    card = insert(Ntag215(LONG, read_size=4))
    card.fault = Fault(FaultKind.REMOVE, after=5)
    assert events.error().detail == CARD_REMOVED
    assert events.refusal().error == CARD_REMOVED  # a refusal, never "no card"
    assert card.removed.wait(5)
    card.fault = None
    card.connect()
    assert events.card().ndef == LONG


@pcsc
@pytest.mark.parametrize(
    ("kind", "after", "expected"),
    [
        (FaultKind.GARBAGE, 1, "refused GET UID (status EF42)"),
        (FaultKind.GARBAGE, 3, "refused READ page"),
        (FaultKind.TRUNCATED, 2, "truncated or invalid reply"),
        (FaultKind.WRONG_STATUS, 2, "refused READ page 3 (status 6F00)"),
    ],
)
def test_bad_replies_give_clear_errors(
    reader: PcscReader, events: Events, insert: Insert, kind: FaultKind, after: int, expected: str
) -> None:
    card = Ntag215(LONG)
    card.fault = Fault(kind, after)
    insert(card)
    error = events.error()
    assert expected in error.detail and error.detail.endswith("tap again")
    assert events.refusal().error == error.detail
    card.remove()
    card.fault = None
    card.connect()
    assert events.card().ndef == LONG


@pcsc
def test_corrupt_tlv_is_a_format_error(reader: PcscReader, events: Events, insert: Insert) -> None:
    card = Ntag215(message())
    card.memory[16:20] = bytes.fromhex("03FF7FFF")  # an NDEF TLV of 32767 bytes
    insert(card)
    assert "runs past the end of the data area (496 bytes)" in events.error().detail
    assert "runs past the end" in (events.refusal().error or "")


@pcsc
def test_stop_is_prompt(reader: PcscReader, events: Events) -> None:
    started = time.monotonic()
    reader.stop()
    assert time.monotonic() - started < 0.3  # the wait is cancelled, not timed out
    assert events.status(ReaderState.STOPPED, timeout=1)


@pcsc
def test_no_matching_reader_keeps_polling(pcscd: Pcscd, events: Events) -> None:
    rdr = PcscReader("pcsc:No Such Reader", "No Such Reader")
    rdr.start(events)
    try:
        assert "no reader matching" in events.error().detail
    finally:
        rdr.stop()
    assert events.status(ReaderState.STOPPED, timeout=2)


@pcsc
@pytest.mark.slow
def test_pcscd_restart_reconnects(
    pcscd: Pcscd, reader: PcscReader, events: Events, insert: Insert
) -> None:
    if pcscd.external:
        pytest.skip("pcscd was started outside the tests; they will not restart it")
    pcscd.stop()
    assert "PC/SC service" in events.status(ReaderState.RECONNECTING).detail
    with pytest.raises(ReaderUnavailableError, match="systemctl start pcscd"):
        list_readers()
    pcscd.start()
    events.status(ReaderState.READY, timeout=20)
    insert(Ntag215(message("after restart")))
    assert events.card().ndef == message("after restart")


# -- tools ------------------------------------------------------------------------------


@pcsc
def test_list_readers(pcscd: Pcscd) -> None:
    assert READER in list_readers()


@pcsc
def test_open_reader_path(pcscd: Pcscd) -> None:
    rdr = open_reader(f"pcsc:{READER}")
    assert isinstance(rdr, PcscReader) and rdr.prefix == READER


@pcsc
@pytest.mark.parametrize("read_size", [4, 16])
def test_write_ntag_then_read(
    reader: PcscReader, events: Events, insert: Insert, read_size: int
) -> None:
    card = Ntag215(None, read_size=read_size)
    insert(card)
    assert events.card().kind is CardKind.UID_ONLY
    assert write_ntag("Virtual PCD 00 00", LONG, expected_uid=card.uid) == card.uid
    card.remove()
    card.connect()
    assert events.card().ndef == LONG


@pcsc
def test_write_ntag_refuses(pcscd: Pcscd, insert: Insert) -> None:
    card = Ntag215(message())
    insert(card)
    before = bytes(card.memory)
    with pytest.raises(CardRejectedError) as too_big:
        write_ntag(READER, message("z" * 600))
    assert too_big.value.reason == "too-small"
    with pytest.raises(CardRejectedError) as wrong:
        write_ntag(READER, message(), expected_uid=bytes(7))
    assert wrong.value.reason == "wrong-card"
    assert bytes(card.memory) == before
    with pytest.raises(CardIOError, match="no card on Virtual PCD 00 01"):
        write_ntag("Virtual PCD 00 01", message(), wait=0.3)
    with pytest.raises(ReaderUnavailableError, match="no single PC/SC reader"):
        write_ntag("Virtual PCD", message())


# -- parsers, without pcscd ---------------------------------------------------------------

TYPED = (FormatError, CardIOError)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40), st.booleans())
def test_scan_tlvs_fuzz(memory: bytes, complete: bool) -> None:
    try:
        scan = apdu.scan_tlvs(memory, complete)
    except FormatError:
        return
    assert scan.more == 0 or (not complete and scan.more > len(memory))


@given(st.binary(max_size=600), st.integers(0, 8))
def test_tlv_scan_matches_cardformat(msg: bytes, nulls: int) -> None:
    memory = bytes(nulls) + wrap_tlv(msg)
    assert apdu.scan_tlvs(memory, complete=True).ndef == (unwrap_tlv(memory) or None)
    assert apdu.scan_tlvs(memory[:-2]).more > len(memory) - 2 or not msg


@given(st.binary(max_size=300))
def test_byte_parsers_fuzz(data: bytes) -> None:
    for parse in (apdu.parse_rapdu, apdu.parse_type2_cc, apdu.parse_type4_cc):
        with contextlib.suppress(*TYPED):
            parse(data)
    info = apdu.classify_atr(data)
    assert info.type2 <= info.storage


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=24), min_size=1, max_size=12), st.binary(max_size=30))
def test_read_card_fuzz(replies: list[bytes], atr: bytes) -> None:
    """Any sequence of replies gives a result or a typed error, never anything else."""
    script = iter(replies)

    def transmit(command: bytes) -> bytes:
        return next(script, b"\x6a\x82")

    try:
        kind, uid, ndef_bytes = apdu.read_card(transmit, atr)
    except TYPED:
        return
    assert uid is not None or ndef_bytes is not None
    assert isinstance(kind, CardKind)


def test_exchange_follows_61_and_6c() -> None:
    sent: list[bytes] = []
    replies = iter([b"\x6c\x05", b"abc\x61\x02", b"de\x90\x00"])

    def transmit(command: bytes) -> bytes:
        sent.append(command)
        return next(replies)

    assert apdu.exchange(transmit, bytes.fromhex("00B0000000"), "READ") == b"abcde"
    assert sent == [bytes.fromhex(h) for h in ("00B0000000", "00B0000005", "00C0000002")]


def test_classify_atr() -> None:
    assert apdu.classify_atr(Ntag215.atr).type2
    assert apdu.classify_atr(ClassicCard.atr).label == "MIFARE Classic 1K"
    assert apdu.classify_atr(Type4Tag.atr).label == "ISO 14443-4"
    assert apdu.classify_atr(ContactCard.atr).label == "ISO 7816"


@given(st.binary(max_size=40))
def test_read_chip_signature_takes_only_a_32_byte_answer(reply: bytes) -> None:
    try:
        signature = apdu.read_chip_signature(lambda command: reply)
    except CardIOError:  # a truncated reply: the card went away
        assert len(reply) < 2
        return
    framed = reply[:3] == b"\xd5\x43\x00" and reply[-2:] == b"\x90\x00" and len(reply) == 37
    assert signature == (reply[3:35] if framed else None)


def test_read_chip_signature_replies() -> None:
    signature = bytes(range(32))
    assert (
        apdu.read_chip_signature(lambda c: b"\xd5\x43\x00" + signature + b"\x90\x00") == signature
    )
    assert apdu.read_chip_signature(lambda c: b"\xd5\x43\x01\x90\x00") is None  # chip mute
    assert apdu.read_chip_signature(lambda c: b"\x6a\x81") is None  # reader without it
    assert apdu.read_chip_signature(lambda c: signature + b"\x90\x00") is None  # other framing

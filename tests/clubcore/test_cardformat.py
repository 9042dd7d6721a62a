"""Tests for clubcore.cardformat: vectors from the doc, round trips, fuzzing, tampering."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import ndef
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from clubcore import cardformat as cf
from clubcore.errors import FormatError

DOC = Path(__file__).resolve().parents[2] / "docs" / "card-format.md"
TEST_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
UID = bytes.fromhex("04a1b2c3d4e580")


def _doc_vectors() -> list[dict[str, str]]:
    text = DOC.read_text(encoding="utf-8").split("## Test vectors", 1)[1]
    blocks = re.findall(r"```text\n(.*?)```", text, re.S)
    return [
        dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in b.splitlines())
        for b in blocks
    ]


VECTORS = _doc_vectors()


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return cf.private_key_from_seed(TEST_SEED)


@pytest.fixture
def fields() -> cf.CardFields:
    return cf.CardFields(
        key_id=7, member_no=123456789012, serial=1000001, expiry=date(2027, 12, 31)
    )


@pytest.fixture
def message(fields: cf.CardFields, key: Ed25519PrivateKey) -> bytes:
    return cf.sign_card(fields, UID, key)


fields_strategy = st.builds(
    cf.CardFields,
    key_id=st.integers(0, cf.MAX_KEY_ID),
    member_no=st.integers(1, cf.MAX_MEMBER_NO),
    serial=st.integers(0, cf.MAX_SERIAL),
    expiry=st.dates(),
)
uid_strategy = st.sampled_from([4, 7, 8, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def test_doc_has_both_vectors() -> None:
    assert [v["vector"] for v in VECTORS] == ["nfc-ntag213", "printed-qr"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["vector"])
def test_doc_vectors_are_what_the_code_produces(vector: dict[str, str]) -> None:
    key = cf.private_key_from_seed(bytes.fromhex(vector["seed"]))
    fields = cf.CardFields(
        key_id=int(vector["key id"]),
        member_no=int(vector["member no"]),
        serial=int(vector["serial"]),
        expiry=date.fromisoformat(vector["expiry"]),
    )
    uid = b"" if vector["uid"] == "(none)" else bytes.fromhex(vector["uid"])
    card = cf.issue_card(fields, uid, key)
    assert cf.public_key_bytes(key).hex() == vector["public key"]
    assert cf.signing_input(fields, uid).hex() == vector["signing input"]
    assert card.signature.hex() == vector["signature"]
    assert cf.encode_payload(card).hex() == vector["payload"]
    assert cf.encode_ndef(card).hex() == vector["ndef message"]
    assert cf.wrap_tlv(cf.encode_ndef(card)).hex() == vector["type 2 memory"]
    assert cf.encode_text(card) == vector["text"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["vector"])
def test_doc_vectors_decode_and_verify(vector: dict[str, str]) -> None:
    uid = b"" if vector["uid"] == "(none)" else bytes.fromhex(vector["uid"])
    public = bytes.fromhex(vector["public key"])
    memory = bytes.fromhex(vector["type 2 memory"]) + b"\x00" * 20
    card = cf.decode_ndef(cf.unwrap_tlv(memory))
    assert card == cf.decode_text(vector["text"])
    assert card.member_no == vector["member no"]
    assert cf.verify_signature(card, uid, public)
    assert not cf.verify_signature(card, b"\x04" * 7, public)


def test_fits_ntag213_with_margin(message: bytes) -> None:
    framed = cf.wrap_tlv(message)
    assert len(framed) == 101
    assert cf.NTAG213_USER_BYTES - len(framed) >= 40


@given(fields_strategy, st.binary(max_size=10))
def test_round_trip_ndef_tlv_and_text(fields: cf.CardFields, uid: bytes) -> None:
    card = cf.issue_card(fields, uid, cf.private_key_from_seed(TEST_SEED))
    message = cf.encode_ndef(card)
    assert cf.decode_ndef(message) == card
    assert cf.decode_ndef(cf.unwrap_tlv(cf.wrap_tlv(message))) == card
    assert cf.decode_text(cf.encode_text(card).lower()) == card
    assert len(cf.wrap_tlv(message)) == 101
    assert cf.verify_signature(card, uid, cf.public_key_bytes(cf.private_key_from_seed(TEST_SEED)))


@given(st.binary(max_size=300))
@settings(max_examples=500)
def test_any_bytes_to_decode_ndef_give_a_card_or_format_error(data: bytes) -> None:
    try:
        card = cf.decode_ndef(data)
    except FormatError:
        return
    assert isinstance(card, cf.SignedCard)


@given(st.binary(max_size=300))
@settings(max_examples=500)
def test_any_bytes_to_unwrap_tlv_give_bytes_or_format_error(data: bytes) -> None:
    try:
        found = cf.unwrap_tlv(data)
    except FormatError:
        return
    assert len(found) < len(data)


@given(st.text(max_size=200))
def test_any_text_to_decode_text_gives_a_card_or_format_error(text: str) -> None:
    try:
        card = cf.decode_text(text)
    except FormatError:
        return
    assert isinstance(card, cf.SignedCard)


def _rejected(message: bytes, uid: bytes, public: bytes) -> bool:
    try:
        card = cf.decode_ndef(message)
    except FormatError:
        return True
    return not cf.verify_signature(card, uid, public)


def test_every_single_bit_flip_is_rejected(message: bytes, key: Ed25519PrivateKey) -> None:
    public = cf.public_key_bytes(key)
    assert not _rejected(message, UID, public)
    for bit in range(len(message) * 8):
        flipped = bytearray(message)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert _rejected(bytes(flipped), UID, public), f"bit {bit} flip accepted"


@given(fields_strategy, uid_strategy, st.data())
@settings(max_examples=200)
def test_bit_flips_of_random_cards_are_rejected(
    fields: cf.CardFields, uid: bytes, data: st.DataObject
) -> None:
    key = cf.private_key_from_seed(TEST_SEED)
    message = cf.sign_card(fields, uid, key)
    bit = data.draw(st.integers(0, len(message) * 8 - 1))
    flipped = bytearray(message)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert _rejected(bytes(flipped), uid, cf.public_key_bytes(key))


def test_other_key_same_fields_does_not_verify(fields: cf.CardFields) -> None:
    card = cf.issue_card(fields, UID, cf.generate_private_key())
    assert not cf.verify_signature(
        card, UID, cf.public_key_bytes(cf.private_key_from_seed(TEST_SEED))
    )


def test_uid_longer_than_255_bytes(fields: cf.CardFields, key: Ed25519PrivateKey) -> None:
    card = cf.issue_card(fields, UID, key)
    assert not cf.verify_signature(card, b"\x01" * 256, cf.public_key_bytes(key))
    with pytest.raises(ValueError, match="UID"):
        cf.signing_input(fields, b"\x01" * 256)


def _payload_with(message: bytes, offset: int, replacement: bytes) -> bytes:
    payload = bytearray(message[-cf.PAYLOAD_SIZE :])
    payload[offset : offset + len(replacement)] = replacement
    return bytes(payload)


@pytest.mark.parametrize(
    ("offset", "replacement", "problem"),
    [
        (0, b"\x02", "version 2"),
        (0, b"\x00", "version 0"),
        (3, b"\x00" * 6, "member number 0"),
        (3, b"\xff" * 6, "member number"),
        (13, bytes.fromhex("20270230"), "not a real date"),
        (13, bytes.fromhex("20271301"), "not a real date"),
        (13, bytes.fromhex("00000101"), "not a real date"),
        (13, bytes.fromhex("2027123a"), "not a BCD date"),
    ],
)
def test_malformed_payload_fields(
    message: bytes, offset: int, replacement: bytes, problem: str
) -> None:
    with pytest.raises(FormatError, match=problem):
        cf.decode_payload(_payload_with(message, offset, replacement))


def _record(record_type: str, payload: bytes) -> ndef.Record:
    return ndef.Record(record_type, None, payload)


def _message(*records: ndef.Record) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


MALFORMED = {
    "truncated": lambda m, p: m[:-1],
    "trailing byte": lambda m, p: m + b"\x00",
    "short payload": lambda m, p: _message(_record(cf.RECORD_TYPE, p[:-1])),
    "long payload": lambda m, p: _message(_record(cf.RECORD_TYPE, p + b"\x00")),
    "wrong type": lambda m, p: _message(_record("urn:nfc:ext:clubcard.org:x", p)),
    "upper case type": lambda m, p: _message(_record("urn:nfc:ext:CLUBCARD.ORG:M", p)),
    "mime type": lambda m, p: _message(_record("application/octet-stream", p)),
    "two club records": lambda m, p: _message(
        _record(cf.RECORD_TYPE, p), _record(cf.RECORD_TYPE, p)
    ),
    "empty": lambda m, p: b"",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_messages(message: bytes, case: str) -> None:
    data = MALFORMED[case](message, message[-cf.PAYLOAD_SIZE :])
    assert data != message
    with pytest.raises(FormatError):
        cf.decode_ndef(data)


def test_other_records_are_ignored(message: bytes) -> None:
    payload = message[-cf.PAYLOAD_SIZE :]
    uri = ndef.UriRecord("https://club.example/")
    combined = _message(uri, _record(cf.RECORD_TYPE, payload))
    assert cf.decode_ndef(combined) == cf.decode_ndef(message)
    assert cf.club_record_payload(_message(uri)) is None
    assert cf.club_record_payload(b"") is None


def test_unwrap_tlv_skips_null_lock_and_memory_control(message: bytes) -> None:
    lock_control = bytes.fromhex("0103a00c34")
    memory_control = bytes.fromhex("0203b00310")
    memory = b"\x00\x00" + lock_control + memory_control + b"\x00" + cf.wrap_tlv(message)
    assert cf.unwrap_tlv(memory + b"\x00" * 16) == message


def test_tlv_three_byte_length_round_trip() -> None:
    big = bytes(range(256)) * 2
    framed = cf.wrap_tlv(big)
    assert framed[:4] == b"\x03\xff\x02\x00"
    assert framed[-1] == 0xFE
    assert cf.unwrap_tlv(framed) == big
    assert cf.wrap_tlv(b"\x01" * 254)[1] == 254
    assert cf.wrap_tlv(b"\x01" * 255)[1:4] == b"\xff\x00\xff"


def test_tlv_empty_ndef_is_an_empty_message() -> None:
    assert cf.unwrap_tlv(bytes.fromhex("0300fe0000")) == b""


@pytest.mark.parametrize(
    ("memory", "problem"),
    [
        ("", "no NDEF"),
        ("000000", "no NDEF"),
        ("fe0362d4", "no NDEF"),
        ("03", "inside a TLV length"),
        ("03ff00", "inside a 3-byte"),
        ("0305d40e51", "past the end"),
        ("0103a00c", "past the end"),
        ("03ff0100" + "00" * 10, "past the end"),
    ],
)
def test_unwrap_tlv_refuses_truncated_or_missing(memory: str, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        cf.unwrap_tlv(bytes.fromhex(memory))


def test_wrap_tlv_refuses_oversized() -> None:
    with pytest.raises(ValueError):
        cf.wrap_tlv(b"\x00" * 0xFFFF)


def test_text_form(message: bytes) -> None:
    card = cf.decode_ndef(message)
    text = cf.encode_text(card)
    assert text.startswith("CT1:") and len(text) == 134
    assert re.fullmatch(r"CT1:[A-Z2-7]+", text)
    assert cf.decode_text(f"  {text.lower()}\r\n") == card
    for bad in ["", "CT2:" + text[4:], text[:-1], text + "A", text + "======", "CT1:" + "1" * 130]:
        with pytest.raises(FormatError):
            cf.decode_text(bad)


def test_text_refuses_non_canonical_base32(message: bytes) -> None:
    text = cf.encode_text(cf.decode_ndef(message))
    # the last character carries 3 payload bits and 2 padding bits; set a padding bit
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    tweaked = text[:-1] + alphabet[alphabet.index(text[-1]) ^ 1]
    with pytest.raises(FormatError, match="canonical"):
        cf.decode_text(tweaked)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key_id": -1},
        {"key_id": 65536},
        {"member_no": 0},
        {"member_no": cf.MAX_MEMBER_NO + 1},
        {"serial": -1},
        {"serial": 2**32},
    ],
)
def test_card_fields_range_checks(kwargs: dict[str, int]) -> None:
    values = {"key_id": 1, "member_no": 1, "serial": 1, "expiry": date(2030, 1, 1)} | kwargs
    with pytest.raises(ValueError):
        cf.CardFields(**values)  # type: ignore[arg-type]


def test_keys_round_trip_and_refuse_bad_bytes() -> None:
    key = cf.generate_private_key()
    again = cf.private_key_from_seed(cf.private_key_seed(key))
    assert cf.public_key_bytes(again) == cf.public_key_bytes(key.public_key())
    assert cf.public_key_bytes(cf.load_public_key(cf.public_key_bytes(key))) == cf.public_key_bytes(
        key
    )
    with pytest.raises(FormatError):
        cf.private_key_from_seed(b"\x00" * 31)
    with pytest.raises(FormatError):
        cf.load_public_key(b"\x00" * 33)


def test_all_names_exist() -> None:
    assert all(hasattr(cf, name) for name in cf.__all__)


@given(st.integers(0, 97), st.integers(0, 8), st.binary(max_size=12))
@settings(max_examples=500)
def test_spliced_messages_give_a_card_or_format_error(start: int, cut: int, insert: bytes) -> None:
    message = bytes.fromhex(VECTORS[0]["ndef message"])
    data = message[:start] + insert + message[start + cut :]
    try:
        card = cf.decode_ndef(data)
    except FormatError:
        return
    assert cf.encode_ndef(card) == data  # only an exact re-encoding can decode

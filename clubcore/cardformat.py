"""Signed membership card format v1: pure encoding, decoding and signatures.

The club server signs cards with :func:`issue_card` / :func:`sign_card`;
terminals only decode and verify (:func:`decode_ndef`, :func:`decode_text`,
:func:`verify_signature`). No I/O happens here. The full byte-by-byte
description, with test vectors, is ``docs/card-format.md``.

Payload v1 (81 bytes, big-endian)::

    off  len  field
      0    1  version       0x01
      1    2  key id        uint16; which club key signed it (keys rotate)
      3    6  member no     uint48; 1 .. 99 999 999 999 999 (14 digits)
      9    4  card serial   uint32; unique per issued card (the denylist key)
     13    4  expiry        BCD YYYYMMDD; valid through the end of that day
     17   64  signature     Ed25519 over the signing input below

Signing input::

    b"clubcard.org/card-signature\\x00" || version(1) || key id(2)
    || len(uid)(1) || uid || member no(6) || serial(4) || expiry(4)

``uid`` is the chip UID as read (4, 7 or 10 bytes for NFC-A, 8 for FeliCa)
and ``b""`` for printed QR cards that have no chip.

The payload travels in one NDEF record of NFC Forum external type
``urn:nfc:ext:clubcard.org:m`` (TNF 4, type ``clubcard.org:m``, matched
exactly, case included). Byte budget on an NTAG213 (144 bytes user memory)::

    NDEF TLV header   0x03 len           2
    record header     flags, type len,   3
                      payload len (SR)
    record type       clubcard.org:m    14
    payload                             81
    terminator TLV    0xFE               1
                                       ---
                                       101 bytes: 43 bytes (30 %) spare

The text form for QR codes and barcodes is ``CT1:`` followed by the payload in
RFC 4648 base32 without padding (130 characters; 134 in all). Base32 rather
than base64url because it is case-insensitive (a keyboard-wedge scanner with
caps lock on still reads it) and fits a QR code's denser alphanumeric mode.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import ndef
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from clubcore.errors import FormatError

__all__ = [
    "MAX_KEY_ID",
    "MAX_MEMBER_NO",
    "MAX_SERIAL",
    "NTAG213_USER_BYTES",
    "PAYLOAD_SIZE",
    "RECORD_TYPE",
    "SIGNATURE_SIZE",
    "SIGNING_TAG",
    "TEXT_PREFIX",
    "VERSION",
    "CardFields",
    "SignedCard",
    "club_record_payload",
    "decode_ndef",
    "decode_payload",
    "decode_text",
    "encode_ndef",
    "encode_payload",
    "encode_text",
    "generate_private_key",
    "issue_card",
    "load_public_key",
    "private_key_from_seed",
    "private_key_seed",
    "public_key_bytes",
    "sign_card",
    "signing_input",
    "unwrap_tlv",
    "verify_signature",
    "wrap_tlv",
]

VERSION = 1
RECORD_TYPE = "urn:nfc:ext:clubcard.org:m"
SIGNING_TAG = b"clubcard.org/card-signature\x00"
TEXT_PREFIX = "CT1:"
SIGNATURE_SIZE = 64
_BODY_SIZE = 17
PAYLOAD_SIZE = _BODY_SIZE + SIGNATURE_SIZE
MAX_KEY_ID = 0xFFFF
MAX_MEMBER_NO = 99_999_999_999_999
MAX_SERIAL = 0xFFFF_FFFF
NTAG213_USER_BYTES = 144
_MAX_UID = 255

# Type 2 tag TLV block types (NFC Forum Type 2 Tag Operation 2.3.4)
_TLV_NULL = 0x00
_TLV_NDEF = 0x03
_TLV_TERMINATOR = 0xFE


@dataclass(frozen=True, slots=True)
class CardFields:
    """What a card says, before signing.

    Attributes:
        key_id: the id of the club key that signs it, 0 .. 65535.
        member_no: the member number, 1 .. :data:`MAX_MEMBER_NO` (14 digits).
        serial: the card's serial, unique per issued card, 0 .. 2**32 - 1.
        expiry: the last day on which the card is valid.

    Raises:
        ValueError: a field is out of range.
    """

    key_id: int
    member_no: int
    serial: int
    expiry: date

    def __post_init__(self) -> None:
        if not 0 <= self.key_id <= MAX_KEY_ID:
            raise ValueError(f"key id {self.key_id} is outside 0..{MAX_KEY_ID}")
        if not 1 <= self.member_no <= MAX_MEMBER_NO:
            raise ValueError(f"member number {self.member_no} is outside 1..{MAX_MEMBER_NO}")
        if not 0 <= self.serial <= MAX_SERIAL:
            raise ValueError(f"card serial {self.serial} is outside 0..{MAX_SERIAL}")


@dataclass(frozen=True, slots=True)
class SignedCard:
    """A decoded card: its fields and the club's signature (not yet verified)."""

    fields: CardFields
    signature: bytes

    @property
    def member_no(self) -> str:
        """The member number in canonical text form (decimal, no leading zeros)."""
        return str(self.fields.member_no)


def _bcd_date(day: date) -> bytes:
    return bytes.fromhex(f"{day.year:04d}{day.month:02d}{day.day:02d}")


def _body(fields: CardFields) -> bytes:
    return (
        bytes([VERSION])
        + fields.key_id.to_bytes(2, "big")
        + fields.member_no.to_bytes(6, "big")
        + fields.serial.to_bytes(4, "big")
        + _bcd_date(fields.expiry)
    )


def signing_input(fields: CardFields, uid: bytes) -> bytes:
    """The exact bytes the club signs for a card.

    Arguments:
        fields: the card's fields.
        uid: the chip UID the card is written to; ``b""`` for a printed card.

    Returns:
        ``SIGNING_TAG || version || key id || len(uid) || uid || member no
        || serial || expiry``.

    Raises:
        ValueError: ``uid`` is longer than 255 bytes.
    """
    if len(uid) > _MAX_UID:
        raise ValueError(f"a UID of {len(uid)} bytes is longer than {_MAX_UID}")
    body = _body(fields)
    return SIGNING_TAG + body[:3] + bytes([len(uid)]) + uid + body[3:]


def issue_card(fields: CardFields, uid: bytes, private_key: Ed25519PrivateKey) -> SignedCard:
    """Sign a card for one chip (server side).

    Arguments:
        fields: what the card says.
        uid: the UID of the chip it will be written to, ``b""`` for a QR card.
        private_key: the club key whose id is ``fields.key_id``.

    Returns:
        The signed card, ready for :func:`encode_ndef` or :func:`encode_text`.

    Raises:
        ValueError: ``uid`` is longer than 255 bytes.
    """
    return SignedCard(fields, private_key.sign(signing_input(fields, uid)))


def sign_card(fields: CardFields, uid: bytes, private_key: Ed25519PrivateKey) -> bytes:
    """Sign a card and return the NDEF message to write to the chip.

    Arguments:
        fields: what the card says.
        uid: the UID of the chip it will be written to.
        private_key: the club key whose id is ``fields.key_id``.

    Returns:
        The NDEF message (without TLV framing; see :func:`wrap_tlv`).

    Raises:
        ValueError: ``uid`` is longer than 255 bytes.
    """
    return encode_ndef(issue_card(fields, uid, private_key))


def verify_signature(card: SignedCard, uid: bytes, public_key: Ed25519PublicKey | bytes) -> bool:
    """Check the club's signature on a card as read from a chip.

    Arguments:
        card: the decoded card.
        uid: the UID actually read from the chip, ``b""`` for a QR card.
        public_key: the public key for ``card.fields.key_id``, as an object
            or as its 32 raw bytes.

    Returns:
        True only if the signature is valid for these fields and this UID.

    Raises:
        FormatError: ``public_key`` bytes are not a valid Ed25519 public key.
    """
    key = load_public_key(public_key) if isinstance(public_key, bytes) else public_key
    if len(uid) > _MAX_UID:
        return False
    try:
        key.verify(card.signature, signing_input(card.fields, uid))
    except InvalidSignature:
        return False
    return True


def encode_payload(card: SignedCard) -> bytes:
    """Return the 81-byte v1 payload of a signed card."""
    return _body(card.fields) + card.signature


def decode_payload(payload: bytes) -> SignedCard:
    """Parse a v1 payload (the record payload, or the bytes of the text form).

    Arguments:
        payload: exactly :data:`PAYLOAD_SIZE` bytes.

    Returns:
        The card; its signature is not checked here.

    Raises:
        FormatError: wrong length, unknown version, impossible expiry date or
            out-of-range member number.
    """
    if len(payload) != PAYLOAD_SIZE:
        raise FormatError(f"card payload is {len(payload)} bytes, expected {PAYLOAD_SIZE}")
    if payload[0] != VERSION:
        raise FormatError(f"card format version {payload[0]} is not supported")
    expiry = _decode_bcd_date(payload[13:17])
    try:
        fields = CardFields(
            key_id=int.from_bytes(payload[1:3], "big"),
            member_no=int.from_bytes(payload[3:9], "big"),
            serial=int.from_bytes(payload[9:13], "big"),
            expiry=expiry,
        )
    except ValueError as exc:
        raise FormatError(f"card payload: {exc}") from exc
    return SignedCard(fields, bytes(payload[_BODY_SIZE:]))


def _decode_bcd_date(raw: bytes) -> date:
    text = raw.hex()
    if not text.isdigit():
        raise FormatError(f"card expiry {text} is not a BCD date")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise FormatError(f"card expiry {text} is not a real date") from exc


def encode_ndef(card: SignedCard) -> bytes:
    """Return the NDEF message (one club record) carrying a signed card."""
    record = ndef.Record(RECORD_TYPE, None, encode_payload(card))
    return b"".join(ndef.message_encoder([record]))


def club_record_payload(message: bytes) -> bytes | None:
    """Find the club record in an NDEF message.

    Other records (a URI, an Android application record) are allowed and
    ignored. An empty message (a blank tag) has no club record.

    Arguments:
        message: a complete NDEF message, nothing before or after it.

    Returns:
        The club record's payload, or None if the message has no club record.

    Raises:
        FormatError: the message is not well-formed NDEF, has bytes after its
            last record, or holds more than one club record.
    """
    stream = io.BytesIO(message)
    try:
        records = list(ndef.message_decoder(stream, known_types={}))
    except (ndef.DecodeError, ValueError) as exc:
        raise FormatError(f"malformed NDEF message: {exc}") from exc
    if stream.tell() != len(message):
        raise FormatError(f"{len(message) - stream.tell()} stray bytes after the NDEF message")
    payloads = [bytes(r.data) for r in records if r.type == RECORD_TYPE]
    if len(payloads) > 1:
        raise FormatError("NDEF message holds more than one club card record")
    return payloads[0] if payloads else None


def decode_ndef(message: bytes) -> SignedCard:
    """Decode the signed card in an NDEF message.

    Arguments:
        message: a complete NDEF message as read from the card.

    Returns:
        The card; its signature is not checked here (:func:`verify_signature`).

    Raises:
        FormatError: malformed NDEF, no club record, or a malformed payload.
    """
    payload = club_record_payload(message)
    if payload is None:
        raise FormatError(f"NDEF message has no {RECORD_TYPE} record")
    return decode_payload(payload)


def encode_text(card: SignedCard) -> str:
    """Return the QR/barcode text form: ``CT1:`` + unpadded base32 payload."""
    return TEXT_PREFIX + base64.b32encode(encode_payload(card)).decode("ascii").rstrip("=")


def decode_text(text: str) -> SignedCard:
    """Decode the QR/barcode text form of a card.

    Arguments:
        text: ``CT1:`` and base32; case-insensitive, surrounding whitespace ignored.

    Returns:
        The card; verify it with ``uid=b""``.

    Raises:
        FormatError: wrong prefix, not canonical base32, or a malformed payload.
    """
    text = text.strip()
    if text[: len(TEXT_PREFIX)].upper() != TEXT_PREFIX:
        raise FormatError(f"card text does not start with {TEXT_PREFIX}")
    body = text[len(TEXT_PREFIX) :].upper()
    try:
        payload = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"card text is not base32: {exc}") from exc
    card = decode_payload(payload)
    if encode_text(card)[len(TEXT_PREFIX) :] != body:
        raise FormatError("card text is not in canonical base32")
    return card


def wrap_tlv(ndef_message: bytes) -> bytes:
    """Frame an NDEF message for Type 2 tag memory: NDEF TLV then terminator.

    Arguments:
        ndef_message: the NDEF message.

    Returns:
        ``03 len message FE``, with the 3-byte length form ``FF hi lo`` for
        messages of 255 bytes or more.

    Raises:
        ValueError: the message is longer than 65534 bytes.
    """
    size = len(ndef_message)
    if size > 0xFFFE:
        raise ValueError(f"an NDEF message of {size} bytes does not fit a TLV")
    length = bytes([size]) if size < 0xFF else b"\xff" + size.to_bytes(2, "big")
    return bytes([_TLV_NDEF]) + length + ndef_message + bytes([_TLV_TERMINATOR])


def unwrap_tlv(memory: bytes) -> bytes:
    """Find the first NDEF message in Type 2 tag memory (from page 4 on).

    NULL TLVs (``00``) are skipped; lock and memory control TLVs (``01``,
    ``02``), proprietary (``FD``) and reserved TLVs are skipped by length.

    Arguments:
        memory: the tag's data area, as read.

    Returns:
        The NDEF message bytes (``b""`` for an empty NDEF TLV).

    Raises:
        FormatError: the memory ends inside a TLV, or holds no NDEF TLV before
            the terminator or the end.
    """
    pos = 0
    while pos < len(memory):
        tag = memory[pos]
        if tag == _TLV_NULL:
            pos += 1
            continue
        if tag == _TLV_TERMINATOR:
            break
        length, pos = _tlv_length(memory, pos + 1)
        if pos + length > len(memory):
            raise FormatError(f"TLV {tag:#04x} of {length} bytes runs past the end of memory")
        if tag == _TLV_NDEF:
            return bytes(memory[pos : pos + length])
        pos += length
    raise FormatError("tag memory holds no NDEF message")


def _tlv_length(memory: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(memory):
        raise FormatError("tag memory ends inside a TLV length")
    if memory[pos] != 0xFF:
        return memory[pos], pos + 1
    if pos + 3 > len(memory):
        raise FormatError("tag memory ends inside a 3-byte TLV length")
    return int.from_bytes(memory[pos + 1 : pos + 3], "big"), pos + 3


def generate_private_key() -> Ed25519PrivateKey:
    """Return a new random club signing key (server side)."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Load a signing key from its 32-byte seed.

    Raises:
        FormatError: ``seed`` is not 32 bytes.
    """
    if len(seed) != 32:
        raise FormatError(f"an Ed25519 seed is 32 bytes, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_seed(private_key: Ed25519PrivateKey) -> bytes:
    """Return the 32-byte seed of a signing key (keep it secret)."""
    return private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of a public key (of a private key's public half)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@lru_cache(maxsize=64)
def load_public_key(raw: bytes) -> Ed25519PublicKey:
    """Load a public key from its 32 raw bytes (cached; keys are few).

    Raises:
        FormatError: not 32 bytes, or not a valid Ed25519 point.
    """
    if len(raw) != 32:
        raise FormatError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise FormatError(f"not an Ed25519 public key: {exc}") from exc

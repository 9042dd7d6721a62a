"""Tests for terminal.verifier: every acceptance and every rejection from a real condition."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from clubcore import cardformat as cf
from clubcore.errors import CardRejectedError
from clubcore.identity import IdMethod
from clubcore.member import UidCard
from clubcore.originality import OriginalityPolicy
from terminal import verifier
from terminal.readers.base import CardKind, CardRead
from terminal.verifier import (
    REASON_TEXT,
    CardDirectory,
    Debouncer,
    Identification,
    MemberSummary,
    RejectReason,
    Strength,
    identify,
)
from tests.card_fakes import (
    MAKER_PUBLIC_KEY,
    OTHER_MAKER,
    DictDirectory,
    chip_signature,
)

TODAY = date(2026, 5, 1)
UID = bytes.fromhex("04a1b2c3d4e580")
OTHER_UID = bytes.fromhex("04ffeeddccbb80")
KEY_ID = 3
ALICE = MemberSummary("123456789012", "Alice", "gold")
BOB = MemberSummary("5551", "Bob", "basic")


@pytest.fixture(scope="module")
def club_key() -> Ed25519PrivateKey:
    return cf.private_key_from_seed(bytes(range(32)))


@pytest.fixture
def directory(club_key: Ed25519PrivateKey) -> DictDirectory:
    return DictDirectory(
        keys={KEY_ID: cf.public_key_bytes(club_key)},
        members={ALICE.member_no: ALICE, BOB.member_no: BOB},
        uid_map={
            bytes.fromhex("a1b2c3d4"): UidCard(BOB.member_no, uid_only=True),
            UID: UidCard(ALICE.member_no, uid_only=False),  # Alice's signed card
        },
        phones={"+989123456789": BOB.member_no},
    )


def fields(**changes: object) -> cf.CardFields:
    values: dict[str, object] = {
        "key_id": KEY_ID,
        "member_no": int(ALICE.member_no),
        "serial": 1001,
        "expiry": date(2027, 12, 31),
    } | changes
    return cf.CardFields(**values)  # type: ignore[arg-type]


def nfc(
    message: bytes | None, uid: bytes | None = UID, kind: CardKind = CardKind.NFC_TYPE2
) -> CardRead:
    return CardRead(source="sim", kind=kind, uid=uid, ndef=message, monotonic=0.0)


def wedge(text: str, kind: CardKind = CardKind.WEDGE) -> CardRead:
    return CardRead(source="wedge:kbd", kind=kind, text=text, monotonic=0.0)


def rejection(read: CardRead, directory: CardDirectory, today: date = TODAY) -> str:
    with pytest.raises(CardRejectedError) as info:
        identify(read, directory, today=today)
    assert info.value.message and info.value.hint
    return info.value.reason


def test_valid_signed_card_is_accepted(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    result = identify(nfc(cf.sign_card(fields(), UID, club_key)), directory, today=TODAY)
    assert result == Identification(
        member_no=ALICE.member_no,
        member=ALICE,
        strength=Strength.SIGNED,
        method=IdMethod.CARD,
        flagged_unsynced=False,
        serial=1001,
        source="sim",
        kind=CardKind.NFC_TYPE2,
    )


def test_card_is_valid_through_its_expiry_day(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    read = nfc(cf.sign_card(fields(expiry=TODAY), UID, club_key))
    assert identify(read, directory, today=TODAY).member == ALICE
    assert rejection(read, directory, TODAY + timedelta(days=1)) == "expired"


def test_signed_with_another_key_under_a_known_key_id_is_forged(directory: DictDirectory) -> None:
    read = nfc(cf.sign_card(fields(), UID, Ed25519PrivateKey.generate()))
    assert rejection(read, directory) == "forged"


def test_altered_member_number_is_forged(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    card = cf.issue_card(fields(), UID, club_key)
    altered = cf.SignedCard(fields(member_no=int(BOB.member_no)), card.signature)
    assert rejection(nfc(cf.encode_ndef(altered)), directory) == "forged"


def test_copy_onto_a_different_chip_is_forged(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    message = cf.sign_card(fields(), UID, club_key)
    assert rejection(nfc(message, uid=OTHER_UID), directory) == "forged"


def test_qr_payload_written_to_a_chip_is_refused(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    message = cf.sign_card(fields(), b"", club_key)  # signed for a printed card
    assert rejection(nfc(message, uid=OTHER_UID), directory) == "forged"
    assert rejection(nfc(message, uid=None), directory) == "unreadable"


# -- chip originality (NTAG21x READ_SIG) ------------------------------------------------


def chip_read(message: bytes, signature: bytes | None, uid: bytes = UID) -> CardRead:
    return CardRead("sim", CardKind.NFC_TYPE2, uid=uid, ndef=message, chip_signature=signature)


def checking(directory: DictDirectory, *keys: bytes, required: bool = False) -> DictDirectory:
    directory.originality = OriginalityPolicy(keys or (MAKER_PUBLIC_KEY,), required)
    return directory


def test_an_original_chip_passes_the_originality_check(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    read = chip_read(cf.sign_card(fields(), UID, club_key), chip_signature(UID))
    assert identify(read, directory, today=TODAY).chip_original is None  # no keys: not checked
    other = OTHER_MAKER.get_verifying_key().to_string("compressed")
    result = identify(read, checking(directory, other, MAKER_PUBLIC_KEY), today=TODAY)
    assert (result.member, result.strength, result.chip_original) == (ALICE, Strength.SIGNED, True)


@pytest.mark.parametrize(
    "signature",
    [
        chip_signature(UID, OTHER_MAKER),  # a magic chip's own (or a forger's) signature
        chip_signature(OTHER_UID),  # a genuine chip's signature, copied with its record
        bytes(32),
        chip_signature(UID)[:31],
        chip_signature(UID)[:16] + bytes(16),
    ],
    ids=["other-key", "other-uid", "zeros", "short", "zero-s"],
)
def test_a_chip_whose_signature_does_not_verify_is_a_copy(
    directory: DictDirectory, club_key: Ed25519PrivateKey, signature: bytes
) -> None:
    read = chip_read(cf.sign_card(fields(), UID, club_key), signature)
    with pytest.raises(CardRejectedError) as info:
        identify(read, checking(directory), today=TODAY)
    assert info.value.reason == "copied"
    assert "not an original" in (info.value.hint or "") and UID.hex().upper() in info.value.hint


def test_no_chip_signature_is_accepted_weaker_unless_required(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    read = chip_read(cf.sign_card(fields(), UID, club_key), None)
    assert identify(read, checking(directory), today=TODAY).chip_original is False
    with pytest.raises(CardRejectedError) as info:
        identify(read, checking(directory, required=True), today=TODAY)
    assert info.value.reason == "copied" and "no originality signature" in (info.value.hint or "")


def test_originality_applies_to_signed_ntags_only(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    checking(directory, required=True)
    type4 = nfc(cf.sign_card(fields(), UID, club_key), kind=CardKind.NFC_TYPE4)
    assert identify(type4, directory, today=TODAY).chip_original is None
    uid_only = CardRead("sim", CardKind.UID_ONLY, uid=bytes.fromhex("a1b2c3d4"))
    assert identify(uid_only, directory, today=TODAY).member == BOB
    forged = chip_read(cf.sign_card(fields(), UID, Ed25519PrivateKey.generate()), bytes(32))
    assert rejection(forged, directory) == "forged"  # the club's signature is checked first


def test_a_damaged_originality_key_refuses_without_blaming_the_card(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    read = chip_read(cf.sign_card(fields(), UID, club_key), chip_signature(UID))
    assert rejection(read, checking(directory, b"\x04" + bytes(32))) == "unreadable"


def test_unknown_key_id(directory: DictDirectory, club_key: Ed25519PrivateKey) -> None:
    read = nfc(cf.sign_card(fields(key_id=KEY_ID + 1), UID, club_key))
    assert rejection(read, directory) == "unknown-key"


def test_expired(directory: DictDirectory, club_key: Ed25519PrivateKey) -> None:
    read = nfc(cf.sign_card(fields(expiry=date(2026, 4, 30)), UID, club_key))
    assert rejection(read, directory) == "expired"


def test_revoked_serial_and_uid(directory: DictDirectory, club_key: Ed25519PrivateKey) -> None:
    read = nfc(cf.sign_card(fields(), UID, club_key))
    directory.revoked_serials.add(1001)
    assert rejection(read, directory) == "revoked"
    directory.revoked_serials.clear()
    directory.revoked_uids.add(UID)
    assert rejection(read, directory) == "revoked"


def test_revoked_wins_over_expired(directory: DictDirectory, club_key: Ed25519PrivateKey) -> None:
    directory.revoked_serials.add(1001)
    read = nfc(cf.sign_card(fields(expiry=date(2020, 1, 1)), UID, club_key))
    assert rejection(read, directory) == "revoked"


def test_unsynced_member_is_accepted_and_flagged(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    read = nfc(cf.sign_card(fields(member_no=777), UID, club_key))
    result = identify(read, directory, today=TODAY)
    assert (result.member_no, result.member, result.flagged_unsynced) == ("777", None, True)
    assert result.strength is Strength.SIGNED


def test_uid_only_card_mapped_and_unmapped(directory: DictDirectory) -> None:
    mapped = identify(
        nfc(None, bytes.fromhex("a1b2c3d4"), CardKind.UID_ONLY), directory, today=TODAY
    )
    assert (mapped.member, mapped.strength, mapped.serial) == (BOB, Strength.UID_ONLY, None)
    assert mapped.method is IdMethod.CARD_UID
    assert (
        rejection(nfc(None, bytes.fromhex("0badcafe"), CardKind.UID_ONLY), directory)
        == "unknown-member"
    )
    directory.revoked_uids.add(bytes.fromhex("a1b2c3d4"))
    assert (
        rejection(nfc(None, bytes.fromhex("a1b2c3d4"), CardKind.UID_ONLY), directory) == "revoked"
    )


def test_unreadable_and_not_club_card(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    message = cf.sign_card(fields(), UID, club_key)
    assert rejection(nfc(message[:-3]), directory) == "unreadable"  # torn read
    assert rejection(nfc(None, uid=None), directory) == "unreadable"
    start = len(message) - cf.PAYLOAD_SIZE
    bad_version = message[:start] + b"\x09" + message[start + 1 :]
    assert rejection(nfc(bad_version), directory) == "unreadable"
    uri_only = bytes.fromhex("d1010c55046578616d706c652e636f6d")  # https://example.com
    assert rejection(nfc(uri_only, OTHER_UID), directory) == "not-club-card"
    assert rejection(nfc(b"", OTHER_UID), directory) == "not-club-card"


def _flip_type_bit(message: bytes) -> bytes:
    """``message`` with one bit of its club record's type changed (the payload intact)."""
    at = message.index(cf.RECORD_TYPE.removeprefix("urn:nfc:ext:").encode())
    return message[:at] + bytes([message[at] ^ 0x01]) + message[at + 1 :]


@pytest.mark.parametrize(
    "message",
    [
        None,  # a bare chip
        b"",  # an empty NDEF area
        bytes.fromhex("d1010c55046578616d706c652e636f6d"),  # a foreign URI record
        "flipped",  # the club record with its type changed by one bit
    ],
    ids=["bare", "empty", "foreign-record", "type-bit-flipped"],
)
def test_a_signed_cards_uid_without_its_record_is_a_copy(
    directory: DictDirectory, club_key: Ed25519PrivateKey, message: bytes | str | None
) -> None:
    if message == "flipped":
        message = _flip_type_bit(cf.sign_card(fields(), UID, club_key))
        assert cf.club_record_payload(message) is None  # no longer the club's record
    assert not isinstance(message, str)
    for kind in (CardKind.NFC_TYPE2, CardKind.UID_ONLY, CardKind.NFC_TYPE4):
        assert rejection(nfc(message, UID, kind), directory) == "copied"


def test_the_uid_of_an_expired_or_retired_key_card_identifies_nobody(
    directory: DictDirectory, club_key: Ed25519PrivateKey
) -> None:
    expired = nfc(cf.sign_card(fields(expiry=TODAY - timedelta(days=1)), UID, club_key))
    assert rejection(expired, directory) == "expired"
    assert rejection(nfc(None, UID, CardKind.UID_ONLY), directory) == "copied"
    directory.keys.clear()  # the key retired
    assert rejection(nfc(cf.sign_card(fields(), UID, club_key)), directory) == "unknown-key"
    assert rejection(nfc(b"", UID), directory) == "copied"


def test_a_failed_read_is_refused_with_its_cause_never_as_uid_only(
    directory: DictDirectory,
) -> None:
    registered = bytes.fromhex("a1b2c3d4")  # a UID-only card: accepted when it reads
    failed = CardRead(
        "nfc:usb", CardKind.UNREADABLE, uid=registered, error="card removed - tap again"
    )
    with pytest.raises(CardRejectedError) as info:
        identify(failed, directory, today=TODAY)
    assert info.value.reason == "unreadable"
    assert info.value.hint.startswith("Card removed - tap again")


def test_ndef_tag_without_club_record_falls_back_to_uid_map(directory: DictDirectory) -> None:
    result = identify(nfc(b"", bytes.fromhex("a1b2c3d4")), directory, today=TODAY)
    assert (result.member, result.strength) == (BOB, Strength.UID_ONLY)


def test_qr_text_is_a_signed_read(directory: DictDirectory, club_key: Ed25519PrivateKey) -> None:
    text = cf.encode_text(cf.issue_card(fields(), b"", club_key))
    result = identify(wedge(text + "\r\n"), directory, today=TODAY)
    assert (result.member, result.strength, result.serial) == (ALICE, Strength.SIGNED, 1001)
    assert result.method is IdMethod.QR
    chip_text = cf.encode_text(cf.issue_card(fields(), UID, club_key))
    assert rejection(wedge(chip_text), directory) == "forged"


def test_manual_number_and_phone(directory: DictDirectory) -> None:
    by_number = identify(wedge("5551", CardKind.MANUAL), directory, today=TODAY)
    assert (by_number.member, by_number.strength) == (BOB, Strength.UNVERIFIED)
    assert by_number.method is IdMethod.NUMBER
    by_phone = identify(wedge("۰۹۱۲۳۴۵۶۷۸۹", CardKind.MANUAL), directory, today=TODAY)
    assert (by_phone.member_no, by_phone.strength) == ("5551", Strength.UNVERIFIED)
    assert by_phone.method is IdMethod.PHONE
    assert rejection(wedge("4242", CardKind.MANUAL), directory) == "unknown-member"
    assert rejection(wedge("09350000000", CardKind.MANUAL), directory) == "unknown-member"
    assert rejection(wedge("hello"), directory) == "unreadable"
    with pytest.raises(CardRejectedError, match="Nothing was entered"):
        identify(wedge(" \r\n", CardKind.MANUAL), directory, today=TODAY)


def test_magstripe(directory: DictDirectory) -> None:
    result = identify(wedge(";5551=2605123?"), directory, today=TODAY)
    assert (result.member, result.strength, result.method) == (
        BOB,
        Strength.UNVERIFIED,
        IdMethod.MAGSTRIPE,
    )
    assert rejection(wedge(";5551=2604123?"), directory) == "expired"


def test_every_reason_has_cashier_text() -> None:
    assert set(REASON_TEXT) == set(RejectReason)
    for reason in RejectReason:
        error = verifier.reject(reason)
        assert error.reason == str(reason) and error.message and error.hint
    hint = verifier.reject(RejectReason.EXPIRED, "Expired on 2020-01-01").hint
    assert hint == "Expired on 2020-01-01. " + REASON_TEXT[RejectReason.EXPIRED][1]


@given(st.binary(max_size=120), st.sampled_from([None, UID, b""]))
@settings(max_examples=300)
def test_any_ndef_bytes_give_identification_or_card_rejection(
    data: bytes, uid: bytes | None
) -> None:
    directory = DictDirectory(
        keys={KEY_ID: cf.public_key_bytes(cf.private_key_from_seed(bytes(range(32))))}
    )
    try:
        result = identify(nfc(data, uid), directory, today=TODAY)
    except CardRejectedError as exc:
        assert exc.reason in set(RejectReason)
        return
    pytest.fail(f"random bytes identified {result}")


def test_debouncer_drops_repeats_within_the_window() -> None:
    debounce = Debouncer()
    first = CardRead("sim", CardKind.NFC_TYPE2, uid=UID, monotonic=10.0)
    other = CardRead("sim", CardKind.NFC_TYPE2, uid=OTHER_UID, monotonic=10.5)
    assert debounce.accept(first)
    assert debounce.accept(other)
    assert not debounce.accept(CardRead("sim", CardKind.NFC_TYPE2, uid=UID, monotonic=11.9))
    # the window slides: last seen at 11.9, so 13.0 is still a repeat, 14.0 is not
    assert not debounce.accept(CardRead("sim", CardKind.NFC_TYPE2, uid=UID, monotonic=13.0))
    assert debounce.accept(CardRead("sim", CardKind.NFC_TYPE2, uid=UID, monotonic=15.1))


def test_debouncer_tells_text_entries_apart() -> None:
    debounce = Debouncer(window=1.0)
    assert debounce.accept(wedge_at("5551", 0.0))
    assert not debounce.accept(wedge_at("5551", 0.5))
    assert debounce.accept(wedge_at("5552", 0.6))
    assert debounce.accept(wedge_at("5551", 1.6))


def wedge_at(text: str, when: float) -> CardRead:
    return CardRead("wedge:kbd", CardKind.WEDGE, text=text, monotonic=when)


def test_all_names_exist() -> None:
    assert all(hasattr(verifier, name) for name in verifier.__all__)

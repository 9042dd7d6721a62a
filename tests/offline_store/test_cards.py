"""The offline store as the card verifier's directory: which UID identifies whom."""

from __future__ import annotations

from clubcore.member import UidCard
from clubcore.originality import OriginalityPolicy
from offline_store.cards import StoreCardDirectory
from offline_store.settings import put_settings
from terminal.bootstrap import Terminal
from terminal.demo_data import member_number
from tests.card_fakes import MAKER_PUBLIC_KEY

SIGNED_UID = "04AA000000000001"
UID_ONLY = "04BB000000000002"


def add_card(terminal: Terminal, serial: str, uid: str, member_no: str, kind: str) -> None:
    terminal.db.execute(
        "INSERT INTO cards (serial, uid, member_no, kind, expires, updated_at) "
        "VALUES (?, ?, ?, ?, NULL, '2026-11-22T00:00:00+00:00')",
        [serial, uid, member_no, kind],
    )


def test_a_uid_says_whether_it_is_a_uid_only_cards(terminal: Terminal) -> None:
    add_card(terminal, "9001", SIGNED_UID, member_number(3), "signed")
    add_card(terminal, "9002", UID_ONLY, member_number(4), "uid-only")
    directory = StoreCardDirectory(terminal.db)
    assert directory.card_for_uid(bytes.fromhex(SIGNED_UID)) == UidCard(member_number(3), False)
    assert directory.card_for_uid(bytes.fromhex(UID_ONLY)) == UidCard(member_number(4), True)
    assert directory.card_for_uid(bytes.fromhex("04CC000000000003")) is None


def test_a_signed_card_wins_over_a_uid_only_card_with_the_same_uid(terminal: Terminal) -> None:
    # a UID-only registration cannot launder a signed card's public UID
    add_card(terminal, "9001", SIGNED_UID, member_number(3), "signed")
    add_card(terminal, "9003", SIGNED_UID, member_number(5), "uid-only")
    card = StoreCardDirectory(terminal.db).card_for_uid(bytes.fromhex(SIGNED_UID))
    assert card == UidCard(member_number(3), uid_only=False)


def test_the_originality_policy_is_the_clubs_setting(terminal: Terminal) -> None:
    directory = StoreCardDirectory(terminal.db)
    assert not directory.originality_policy().enabled
    put_settings(
        terminal.db,
        {"cards.originality_keys": MAKER_PUBLIC_KEY.hex(), "cards.require_originality": "yes"},
    )
    assert directory.originality_policy() == OriginalityPolicy((MAKER_PUBLIC_KEY,), True)

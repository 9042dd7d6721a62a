from __future__ import annotations

import queue
from pathlib import Path

import pytest

from clubcore.errors import CardRejectedError, RedemptionError
from terminal import demo_cards
from terminal.bootstrap import Terminal
from terminal.readers import open_reader
from terminal.readers.base import CardRead, ReaderEvent
from terminal.readers.sim import SimReader
from tests.conftest import FixedClock


@pytest.fixture
def cards(terminal: Terminal, clock: FixedClock) -> dict[str, demo_cards.DemoCard]:
    return {card.label: card for card in demo_cards.issue_demo_cards(terminal.db, clock())}


def test_every_demo_card_gives_its_expected_outcome(
    terminal: Terminal, cards: dict[str, demo_cards.DemoCard]
) -> None:
    assert set(cards) >= {
        "basic",
        "silver",
        "gold",
        "platinum",
        "vip",
        "expired",
        "revoked",
        "forged",
        "cloned",
        "copied-uid",
        "unknown-key",
        "uid-only",
        "unsynced",
        "qr-gold",
    }
    for card in cards.values():
        checkout = terminal.checkout()
        checkout.add("P000001")
        if card.expect == "accepted":
            found = checkout.identify_read(card.as_read())
            assert found.member_no == card.member_no, card.label
            assert checkout.state.member is not None
            assert checkout.state.member.member_no == card.member_no
        else:
            with pytest.raises(CardRejectedError) as refused:
                checkout.identify_read(card.as_read())
            assert refused.value.reason == card.expect, card.label
            assert checkout.state.member is None, card.label


def test_tier_cards_price_at_their_tier(
    terminal: Terminal, cards: dict[str, demo_cards.DemoCard]
) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    for tier in ("basic", "gold", "vip"):
        checkout.identify_read(cards[tier].as_read())
        assert checkout.state.member is not None and checkout.state.member.tier == tier
        assert checkout.state.id_method == "card"


def test_unsynced_member_is_priced_at_the_base_tier_without_points(
    terminal: Terminal, cards: dict[str, demo_cards.DemoCard]
) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    found = checkout.identify_read(cards["unsynced"].as_read())
    assert found.flagged_unsynced
    member = checkout.state.member
    assert member is not None and (member.tier, member.points_balance) == ("basic", 0)
    assert checkout.state.unsynced
    sale = checkout.complete()
    assert sale.member_no == cards["unsynced"].member_no and sale.tier == "basic"
    assert sale.id_method == "card"


def test_uid_only_cards_cannot_redeem_unless_policy_allows(
    terminal: Terminal, cards: dict[str, demo_cards.DemoCard]
) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001", 5)
    checkout.identify_read(cards["uid-only"].as_read())
    assert checkout.state.id_method == "card-uid"
    with pytest.raises(RedemptionError, match="this card type"):
        checkout.redeem(100)
    terminal.db.execute("INSERT OR REPLACE INTO settings VALUES ('policy.redeem_uid_only', 'yes')")
    assert checkout.redeem(100).points_redeemed == 100


def test_demo_cards_round_trip_through_json_and_the_sim_reader(
    tmp_path: Path, cards: dict[str, demo_cards.DemoCard]
) -> None:
    path = tmp_path / demo_cards.DEMO_CARDS_FILE
    demo_cards.save(list(cards.values()), path)
    loaded = {c.label: c for c in demo_cards.load(path)}
    assert loaded == cards
    reader = open_reader("sim")
    assert isinstance(reader, SimReader)
    events: queue.Queue[ReaderEvent] = queue.Queue()
    reader.start(events.put)
    try:
        reader.present(loaded["gold"].as_read())
        while not isinstance(event := events.get(timeout=5), CardRead):
            pass
    finally:
        reader.stop()
    assert event.source == "sim" and event.uid == bytes.fromhex(cards["gold"].uid or "")
    assert event.ndef == bytes.fromhex(cards["gold"].ndef or "")


def test_loading_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="demo-data"):
        demo_cards.load(tmp_path / "nope.json")

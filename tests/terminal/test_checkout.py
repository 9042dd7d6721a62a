from __future__ import annotations

from datetime import timedelta

import pytest

from clubcore.errors import (
    MemberOnlyItemError,
    QuantityError,
    RedemptionError,
    SaleStateError,
    UnknownMemberError,
    UnknownProductError,
)
from clubcore.pricing import PriceSource
from offline_store import members, outbox, sales
from terminal.bootstrap import Terminal
from terminal.demo_data import member_number

GOLD_MEMBER_SKU = "P000001"  # has member prices for every tier
MEMBER_ONLY_SKU = "P000013"  # index % 97 == 13


def first_member(terminal: Terminal, tier: str) -> str:
    row = terminal.db.execute(
        "SELECT member_no FROM members WHERE tier = ? ORDER BY member_no LIMIT 1", [tier]
    ).fetchone()
    return str(row[0])


def test_add_by_sku_or_barcode_merges_lines(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    barcode = terminal.db["products"].get("P000001")["barcode"]
    priced = checkout.add(barcode, 2)
    assert [(line.sku, line.quantity) for line in priced.lines] == [("P000001", 3)]
    assert priced.total == 3 * terminal.db["products"].get("P000001")["list_price"]


def test_identifying_a_member_reprices_the_whole_basket(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001", 2)
    checkout.add("P000053")
    before = checkout.priced.total
    member_no = first_member(terminal, "gold")
    priced = checkout.identify(member_no)
    gold_price = terminal.db.execute(
        "SELECT price FROM member_prices WHERE sku = 'P000001' AND tier = 'gold'"
    ).fetchone()[0]
    assert priced.lines[0].unit_price == gold_price
    assert priced.lines[0].source is PriceSource.MEMBER_PRICE
    assert priced.total < before
    assert checkout.drop_member().total == before


def test_rejected_actions_change_nothing(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    state, priced = checkout.state, checkout.priced
    with pytest.raises(UnknownProductError):
        checkout.add("NOPE")
    with pytest.raises(QuantityError):
        checkout.add("P000002", 0)
    with pytest.raises(QuantityError):
        checkout.set_quantity("P000001", -3)
    with pytest.raises(MemberOnlyItemError):
        checkout.add(MEMBER_ONLY_SKU)
    with pytest.raises(UnknownMemberError):
        checkout.identify("999")
    with pytest.raises(RedemptionError):
        checkout.redeem(10)
    assert checkout.state == state and checkout.priced == priced


def test_member_only_item_then_dropping_the_member_is_refused(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.identify(member_number(1))
    checkout.add(MEMBER_ONLY_SKU)
    with pytest.raises(MemberOnlyItemError):
        checkout.drop_member()
    assert checkout.state.member is not None


def test_set_quantity_and_remove(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    checkout.add("P000002")
    assert checkout.set_quantity("P000002", 5).lines[1].quantity == 5
    assert [line.sku for line in checkout.remove("P000001").lines] == ["P000002"]
    with pytest.raises(SaleStateError):
        checkout.remove("P000001")


def test_complete_records_sale_ledger_and_outbox_together(terminal: Terminal) -> None:
    member_no = member_number(3)
    balance = members.get_member(terminal.db, member_no).points_balance
    checkout = terminal.checkout()
    checkout.identify(member_no, "card")
    checkout.add("P000001", 4)
    checkout.redeem(200)
    sale = checkout.complete("card")
    assert sale.points_redeemed == 200 and sale.points_discount == 200 * 100
    stored = sales.get_sale(terminal.db, sale.sale_id)
    assert stored == sale
    entries = outbox.next_batch(terminal.db)
    assert [e.idempotency_key for e in entries] == [sale.sale_id]
    after = members.get_member(terminal.db, member_no).points_balance
    assert after == balance - 200 + sale.points_earned
    assert sale.business_date.isoformat() == "2026-11-22" and sale.hour == 13  # Tehran
    assert checkout.state.quantities == {} and checkout.priced.total == 0


def test_complete_an_empty_basket_is_refused(terminal: Terminal) -> None:
    with pytest.raises(SaleStateError):
        terminal.checkout().complete()
    assert terminal.db["sales"].count == 0


def test_offline_redemption_cap_counts_pending_redemptions(terminal: Terminal) -> None:
    terminal.db.execute("UPDATE settings SET value = '300' WHERE key = 'offline.redeem_cap_points'")
    member_no = member_number(5)
    terminal.db.execute("UPDATE members SET points_base = 10000 WHERE member_no = ?", [member_no])
    checkout = terminal.checkout()
    checkout.identify(member_no)
    checkout.add("P000001", 5)
    checkout.redeem(200)
    checkout.complete()
    checkout.identify(member_no)
    checkout.add("P000001", 5)
    assert checkout.max_redeemable() == 100
    with pytest.raises(RedemptionError, match="at most 100 points"):
        checkout.redeem(101)
    checkout.redeem(100)


def test_void_before_completion_records_nothing(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    checkout.void()
    assert checkout.priced.lines == ()
    assert terminal.db["sales"].count == 0 and outbox.pending_count(terminal.db) == 0


def test_suspended_member_is_refused(terminal: Terminal) -> None:
    member_no = member_number(7)
    terminal.db.execute("UPDATE members SET status = 'suspended' WHERE member_no = ?", [member_no])
    with pytest.raises(UnknownMemberError, match="suspended"):
        terminal.checkout().identify(member_no)


def test_a_sale_is_priced_at_the_time_it_records(terminal: Terminal) -> None:
    """The club re-prices a sale at its ``created_at``: the lane prices it at that very reading
    of the clock, even when an offer ends while the cashier completes."""
    start = terminal.clock()
    ends = start + timedelta(seconds=3.5)  # between the 4th and the 5th reading below
    terminal.db.execute(
        "UPDATE offers SET ends_at = ?, percent_bp = 9000 WHERE offer_id = 'GOLD-TEA'",
        [ends.isoformat()],
    )
    tea = terminal.db.execute(
        "SELECT sku FROM products WHERE category = 'beverages' AND active AND NOT member_only "
        "ORDER BY sku LIMIT 1"
    ).fetchone()[0]
    ticks = iter(range(100))
    terminal.clock = lambda: start + timedelta(seconds=next(ticks))  # 1 s later each reading
    checkout = terminal.checkout()
    checkout.identify(first_member(terminal, "gold"))
    assert checkout.add(tea).lines[0].offer_id == "GOLD-TEA"
    sale = checkout.complete()
    assert (sale.lines[0].offer_id == "GOLD-TEA") == (sale.created_at < ends)

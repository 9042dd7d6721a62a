from __future__ import annotations

from datetime import timedelta

import pytest

from clubcore.errors import AuthorizationError, QuantityError, SaleStateError
from clubcore.sale import Sale, SaleKind
from offline_store import members, outbox
from terminal.bootstrap import Terminal
from terminal.demo_data import DEMO_MANAGER_PIN, member_number
from terminal.refunds import refund_sale, void_sale
from tests.conftest import FixedClock


def member_sale(terminal: Terminal, redeem: int = 300) -> Sale:
    checkout = terminal.checkout()
    checkout.identify(member_number(4))
    checkout.add("P000001", 3)
    checkout.add("P000002", 2)
    checkout.add("P000053", 1)
    checkout.redeem(redeem)
    return checkout.complete("card")


def test_void_reverses_everything_as_a_new_record(terminal: Terminal) -> None:
    balance = members.get_member(terminal.db, member_number(4)).points_balance
    sale = member_sale(terminal)
    void = void_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, "customer changed mind")
    assert void.kind is SaleKind.VOID and void.ref_sale_id == sale.sale_id
    assert (void.total, void.subtotal, void.points_earned, void.points_redeemed) == (
        -sale.total,
        -sale.subtotal,
        -sale.points_earned,
        -sale.points_redeemed,
    )
    assert void.staff_id == "manager"
    assert members.get_member(terminal.db, member_number(4)).points_balance == balance
    pending = {e.idempotency_key for e in outbox.next_batch(terminal.db)}
    assert pending == {sale.sale_id, void.sale_id}
    assert terminal.db["sales"].get(sale.sale_id)["total"] == sale.total  # original untouched
    with pytest.raises(SaleStateError):
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN)


def test_partial_refunds_add_up_to_exactly_the_sale(terminal: Terminal) -> None:
    sale = member_sale(terminal, redeem=333)
    parts = [
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, {1: 1}),
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, {1: 1, 3: 1}),
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, {2: 1}),
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN),  # all that is left
    ]
    assert all(p.kind is SaleKind.REFUND for p in parts)
    for field in ("total", "subtotal", "points_discount", "points_earned", "points_redeemed"):
        assert sum(getattr(p, field) for p in parts) == -getattr(sale, field), field
    with pytest.raises(SaleStateError, match="fully refunded"):
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN)


def test_refund_more_than_left_is_refused(terminal: Terminal) -> None:
    sale = member_sale(terminal)
    refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, {1: 2})
    before = terminal.db["sales"].count
    with pytest.raises(QuantityError, match="1 left"):
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, {1: 2})
    with pytest.raises(SaleStateError, match="no line 9"):
        refund_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN, {9: 1})
    with pytest.raises(SaleStateError, match="has refunds"):
        void_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN)
    assert terminal.db["sales"].count == before


def test_wrong_pins_are_refused_then_locked(terminal: Terminal, clock: FixedClock) -> None:
    sale = member_sale(terminal)
    before = terminal.db["sales"].count
    with pytest.raises(AuthorizationError, match="required"):
        void_sale(terminal, sale.sale_id, None)
    for _ in range(5):
        with pytest.raises(AuthorizationError, match="wrong manager PIN"):
            void_sale(terminal, sale.sale_id, "0000")
    with pytest.raises(AuthorizationError, match="locked"):
        void_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN)
    assert terminal.db["sales"].count == before
    clock.now += timedelta(minutes=6)
    assert void_sale(terminal, sale.sale_id, DEMO_MANAGER_PIN).kind is SaleKind.VOID


def test_pins_are_stored_hashed(terminal: Terminal) -> None:
    stored = terminal.db["staff"].get("manager")["pin_hash"]
    assert stored.startswith("scrypt$") and DEMO_MANAGER_PIN not in stored

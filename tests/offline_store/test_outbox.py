"""The outbox's state machine: pending, sent (ledger confirmed), held (ledger held), refused
(ledger refused)."""

from __future__ import annotations

from typing import Any

from offline_store import outbox
from offline_store.members import points_balance
from offline_store.outbox import Answer, Outcome
from terminal.bootstrap import Terminal
from terminal.demo_data import member_number


def ring_up(terminal: Terminal, count: int) -> list[str]:
    ids = []
    for i in range(count):
        checkout = terminal.checkout()
        checkout.identify(member_number(i))
        checkout.add("P000001", 2)
        ids.append(checkout.complete().sale_id)
    return ids


def entry(terminal: Terminal, key: str) -> dict[str, Any]:
    return next(iter(terminal.db["outbox"].rows_where("idempotency_key = ?", [key])))


def ledger_states(terminal: Terminal, sale_id: str) -> set[tuple[str, int | None]]:
    rows = terminal.db.execute(
        "SELECT state, change_seq FROM points_ledger WHERE sale_id = ?", [sale_id]
    )
    return {(str(state), seq) for state, seq in rows}


def test_next_batch_is_pending_entries_in_commit_order_within_bounds(terminal: Terminal) -> None:
    ids = ring_up(terminal, 5)
    assert [e.idempotency_key for e in outbox.next_batch(terminal.db)] == ids
    assert [e.idempotency_key for e in outbox.next_batch(terminal.db, 2)] == ids[:2]
    assert [e.idempotency_key for e in outbox.next_batch(terminal.db, max_bytes=1)] == ids[:1]
    member = terminal.db["sales"].get(ids[0])["member_no"]
    outbox.record_answers(terminal.db, [Answer(ids[0], member, Outcome.SENT, 7)], "now")
    assert [e.idempotency_key for e in outbox.next_batch(terminal.db)] == ids[1:]


def test_answers_move_entries_and_their_ledger_entries_together(terminal: Terminal) -> None:
    sent, refused, waiting = ring_up(terminal, 3)
    members = {k: terminal.db["sales"].get(k)["member_no"] for k in (sent, refused)}
    outbox.record_answers(
        terminal.db,
        [Answer(sent, members[sent], Outcome.SENT, 1234),
         Answer(refused, members[refused], Outcome.REFUSED, error="rejected: no")],
        "2026-11-22T10:00:00+00:00",
    )  # fmt: skip
    assert {state for state, _ in ledger_states(terminal, sent)} == {"confirmed"}
    assert {seq for _, seq in ledger_states(terminal, sent)} == {1234}
    assert {state for state, _ in ledger_states(terminal, refused)} == {"refused"}
    assert {state for state, _ in ledger_states(terminal, waiting)} == {"pending"}
    row = entry(terminal, refused)
    assert (row["refused_at"], row["last_error"]) == ("2026-11-22T10:00:00+00:00", "rejected: no")
    assert outbox.outbox_counts(terminal.db) == (1, 1, 0) and outbox.pending_count(terminal.db) == 1
    count, oldest = outbox.pending_summary(terminal.db)
    assert count == 1 and oldest == entry(terminal, waiting)["created_at"]


def test_a_failed_push_keeps_entries_pending_with_an_attempt_more(terminal: Terminal) -> None:
    ids = ring_up(terminal, 2)
    outbox.record_failure(terminal.db, ids, "no answer " * 200)
    for key in ids:
        row = entry(terminal, key)
        assert row["attempts"] == 1 and row["last_error"].startswith("no answer")
        assert len(row["last_error"]) == 1000 and row["sent_at"] is None
    assert outbox.outbox_counts(terminal.db) == (2, 0, 0)
    assert outbox.pending_summary(terminal.db)[0] == 2


def test_a_held_entry_is_sent_never_retried_and_its_points_not_counted(
    terminal: Terminal,
) -> None:
    held, sent, waiting = ring_up(terminal, 3)
    member = terminal.db["sales"].get(held)["member_no"]
    before = points_balance(terminal.db, member)
    base = terminal.db["members"].get(member)["points_base"]
    earned = terminal.db["sales"].get(held)["points_earned"]
    assert earned > 0 and before == base + earned
    outbox.record_answers(
        terminal.db,
        [Answer(held, member, Outcome.HELD, error="over 10 points a sale"),
         Answer(sent, terminal.db["sales"].get(sent)["member_no"], Outcome.SENT, 9)],
        "2026-11-22T10:00:00+00:00",
    )  # fmt: skip
    row = entry(terminal, held)
    assert (row["sent_at"], row["held"]) == ("2026-11-22T10:00:00+00:00", "over 10 points a sale")
    assert row["refused_at"] is None and row["attempts"] == 0
    assert ledger_states(terminal, held) == {("held", None)}
    assert entry(terminal, sent)["held"] is None
    assert [e.idempotency_key for e in outbox.next_batch(terminal.db)] == [waiting]
    assert outbox.outbox_counts(terminal.db) == outbox.OutboxCounts(pending=1, refused=0, held=1)
    assert points_balance(terminal.db, member) == base  # the club holds them, so does the lane


def test_a_held_answer_with_a_change_seq_confirms_the_redemption_the_club_applied(
    terminal: Terminal,
) -> None:
    """A club that debits a held sale's redemption at once says in which member change."""
    checkout = terminal.checkout()
    checkout.identify(member_number(2))
    checkout.add("P000001", 2)
    checkout.redeem(100)
    sale = checkout.complete()
    member = sale.member_no
    assert member is not None and sale.points_redeemed == 100 and sale.points_earned > 0
    base = terminal.db["members"].get(member)["points_base"]
    outbox.record_answers(
        terminal.db, [Answer(sale.sale_id, member, Outcome.HELD, 77, "held: no")], "now"
    )
    kinds = dict(
        terminal.db.execute(
            "SELECT kind, state || ':' || COALESCE(change_seq, '') FROM points_ledger "
            "WHERE sale_id = ?",
            [sale.sale_id],
        ).fetchall()
    )
    assert kinds == {"earn": "held:", "redeem": "confirmed:77"}
    # the debit counts until a delta past 77 brings it in points_base; the credit is held
    assert points_balance(terminal.db, member) == base - 100
    assert outbox.outbox_counts(terminal.db).held == 1

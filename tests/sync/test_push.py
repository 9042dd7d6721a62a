"""The outbox relay against a scripted server (the real server: test_end_to_end.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clubcore.errors import ProtocolError, ServerUnreachableError, TerminalRevokedError
from offline_store.members import points_balance
from offline_store.settings import put_settings
from sync.http import SyncClient
from sync.push import outbox_counts, push_outbox
from terminal.bootstrap import Terminal
from terminal.demo_data import member_number
from tests.sync.conftest import FAST
from tests.sync.scripted import Reply, Request, ScriptedServer, json_reply

Serve = Callable[..., ScriptedServer]


def ring_up(terminal: Terminal, count: int, member: bool = True) -> list[str]:
    put_settings(terminal.db, {"terminal_id": "T1", "store_id": "S1"})
    ids = []
    for i in range(count):
        checkout = terminal.checkout()
        if member:
            checkout.identify(member_number(i))
        checkout.add("P000001", 2)
        ids.append(checkout.complete().sale_id)
    return ids


def answering(statuses: dict[str, str]) -> Callable[[Request], Reply]:
    """Answer each sale with statuses[sale_id] (default created), change_seq 1000+n."""

    def route(request: Request) -> Reply:
        sales = request.json()["sales"]
        results: list[dict[str, Any]] = []
        for n, sale in enumerate(sales):
            status = statuses.get(sale["sale_id"], "created")
            result: dict[str, Any] = {"sale_id": sale["sale_id"], "status": status}
            if status in ("created", "duplicate"):
                result["change_seq"] = 1000 + n if sale["member_no"] else None
            else:
                result["error"] = f"{status} by the test"
            results.append(result)
        return json_reply({"results": results})

    return route


def push(terminal: Terminal, url: str, **options: Any) -> Any:
    return push_outbox(
        SyncClient(url, policy=FAST), terminal.db, terminal_id="T1", store_id="S1", **options
    )


def test_created_and_duplicates_are_marked_sent_and_their_points_confirmed(
    terminal: Terminal, serve: Serve
) -> None:
    ids = ring_up(terminal, 3)
    server = serve(answering({ids[1]: "duplicate"}))
    result = push(terminal, server.url)
    assert (result.created, result.duplicate, result.refused, result.batches) == (2, 1, 0, 1)
    assert outbox_counts(terminal.db) == (0, 0, 0)
    ledger = list(terminal.db.query("SELECT state, change_seq FROM points_ledger"))
    assert ledger and all(e["state"] == "confirmed" and e["change_seq"] >= 1000 for e in ledger)
    assert [s["sale_id"] for s in server.requests[0].json()["sales"]] == ids
    assert push(terminal, server.url).batches == 0  # nothing left to send
    assert len(server.requests) == 1


def test_conflicts_and_rejections_are_kept_aside_and_never_retried(
    terminal: Terminal, serve: Serve
) -> None:
    ids = ring_up(terminal, 3)
    members = [member_number(i) for i in range(3)]
    before = [points_balance(terminal.db, m) for m in members]
    server = serve(answering({ids[0]: "conflict", ids[2]: "rejected"}))
    result = push(terminal, server.url)
    assert (result.created, result.refused) == (1, 2)
    assert outbox_counts(terminal.db) == (0, 2, 0)
    row = terminal.db.execute(
        "SELECT refused_at, last_error, sent_at FROM outbox WHERE idempotency_key = ?", [ids[0]]
    ).fetchone()
    assert row[0] and row[1] == "conflict: conflict by the test" and row[2] is None
    states = dict(terminal.db.execute("SELECT sale_id, state FROM points_ledger").fetchall())
    assert states == {ids[0]: "refused", ids[1]: "confirmed", ids[2]: "refused"}
    after = [points_balance(terminal.db, m) for m in members]
    base = [
        terminal.db.execute("SELECT points_base FROM members WHERE member_no = ?", [m]).fetchone()[
            0
        ]
        for m in members
    ]
    # the refused sales' points are no longer counted; the created one's still are
    assert before[0] > base[0] and before[2] > base[2]
    assert after[0] == base[0] and after[2] == base[2]
    assert after[1] == before[1] > base[1]
    push(terminal, server.url)
    assert len(server.requests) == 1


def test_held_sales_are_sent_held_with_the_reason_and_never_retried(
    terminal: Terminal, serve: Serve
) -> None:
    ids = ring_up(terminal, 3)
    members = [member_number(i) for i in range(3)]
    base = [terminal.db["members"].get(m)["points_base"] for m in members]
    server = serve(answering({ids[0]: "held", ids[2]: "held"}))
    result = push(terminal, server.url)
    assert (result.created, result.held, result.refused, result.batches) == (1, 2, 0, 1)
    assert outbox_counts(terminal.db) == (0, 0, 2)
    row = terminal.db.execute(
        "SELECT sent_at, held, refused_at FROM outbox WHERE idempotency_key = ?", [ids[0]]
    ).fetchone()
    assert row[0] and row[1] == "held by the test" and row[2] is None
    states = dict(terminal.db.execute("SELECT sale_id, state FROM points_ledger").fetchall())
    assert states == {ids[0]: "held", ids[1]: "confirmed", ids[2]: "held"}
    assert points_balance(terminal.db, members[0]) == base[0]  # held: not counted
    assert points_balance(terminal.db, members[1]) > base[1]  # confirmed, not yet pulled
    assert push(terminal, server.url).batches == 0
    assert len(server.requests) == 1


def test_a_whole_request_failure_counts_an_attempt_and_keeps_everything(
    terminal: Terminal, serve: Serve
) -> None:
    ring_up(terminal, 2)
    server = serve(lambda r: json_reply({"error": "db", "message": "database down"}, 503))
    with pytest.raises(ServerUnreachableError):
        push(terminal, server.url)
    rows = list(terminal.db.query("SELECT attempts, last_error, sent_at FROM outbox"))
    assert all(r["attempts"] == 1 and "database down" in r["last_error"] for r in rows)
    assert all(r["sent_at"] is None for r in rows)
    assert outbox_counts(terminal.db) == (2, 0, 0)


def test_revoked_and_malformed_answers_fail_the_batch(terminal: Terminal, serve: Serve) -> None:
    ring_up(terminal, 2)
    revoked = serve(lambda r: json_reply({"error": "terminal-revoked", "message": "gone"}, 403))
    with pytest.raises(TerminalRevokedError):
        push(terminal, revoked.url)
    short = serve(lambda r: json_reply({"results": []}))
    with pytest.raises(ProtocolError, match="every sale"):
        push(terminal, short.url)
    assert outbox_counts(terminal.db) == (2, 0, 0)
    assert {r["attempts"] for r in terminal.db.query("SELECT attempts FROM outbox")} == {2}


def test_batches_and_entries_of_another_terminal(terminal: Terminal, serve: Serve) -> None:
    ids = ring_up(terminal, 7, member=False)
    put_settings(terminal.db, {"terminal_id": "T-old"})
    checkout = terminal.checkout()
    checkout.add("P000002")
    foreign = checkout.complete().sale_id
    server = serve(answering({}))
    result = push(terminal, server.url, batch_size=3)
    assert (result.created, result.refused, result.batches) == (7, 1, 3)
    sent = [s["sale_id"] for r in server.requests for s in r.json()["sales"]]
    assert sent == ids
    error = terminal.db.execute(
        "SELECT last_error FROM outbox WHERE idempotency_key = ?", [foreign]
    ).fetchone()[0]
    assert "not sent: recorded by terminal T-old" in error


@pytest.mark.parametrize(
    ("result", "text"),
    [
        ({"status": "created", "change_seq": True}, r"results\.0\.created\.change_seq"),
        ({"status": "created", "change_seq": "12"}, r"results\.0\.created\.change_seq"),
        ({"status": "lost"}, r"results\.0: .*tag 'lost'"),
        ({"status": "rejected"}, r"results\.0\.rejected\.error: Field required"),
        ({"status": "held"}, r"results\.0\.held\.error: Field required"),
    ],
)
def test_an_answer_that_breaks_the_wire_model_fails_the_batch(
    terminal: Terminal, serve: Serve, result: dict[str, Any], text: str
) -> None:
    [key] = ring_up(terminal, 1)
    server = serve(lambda r: json_reply({"results": [{"sale_id": key, **result}]}))
    with pytest.raises(ProtocolError, match=f"POST /v1/sales: {text}"):
        push(terminal, server.url)
    assert outbox_counts(terminal.db) == (1, 0, 0)
    assert terminal.db.execute("SELECT attempts FROM outbox").fetchone()[0] == 1

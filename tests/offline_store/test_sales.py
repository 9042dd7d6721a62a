from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clubcore.sale import Sale
from offline_store import outbox, sales
from offline_store.db import open_db
from terminal.bootstrap import Terminal
from terminal.demo_data import member_number


def counts(terminal: Terminal) -> tuple[int, int, int, int]:
    db = terminal.db
    return (
        db["sales"].count,
        db["sale_lines"].count,
        db["points_ledger"].count,
        db["outbox"].count,
    )


def test_an_exception_before_commit_leaves_nothing(
    terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(sale: Sale) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(sales, "before_commit", fail)
    checkout = terminal.checkout()
    checkout.identify(member_number(2))
    checkout.add("P000001", 2)
    with pytest.raises(RuntimeError, match="power cut"):
        checkout.complete()
    assert counts(terminal) == (0, 0, 0, 0)
    assert checkout.state.quantities == {"P000001": 2}  # the cashier can try again


def test_a_duplicate_sale_id_writes_nothing(terminal: Terminal) -> None:
    checkout = terminal.checkout()
    checkout.add("P000001")
    sale = checkout.complete()
    before = counts(terminal)
    with pytest.raises(Exception, match="UNIQUE"):
        sales.record_sale(terminal.db, sale)
    assert counts(terminal) == before


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from offline_store import sales
    from terminal.bootstrap import bootstrap
    from terminal.demo_data import member_number

    terminal = bootstrap(sys.argv[1])
    checkout = terminal.checkout()
    checkout.identify(member_number(2))
    checkout.add("P000001", 2)
    checkout.redeem(100)
    done = checkout.complete()            # one sale fully committed
    print(done.sale_id, flush=True)
    sales.before_commit = lambda sale: os.kill(os.getpid(), signal.SIGKILL)
    checkout.add("P000002")
    checkout.complete()                   # killed inside the transaction
    print("not reached", flush=True)
    """
)


def test_kill_9_inside_the_transaction_keeps_committed_and_loses_uncommitted(
    terminal: Terminal,
) -> None:
    data_dir = terminal.data_dir
    terminal.close()
    result = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    committed = result.stdout.split()[0]
    assert "not reached" not in result.stdout
    db = open_db(Path(data_dir) / "terminal.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [r["sale_id"] for r in db["sales"].rows] == [committed]
    assert [e.idempotency_key for e in outbox.next_batch(db)] == [committed]
    assert db.execute("SELECT COUNT(DISTINCT sale_id) FROM points_ledger").fetchone()[0] == 1
    assert db["sale_lines"].count == 1
    db.close()


def test_refused_outbox_entries_are_neither_pending_nor_sent(terminal: Terminal) -> None:
    outbox_counts, pending_count = outbox.outbox_counts, outbox.pending_count
    for _ in range(3):
        checkout = terminal.checkout()
        checkout.add("P000001")
        checkout.complete()
    assert outbox_counts(terminal.db) == (3, 0, 0) and pending_count(terminal.db) == 3
    key = terminal.db.execute("SELECT idempotency_key FROM outbox LIMIT 1").fetchone()[0]
    terminal.db.execute("UPDATE outbox SET refused_at = 'x' WHERE idempotency_key = ?", [key])
    assert outbox_counts(terminal.db) == (2, 1, 0) and pending_count(terminal.db) == 2

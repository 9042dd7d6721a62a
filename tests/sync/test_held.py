"""Sales the club holds for review (``held``), end to end against the real club server.

A sale over one of the club's points limits is stored by the club, answered
``held`` and its points parked in the suspense account (``club_server.sales``,
``club_server.suspense``). On the lane (``offline_store.outbox``) the entry is
sent and never pushed again, its ledger entries are ``held`` and not in the
member's balance, and the status counts it; once the operator releases the
points (``club-server suspense release``) the next pull brings them in as the
member's balance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from club_server.cli import cli as server_cli
from offline_store.members import points_balance
from sync import open_client, provision, pull_changes, push_now
from sync.push import outbox_counts
from terminal.bootstrap import Terminal, bootstrap
from terminal.cli import cli as terminal_cli
from terminal.ui.status import local_status
from tests.sync.club import ClubServer, club  # noqa: F401  (the fixture)
from tests.sync.conftest import FAST

LIMITS = ("limits.points_per_sale", "limits.points_per_member_day")


@pytest.fixture
def lane(club: ClubServer, tmp_path: Path) -> Iterator[Terminal]:  # noqa: F811
    """A terminal provisioned from the club server with its own enrollment code."""
    provision(tmp_path / "lane", club.url, club.new_code(), policy=FAST)
    terminal = bootstrap(tmp_path / "lane")
    yield terminal
    terminal.close()


def ring_up(lane: Terminal, member: str, quantity: int) -> tuple[str, int]:
    """A sale of ``quantity`` of an ordinary product to ``member``: its id and points."""
    sku = lane.db.execute(
        "SELECT sku FROM products WHERE active AND NOT member_only ORDER BY list_price DESC LIMIT 1"
    ).fetchone()[0]
    checkout = lane.checkout()
    checkout.identify(member)
    checkout.add(sku, quantity)
    sale = checkout.complete()
    return sale.sale_id, sale.points_earned


def server(club: ClubServer, *args: str) -> Result:  # noqa: F811
    """``club-server ARGS --db <the club's database>``, as the operator runs it."""
    result = CliRunner().invoke(server_cli, [*args, "--db", club.database.url])
    assert result.exit_code == 0, result.output
    return result


def server_balance(club: ClubServer, member: str) -> int:  # noqa: F811
    return int(club.scalar("SELECT points_balance FROM members WHERE member_no = :m", m=member))


@pytest.mark.parametrize("limit", LIMITS)
def test_a_sale_over_a_points_limit_is_held_then_released_by_the_operator(
    club: ClubServer,  # noqa: F811
    lane: Terminal,
    limit: str,
) -> None:
    # a member of its own per case: the day limit counts what the member earned today
    member = lane.db.execute(
        "SELECT member_no FROM members WHERE status = 'active' ORDER BY member_no LIMIT 1 OFFSET ?",
        [LIMITS.index(limit)],
    ).fetchone()[0]
    base = points_balance(lane.db, member)
    assert base == server_balance(club, member)
    small_id, small = ring_up(lane, member, 1)
    big_id, big = ring_up(lane, member, 40)
    assert 0 < small < big
    club.change_settings({limit: str(small)})  # the small sale fits, the big one does not
    try:
        with open_client(lane.db, lane.data_dir, policy=FAST) as client:
            pushed = push_now(client, lane.db)
            assert (pushed.created, pushed.held, pushed.refused) == (1, 1, 0)
            assert push_now(client, lane.db).batches == 0  # held: never pushed again
            pull_changes(client, lane.db)
            assert_held(club, lane, member, big_id, small_id, base + small)
            release(club, member, big_id, big)
            pull_changes(client, lane.db)
    finally:
        club.change_settings({limit: "0"})
    # released: the member's balance on the lane now has the points, as the club's has
    assert points_balance(lane.db, member) == server_balance(club, member) == base + small + big
    assert outbox_counts(lane.db) == (0, 0, 1)  # the lane's record: the sale was held


def assert_held(
    club: ClubServer,  # noqa: F811
    lane: Terminal,
    member: str,
    held_id: str,
    created_id: str,
    balance: int,
) -> None:
    """The held sale is stored by the club, sent and held on the lane, out of the balance."""
    row = lane.db.execute(
        "SELECT sent_at, refused_at, held FROM outbox WHERE idempotency_key = ?", [held_id]
    ).fetchone()
    assert row[0] is not None and row[1] is None and "over" in row[2]
    states = dict(lane.db.execute("SELECT sale_id, state FROM points_ledger").fetchall())
    assert (states[held_id], states[created_id]) == ("held", "confirmed")
    assert club.scalar("SELECT held FROM sales WHERE sale_id = :s", s=held_id) == row[2]
    assert points_balance(lane.db, member) == server_balance(club, member) == balance
    assert outbox_counts(lane.db) == (0, 0, 1)
    assert local_status(lane.db).held == 1
    cli = CliRunner().invoke(terminal_cli, ["--data-dir", str(lane.data_dir), "status", "--json"])
    assert cli.exit_code == 0, cli.output
    info = json.loads(cli.stdout)
    assert (info["outbox_pending"], info["outbox_refused"], info["outbox_held"]) == (0, 0, 1)


def release(club: ClubServer, member: str, sale_id: str, points: int) -> None:  # noqa: F811
    """The operator lists the member's suspense entries and releases the held sale's."""
    entries = json.loads(server(club, "suspense", "list", "--member", member, "--json").stdout)
    mine = [e for e in entries if e["sale_id"] == sale_id]
    assert [(e["kind"], e["points"]) for e in mine] == [("earn", points)]
    released = server(club, "suspense", "release", *(str(e["entry_id"]) for e in mine))
    assert "released 1 entry" in released.stdout

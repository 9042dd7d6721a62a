"""Tiers follow 12-month spend as sales arrive; the club's own tiers stay; recompute."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import select, update

from club_server.cli import cli
from club_server.db import Database
from club_server.schema import members, tiers
from tests.club_server.conftest import Lane, make_sale, push


def member_row(db: Database, member_no: str) -> tuple[str, int]:
    with db.reading() as conn:
        row = conn.execute(
            select(members.c.tier, members.c.spend_12m).where(members.c.member_no == member_no)
        ).one()
    return row.tier, row.spend_12m


def set_member(db: Database, member_no: str, tier: str, spend: int) -> None:
    with db.writing() as conn:
        conn.execute(
            update(members)
            .where(members.c.member_no == member_no)
            .values(tier=tier, spend_12m=spend)
        )


def silver_threshold(db: Database) -> int:
    with db.reading() as conn:
        return int(conn.execute(select(tiers.c.min_spend).where(tiers.c.code == "silver")).scalar())


def some_member(db: Database) -> str:
    with db.reading() as conn:
        return str(conn.execute(select(members.c.member_no).limit(1)).scalar())


def test_a_sale_that_crosses_a_threshold_upgrades_and_a_void_downgrades(
    client: Any, lane: Lane, demo: Database
) -> None:
    member = some_member(demo)
    threshold = silver_threshold(demo)
    set_member(demo, member, "basic", threshold - 50_000)
    sale = make_sale(lane, member_no=member, total=100_000)
    [result] = push(client, lane, sale)
    assert member_row(demo, member) == ("silver", threshold + 50_000)
    change = client.get(
        "/v1/changes", params={"after": result["change_seq"] - 1, "limit": 1}, headers=lane.headers
    ).json()["changes"][0]
    assert change["key"] == member and change["row"][2] == "silver"  # the lane learns the tier
    void = make_sale(
        lane, member_no=member, total=-100_000, kind="void", earned=-10, ref_sale_id=sale["sale_id"]
    )
    push(client, lane, void)
    assert member_row(demo, member) == ("basic", threshold - 50_000)


def test_club_assigned_tiers_are_kept(client: Any, lane: Lane, demo: Database) -> None:
    member = some_member(demo)
    set_member(demo, member, "vip", 0)
    push(client, lane, make_sale(lane, member_no=member, total=10_000))
    assert member_row(demo, member) == ("vip", 10_000)


def test_recompute_after_thresholds_change_and_rolling(demo: Database, db_url: str) -> None:
    member = some_member(demo)
    set_member(demo, member, "basic", 5_000_000)
    with demo.writing() as conn:
        conn.execute(update(tiers).where(tiers.c.code == "silver").values(min_spend=1_000_000))
    runner = CliRunner()
    result = runner.invoke(cli, ["tiers", "recompute", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    assert '"tiers_changed"' in result.output
    assert member_row(demo, member) == ("silver", 5_000_000)
    rolling = runner.invoke(cli, ["tiers", "recompute", "--rolling", "--db", db_url])
    assert rolling.exit_code == 0, rolling.output
    assert member_row(demo, member) == ("basic", 0)  # no sales on the server in the last year

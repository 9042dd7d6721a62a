"""The back office's services through ``club-server`` commands, on SQLite and PostgreSQL:
each change lands, is audited, reaches the change log and (for pricing) a new rule set."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from club_server.changes import current_cursor, read_changes
from club_server.cli import cli
from club_server.db import Database
from club_server.rulesets import current_snapshot
from club_server.schema import cards, members, points_ledger


@pytest.fixture
def run(demo: Database) -> Any:
    def invoke(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(cli, [*args, "--db", demo.url])
        assert (result.exit_code == 0) == ok, result.output
        return result

    return invoke


def _deltas(database: Database, after: int) -> dict[tuple[str, str], str]:
    with database.reading() as conn:
        page = read_changes(conn, after, 10_000)
    return {(c["entity"], c["key"]): c["op"] for c in page["changes"]}


def _version(database: Database) -> int:
    with database.reading() as conn:
        return current_snapshot(conn).version


def test_catalog_changes_are_audited_logged_and_priced(run: Any, demo: Database) -> None:
    with demo.reading() as conn:
        start = current_cursor(conn)
    version = _version(demo)
    run("category", "set", "spices", "--name", "Spices", "--translation", "fa=ادویه")
    run(
        "product",
        "set",
        "SAF1",
        "--name",
        "Saffron",
        "--translation",
        "fa=زعفران",
        "--category",
        "spices",
        "--price",
        "900000",
        "--barcode",
        "4006381333931",
        "--barcode",
        "۷۳۵۱۳۵۳۷",
    )
    shown = json.loads(run("product", "show", "SAF1", "--json").output)
    assert shown["barcodes"] == ["4006381333931", "73513537"] and shown["names"]["fa"] == "زعفران"
    bad = run(
        "product",
        "set",
        "SAF2",
        "--name",
        "x",
        "--category",
        "spices",
        "--price",
        "1",
        "--barcode",
        "4006381333932",
        ok=False,
    )
    assert "check digit" in bad.output
    taken = run(
        "product",
        "set",
        "SAF2",
        "--name",
        "x",
        "--category",
        "spices",
        "--price",
        "1",
        "--barcode",
        "4006381333931",
        ok=False,
    )
    assert "belongs to SAF1" in taken.output
    assert "above the list price" in run("price", "set", "SAF1", "gold", "950000", ok=False).output
    run("price", "set", "SAF1", "gold", "800000")
    run("discount", "set", "spices", "silver", "500")
    run(
        "offer",
        "set",
        "GOLD-SAF",
        "--title",
        "Gold saffron",
        "--fa-title",
        "زعفران طلایی",
        "--percent-bp",
        "1000",
        "--sku",
        "SAF1",
        "--tier",
        "gold",
    )
    assert (
        "ends before it starts"
        in run(
            "offer",
            "set",
            "X",
            "--title",
            "x",
            "--percent-bp",
            "1",
            "--starts",
            "2027-01-02",
            "--ends",
            "2027-01-01",
            ok=False,
        ).output
    )
    snapshot = current_snapshot_of(demo)
    assert snapshot.version > version
    assert snapshot.products["SAF1"].member_prices["gold"] == 800_000
    assert snapshot.products["SAF1"].category_discounts_bp["silver"] == 500
    assert any(o.offer_id == "GOLD-SAF" and o.target_tier == "gold" for o in snapshot.offers)
    deltas = _deltas(demo, start)
    for key in (
        ("categories", "spices"),
        ("products", "SAF1"),
        ("member_prices", "SAF1|gold"),
        ("category_discounts", "spices|silver"),
        ("offers", "GOLD-SAF"),
    ):
        assert deltas[key] == "upsert", key
    run("offer", "disable", "GOLD-SAF")
    assert _deltas(demo, start)[("offers", "GOLD-SAF")] == "delete"
    assert all(o.offer_id != "GOLD-SAF" for o in current_snapshot_of(demo).offers)
    audit = json.loads(run("audit", "--json").output)
    done = [(e["entity"], e["key"], e["action"]) for e in audit]
    assert ("products", "SAF1", "create") in done and ("offers", "GOLD-SAF", "disable") in done
    price = next(e for e in audit if e["entity"] == "member_prices")
    assert price["before"] is None and price["after"]["price"] == 800_000
    assert all(e["actor"].startswith("cli:") for e in audit)


def current_snapshot_of(database: Database) -> Any:
    with database.reading() as conn:
        return current_snapshot(conn)


def test_retiring_a_tier_moves_members_and_leaves_the_wire(run: Any, demo: Database) -> None:
    with demo.reading() as conn:
        start = current_cursor(conn)
        silver = conn.execute(select(members.c.member_no).where(members.c.tier == "silver")).all()
    assert silver
    done = json.loads(run("tiers", "retire", "silver", "--move-to", "basic", "--json").output)
    assert done["members_moved"] == len(silver)
    deltas = _deltas(demo, start)
    assert deltas[("tiers", "silver")] == "delete"
    assert deltas[("members", silver[0][0])] == "upsert"
    assert "silver" not in current_snapshot_of(demo).rules.tiers
    assert all("silver" not in p.member_prices for p in current_snapshot_of(demo).products.values())
    assert "retired" in run("member", "add", "--name", "x", "--tier", "silver", ok=False).output
    run("tiers", "set", "diamond", "--name", "Diamond", "--rank", "9", "--min-spend", "99999999")
    assert "diamond" in current_snapshot_of(demo).rules.tiers


def test_one_phone_one_member_and_a_merge_moves_everything(run: Any, demo: Database) -> None:
    first = run("member", "add", "--name", "Sara", "--phone", "09121234567").output.strip()
    refused = run("member", "add", "--name", "Sara 2", "--phone", "+98 912 123 4567", ok=False)
    assert "belongs to member" in refused.output
    second = run("member", "add", "--name", "Sara K").output.strip()
    assert (
        "belongs to member"
        in run("member", "update", second, "--phone", "9121234567", ok=False).output
    )
    found = json.loads(run("member", "search", "۰۹۱۲۱۲۳۴۵۶۷", "--json").output)
    assert [m["member_no"] for m in found] == [first]
    run("member", "update", second, "--name", "Sara Karimi", "--segments", "family,student")
    with demo.writing() as conn:
        conn.execute(
            points_ledger.insert().values(
                member_no=second, kind="adjust", points=70, created_at="2026-11-01T00:00:00+00:00"
            )
        )
        conn.execute(
            cards.insert().values(
                serial="C-M1", member_no=second, kind="uid", updated_at="2026-11-01T00:00:00+00:00"
            )
        )
        start = current_cursor(conn)
    merged = json.loads(run("member", "merge", first, second, "--json").output)
    assert merged["points_balance"] == 70
    with demo.reading() as conn:
        assert (
            conn.execute(select(cards.c.member_no).where(cards.c.serial == "C-M1")).scalar()
            == first
        )
        gone = conn.execute(select(members).where(members.c.member_no == second)).one()
    assert (gone.status, gone.merged_into) == ("merged", first)
    assert _deltas(demo, start)[("cards", "C-M1")] == "upsert"
    history = json.loads(run("member", "history", first, "--json").output)
    assert [e["action"] for e in history["changes"]][-1] == "merge"
    assert history["ledger"][0]["points"] == 70


def test_accounts_tokens_and_stores_from_the_command_line(run: Any, demo: Database) -> None:
    run("store", "add", "s2", "--name", "Karaj", "--timezone", "Asia/Tehran")
    assert (
        "unknown time zone" in run("store", "set", "s2", "--timezone", "Mars/Base", ok=False).output
    )
    run(
        "account",
        "add",
        "mani",
        "--role",
        "store_manager",
        "--store",
        "s2",
        "--password",
        "a long password",
    )
    assert (
        "at least 10"
        in run("account", "add", "x", "--role", "operator", "--password", "short", ok=False).output
    )
    run("account", "set", "mani", "--disable")
    listed = json.loads(run("account", "list", "--json").output)
    assert listed[0]["disabled_at"] is not None and listed[0]["stores"] == ["s2"]
    made = json.loads(run("token", "create", "--name", "erp", "--json").output)
    assert made["token"].startswith("ct_")
    assert made["token"] not in run("token", "list").output
    run("token", "revoke", made["token_id"])
    audit = json.loads(run("audit", "--entity", "accounts", "--json").output)
    assert audit[0]["after"]["password_hash"] == "***"

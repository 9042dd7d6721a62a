"""The real app, driven by touches under Xvfb (one process per scenario)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlite_utils

from terminal.ui.strings import EN, FA
from terminal.verifier import REASON_TEXT, RejectReason
from tests.ui.conftest import run_scenario


def test_member_sale_by_touch_reaches_the_outbox(xdisplay: str, demo_store: Path) -> None:
    result = run_scenario("member_sale", demo_store, xdisplay)
    assert result["main_thread_io"] == []  # no disk, database or network on the UI thread
    assert result["tier"] == "Gold"
    assert "toman more to Platinum" in result["progress"]
    assert not re.search(r"\d\.\d", result["progress"])  # whole toman, no rial decimals
    assert result["lines"] == 3 and result["quantities"] == [2, 1, 1]
    assert result["member_discount"] > 0  # member prices on screen
    assert result["row"][0] != result["row"][1]  # list price and member price differ
    assert result["points_redeemed"] > 0
    assert result["after_lines"] == 0
    db = sqlite_utils.Database(demo_store / "terminal.db")
    entries = list(db.query("SELECT kind, payload FROM outbox WHERE sent_at IS NULL"))
    assert len(entries) == 1
    sale = json.loads(entries[0]["payload"])
    assert sale["points_redeemed"] == result["points_redeemed"]
    assert sale["total"] == result["total"]
    assert sale["tender"] == "card" and sale["tier"] == "gold"


@pytest.mark.parametrize(("size", "compact"), [("800x480", True), ("1920x1080", False)])
def test_member_sale_by_touch_at_the_smallest_and_largest_screens(
    xdisplay: str, demo_store: Path, size: str, compact: bool
) -> None:
    result = run_scenario("member_sale", demo_store, xdisplay, size=size)
    assert result["window"] == [int(n) for n in size.split("x")]
    assert result["compact"] is compact
    assert result["tier"] == "Gold" and result["lines"] == 3
    assert result["member_discount"] > 0 and result["points_redeemed"] > 0
    assert result["after_lines"] == 0  # the sale completed by touch


def test_the_io_watch_sees_io_on_the_ui_thread(xdisplay: str, demo_store: Path) -> None:
    seen = run_scenario("main_thread_io_is_seen", demo_store, xdisplay)["main_thread_io"]
    assert any(s.startswith("sqlite3.connect") for s in seen), seen
    assert any(s.startswith("execute SELECT 1") for s in seen), seen
    assert any(s.startswith("open ") and s.endswith("note.txt") for s in seen), seen


def test_refused_cards_say_why(xdisplay: str, demo_store: Path) -> None:
    result = run_scenario("refused_card", demo_store, xdisplay)
    assert result["expired"] == list(REASON_TEXT[RejectReason.EXPIRED])
    assert result["forged"] == list(REASON_TEXT[RejectReason.FORGED])
    assert result["member"] is None


def test_manager_pin_wrong_then_right(xdisplay: str, demo_store: Path) -> None:
    result = run_scenario("manager_pin", demo_store, xdisplay)
    assert result["note"] == "Wrong PIN, try again"
    assert result["screen_after_wrong"] == "checkout"
    assert result["screen"] == "manager"
    assert "this lane" in str(result["scope"]).lower()


def test_language_switch_mirrors_and_shapes(xdisplay: str, demo_store: Path) -> None:
    result = run_scenario("language_switch", demo_store, xdisplay)
    assert result["en_title"] == "Club Terminal" and result["en_title_left_of_button"]
    assert result["fa_title_logical"] == "پایانه باشگاه مشتریان"
    assert result["fa_title_drawn"] != result["fa_title_logical"]  # shaped and reordered
    assert result["fa_title_right_of_button"] and result["fa_halign"] == "right"
    assert any("۰" <= ch <= "۹" for ch in str(result["fa_points"]))
    assert result["fa_tier"] == "نقره‌ای"
    assert result["fa_grid"] == "rl-tb"  # product grid fills from the right
    assert result["back_title"] == "Club Terminal"
    # offers in the member's language: the club's Persian words, not the English ones
    assert "Weekend extra" in result["en_offers"]
    assert "جایزه آخر هفته" in result["fa_offers"] and "Weekend" not in result["fa_offers"]
    name_logical, name_drawn = result["fa_name"]
    assert name_logical == name_drawn  # a Latin name is not reordered in Persian
    assert float(str(result["ready_after"])) < 3


def test_manager_voids_and_refunds_by_touch(xdisplay: str, demo_store: Path) -> None:
    result = run_scenario("manager_returns", demo_store, xdisplay)
    assert result["main_thread_io"] == []
    member_sale_id, cash_sale_id = result["sales"]
    assert result["void_button_after"] is True  # a voided sale cannot be voided again
    assert result["wrong_pin_note"] == "Wrong PIN, try again"
    assert result["kinds"] == ["refund", "sale", "sale", "void"]
    db = sqlite_utils.Database(demo_store / "terminal.db")
    records = {
        row["kind"]: row
        for row in db.query("SELECT kind, ref_sale_id, total FROM sales WHERE kind != 'sale'")
    }
    assert records["void"]["ref_sale_id"] == cash_sale_id
    assert records["refund"]["ref_sale_id"] == member_sale_id
    cash_total = db.execute("SELECT total FROM sales WHERE sale_id = ?", [cash_sale_id]).fetchone()
    assert records["void"]["total"] == -cash_total[0]
    assert 0 > records["refund"]["total"] > -result["total"]  # one line of the member sale
    outbox = [json.loads(row[0])["kind"] for row in db.execute("SELECT payload FROM outbox")]
    assert sorted(outbox) == ["refund", "sale", "sale", "void"]  # all four go to the server


def test_technician_test_read_names_the_card_and_sells_nothing(
    xdisplay: str, demo_store: Path
) -> None:
    result = run_scenario("technician_test_read", demo_store, xdisplay)
    assert result["main_thread_io"] == []
    assert result["screen"] == "technician"
    assert result["waiting_platinum"] == EN["tech.test_waiting"]
    assert result["platinum"].startswith("sim:") and "accepted: member" in result["platinum"]
    assert "signed" in result["platinum"]  # the demo cards are signed, not UID-only
    assert result["revoked"].endswith(REASON_TEXT[RejectReason.REVOKED][0])
    assert result["member_after"] is None  # a test read identifies no customer
    assert result["after_language"] == ["technician", FA["tech.test_read"]]
    db = sqlite_utils.Database(demo_store / "terminal.db")
    assert db.execute("SELECT count(*) FROM sales").fetchone()[0] == 0


def test_demo_session_sale_reaches_the_embedded_club_server(xdisplay: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    result = run_scenario("synced_sale", data_dir, xdisplay, timeout=150)
    assert result["online"] is True and result["points_redeemed"] > 0
    assert "Online" in str(result["status_bar"]), result["status_bar"]
    assert "Whole store" in str(result["manager_scope"])  # the server's report, online
    assert result["manager_sales"] == "1"
    lane = sqlite_utils.Database(data_dir / "terminal.db")
    (sale,) = list(lane.query("SELECT idempotency_key, payload, sent_at FROM outbox"))
    assert sale["sent_at"] is not None
    server = sqlite_utils.Database(data_dir / "club-server" / "club-server.db")
    rows = list(server.query("SELECT sale_id, total, points_redeemed FROM sales"))
    assert [(r["sale_id"], r["total"]) for r in rows] == [
        (sale["idempotency_key"], json.loads(sale["payload"])["total"])
    ]
    ledger = list(
        server.query(
            "SELECT points FROM points_ledger WHERE sale_id = ?", [sale["idempotency_key"]]
        )
    )
    assert sorted(r["points"] for r in ledger)[0] == -result["points_redeemed"]

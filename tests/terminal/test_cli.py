from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import sqlite_utils
from click.testing import CliRunner, Result

from offline_store import outbox
from terminal.cli import cli
from terminal.demo_data import member_number

MEMBER = member_number(0)


def run(data_dir: Path, *args: str, input: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, ["--data-dir", str(data_dir), *args], obj={}, input=input)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    result = run(data_dir, "demo-data", "--members", "300", "--products", "150")
    assert result.exit_code == 0, result.output
    assert "300 members" in result.output
    return data_dir


def sale_count(data_dir: Path) -> int:
    result = run(data_dir, "status", "--json")
    return int(json.loads(result.stdout)["sales"])


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()

    def walk(group: click.Group, prefix: str) -> list[str]:
        names = []
        for name, command in group.commands.items():
            full = f"{prefix} {name}".strip()
            assert command.help, f"{full} has no help"
            names.append(full)
            if isinstance(command, click.Group):
                names += walk(command, full)
        return names

    for name in walk(cli, ""):
        result = CliRunner().invoke(cli, [*name.split(), "--help"], obj={})
        assert result.exit_code == 0 and "Usage:" in result.output, name
        assert f"club-terminal {name}" in readme or f"`{name}`" in readme, f"{name} not in README"


def test_member_sale_json_shows_member_pricing(seeded: Path) -> None:
    result = run(
        seeded,
        "sale",
        "--member",
        MEMBER,
        "--item",
        "P000001:2",
        "--item",
        "P000005",
        "--redeem",
        "200",
        "--tender",
        "card",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sale = data["sale"]
    assert sale["member_no"] == MEMBER and sale["tender"] == "card"
    lines = {line["sku"]: line for line in sale["lines"]}
    assert lines["P000001"]["quantity"] == 2
    assert lines["P000001"]["unit_price"] < lines["P000001"]["list_unit"]
    assert lines["P000005"]["offer_id"] == "BDAY-0"  # the member's birthday offer on bakery
    assert sale["points_redeemed"] == 200 and sale["points_discount"] == 20_000
    assert sale["total"] == sum(ln["unit_price"] * ln["quantity"] for ln in sale["lines"]) - 20_000
    assert sale["rules_version"] == 1
    assert isinstance(data["points_balance"], int)


def test_non_member_receipt_and_daily_report(seeded: Path) -> None:
    receipt = run(seeded, "sale", "--item", "P000001")
    assert receipt.exit_code == 0, receipt.output
    assert "non-member: list prices" in receipt.output and "TOTAL" in receipt.output
    report = run(seeded, "report", "daily", "--format", "json")
    data = json.loads(report.stdout)
    assert data["sales_count"] >= 1 and data["scope"] == "lane"
    table = run(seeded, "report", "daily")
    assert "Daily member sales" in table.output and "By tier" in table.output
    rows = list(
        csv.DictReader(io.StringIO(run(seeded, "report", "daily", "--format", "csv").stdout))
    )
    summary = {r["field"]: r["value"] for r in rows if r["section"] == "summary"}
    assert int(summary["sales_count"]) == data["sales_count"]


PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.mark.parametrize(
    ("args", "method"),
    [
        (["--member", MEMBER.translate(PERSIAN)], "number"),
        (["--member", f"00{MEMBER[:3]} {MEMBER[3:]}"], "number"),
        (["--phone", "۰۹۱۲۰۰۰۰۰۰۰"], "phone"),  # member 0's phone is +98912 and its index
        (["--phone", "98 912 000 0000"], "phone"),
    ],
)
def test_members_are_found_in_any_script_and_form(
    seeded: Path, args: list[str], method: str
) -> None:
    result = run(seeded, "sale", *args, "--item", "P000001", "--json")
    assert result.exit_code == 0, result.output
    sale = json.loads(result.stdout)["sale"]
    assert (sale["member_no"], sale["id_method"]) == (MEMBER, method)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--item", "NOPE"], "no product with code 'NOPE'"),
        (["--item", "P000001:0"], "quantity must be between 1"),
        (["--item", "P000001:-2"], "quantity must be between 1"),
        (["--item", "P000001:two"], "is not a whole number"),
        (["--item", ":3"], "expected SKU or SKU:QTY"),
        (["--member", "42", "--item", "P000001"], "no member with number 42"),
        (["--member", MEMBER, "--item", "P000001", "--redeem", "999999"], "points"),
        (["--item", "P000001", "--redeem", "10"], "identify the member"),
        (["--item", "P000013"], "for club members only"),
        (["--member", MEMBER, "--phone", "09121234567", "--item", "P000001"], "not both"),
        (["--phone", "12345", "--item", "P000001"], "not an Iranian mobile"),
    ],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(
    seeded: Path, args: list[str], message: str
) -> None:
    before = sale_count(seeded)
    result = run(seeded, "sale", *args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert sale_count(seeded) == before


def test_sale_by_phone(seeded: Path) -> None:
    result = run(seeded, "sale", "--phone", "0912 000 0003", "--item", "P000002", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sale"]["member_no"] == member_number(3)


def test_void_and_refund_need_the_manager_pin(seeded: Path) -> None:
    sale = json.loads(
        run(seeded, "sale", "--member", MEMBER, "--item", "P000001:3", "--json").stdout
    )["sale"]
    wrong = run(seeded, "refund", sale["sale_id"], "--line", "1:1", "--pin", "9999")
    assert wrong.exit_code == 1 and "wrong manager PIN" in wrong.stderr
    refund = run(seeded, "refund", sale["sale_id"], "--line", "1:1", "--json", input="1234\n")
    assert refund.exit_code == 0, refund.output
    assert json.loads(refund.stdout)["sale"]["kind"] == "refund"
    void = run(seeded, "void", sale["sale_id"], "--pin", "1234")
    assert void.exit_code == 1 and "has refunds" in void.stderr


def test_commands_on_an_empty_terminal_say_what_to_do(tmp_path: Path) -> None:
    result = run(tmp_path / "empty", "sale", "--item", "P000001")
    assert result.exit_code == 1
    assert "holds no store data yet" in result.stderr and "demo-data" in result.stderr


def test_demo_data_refuses_to_overwrite(seeded: Path) -> None:
    result = run(seeded, "demo-data")
    assert result.exit_code == 1 and "already holds data" in result.stderr


def test_the_console_script_and_the_env_variable(tmp_path: Path) -> None:
    env = {**os.environ, "CLUB_TERMINAL_DATA_DIR": str(tmp_path / "env-data")}
    command = [sys.executable, "-m", "terminal"]
    seed = subprocess.run(
        [*command, "demo-data", "--members", "50", "--products", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seed.returncode == 0, seed.stderr
    sale = subprocess.run(
        [*command, "sale", "--member", member_number(1), "--item", "P000001", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sale.returncode == 0, sale.stderr
    assert json.loads(sale.stdout)["sale"]["member_no"] == member_number(1)
    assert (tmp_path / "env-data" / "terminal.db").exists()


def test_pin_set_then_use_it_and_bad_pins_are_refused(seeded: Path) -> None:
    bad = run(seeded, "pin", "set", "m2", "--name", "Leila", "--role", "manager", "--pin", "12")
    assert bad.exit_code == 1 and "4 to 12 digits" in bad.stderr
    made = run(
        seeded, "pin", "set", "m2", "--name", "Leila", "--role", "manager", input="86420\n86420\n"
    )
    assert made.exit_code == 0, made.output
    sale = json.loads(run(seeded, "sale", "--item", "P000001", "--json").stdout)["sale"]
    void = run(seeded, "void", sale["sale_id"], "--pin", "86420", "--json")
    assert void.exit_code == 0, void.output
    assert json.loads(void.stdout)["sale"]["staff_id"] == "m2"


def test_status_counts_refused_and_held_sales_apart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    few = run(data_dir, "demo-data", "--members", "4", "--products", "60")
    assert few.exit_code == 1 and "--members: at least 5" in few.stderr
    assert not (data_dir / "terminal.db").exists() or sale_count(data_dir) == 0
    assert run(data_dir, "demo-data", "--members", "5", "--products", "60").exit_code == 0
    for _ in range(3):
        assert run(data_dir, "sale", "--item", "P000001").exit_code == 0
    db = sqlite_utils.Database(data_dir / "terminal.db")
    first, second, _ = (
        row[0] for row in db.execute("SELECT idempotency_key FROM outbox ORDER BY seq")
    )
    with db.conn:
        outbox.mark_refused(db, first, None, "rejected: no", "x")
        outbox.mark_held(db, second, None, "over the limit", "x")
    db.close()
    info = json.loads(run(data_dir, "status", "--json").stdout)
    assert (info["outbox_pending"], info["outbox_refused"], info["outbox_held"]) == (1, 1, 1)
    text = run(data_dir, "status").stdout
    assert "outbox_held" in text and "outbox_refused" in text


def test_a_shift_at_the_command_line_with_change_and_a_split(seeded: Path) -> None:
    from terminal.demo_data import DEMO_CASHIER, DEMO_CASHIER_PIN

    signed = run(seeded, "shift", "sign-in", DEMO_CASHIER, "--pin", DEMO_CASHIER_PIN,
                 "--float", "1000000")  # fmt: skip
    assert signed.exit_code == 0 and "Sara Ahmadi (101, cashier)" in signed.stdout
    assert json.loads(run(seeded, "shift", "show", "--json").stdout)["staff_id"] == DEMO_CASHIER
    cash = run(seeded, "sale", "--item", "P000001", "--tendered", "10000000", "--json")
    assert cash.exit_code == 0, cash.stderr
    first = json.loads(cash.stdout)["sale"]
    assert first["cashier_id"] == "101" and first["payments"][0]["tendered"] == 10_000_000
    text = run(seeded, "sale", "--item", "P000001", "--tendered", "10000000").stdout
    assert f"SALE no. {first['sale_no'] + 1} " in text and "CHANGE" in text
    split = run(seeded, "sale", "--item", "P000001:3", "--card-amount", "100000",
                "--card-ref", "502938475610", "--json")  # fmt: skip
    sale = json.loads(split.stdout)["sale"]
    assert sale["tender"] == "split" and sale["sale_no"] == first["sale_no"] + 2
    assert sale["payments"][0] == {"tender": "card", "amount": 100_000, "tendered": None,
                                   "reference": "502938475610"}  # fmt: skip
    short = run(seeded, "sale", "--item", "P000001", "--tendered", "1")
    assert short.exit_code == 1 and "at least the amount" in short.stderr
    assert run(seeded, "shift", "sign-out").exit_code == 0
    assert "nobody is signed in" in run(seeded, "shift", "show").stdout


def test_errors_are_json_too_with_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert run(data_dir, "demo-data", "--members", "20", "--products", "20").exit_code == 0
    result = run(data_dir, "sale", "--item", "NO-SUCH-SKU", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["error"] == "refused" and error["type"] == "UnknownProductError"
    assert error["exit_status"] == 1 and "NO-SUCH-SKU" in error["message"]
    assert result.stderr.startswith("error: ")

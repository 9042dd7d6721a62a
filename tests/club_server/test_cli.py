"""The ``club-server`` command, through click's CliRunner."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from club_server.changes import current_cursor, read_changes
from club_server.cli import cli
from club_server.cli.base import opened
from clubcore.cardformat import decode_ndef, decode_text, verify_signature


@pytest.fixture
def run(tmp_path: Path) -> Any:
    db = f"sqlite:///{tmp_path / 'data' / 'club.db'}"

    def invoke(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(cli, [*args, "--db", db] if args[-1] != "--help" else args)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


def test_every_command_has_help_and_leaf_commands_take_db() -> None:
    for path in _commands(cli):
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, path
        command: click.Command = cli
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        assert command.help, path
        if not isinstance(command, click.Group):
            assert "--db" in result.output, path


def test_demo_terminal_member_card_flow(run: Any, tmp_path: Path) -> None:
    demo = json.loads(run("demo-data", "--members", "50", "--products", "60", "--json").output)
    assert demo["members"] == 50 and len(demo["cards"]) >= 3
    keys = tmp_path / "data" / "keys"
    [key_file] = keys.iterdir()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    made = json.loads(run("terminal", "add", "--store", "s1", "--name", "lane 1", "--json").output)
    assert len(made["code"]) == 14 and made["store_id"] == "s1"
    assert "revoked" in run("terminal", "revoke", made["terminal_id"]).output
    [listed] = json.loads(run("terminal", "list", "--store", "s1", "--json").output)
    assert listed["terminal_id"] == made["terminal_id"] and listed["name"] == "lane 1"
    assert listed["revoked"] and listed["sales"] == 0 and listed["last_push_at"] is None
    assert made["terminal_id"] in run("terminal", "list").output
    number = run("member", "add", "--name", "Sara K.", "--tier", "gold", "--phone",
                 "۰۹۱۲ ۱۲۳ ۴۵۶۷").output.strip()  # fmt: skip
    persian = number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    shown = json.loads(run("member", "show", persian, "--json").output)
    assert shown["tier"] == "gold" and shown["phone"] == "+989121234567"
    issued = json.loads(run("card", "issue", "--member", number, "--uid", "04a1b2c3d4e5f6",
                            "--expires", "2030-01-31", "--json").output)  # fmt: skip
    public = json.loads(run("keys", "list", "--json").output)[0]["public_key"]
    card = decode_ndef(bytes.fromhex(issued["ndef"]))
    assert card.member_no == number and card.fields.expiry.isoformat() == "2030-01-31"
    assert verify_signature(card, bytes.fromhex("04a1b2c3d4e5f6"), bytes.fromhex(public))
    assert verify_signature(decode_text(issued["qr"]), b"", bytes.fromhex(public))
    assert "revoked" in run("card", "revoke", issued["serial"], "--reason", "lost").output


def test_keys_rotate_keeps_the_old_key_for_verification(run: Any, tmp_path: Path) -> None:
    run("keys", "generate")
    assert run("keys", "generate", ok=False).exit_code == 1
    run("keys", "rotate")
    rows = json.loads(run("keys", "list", "--json").output)
    assert [(r["key_id"], r["signing"], r["retired_at"]) for r in rows] == [
        (1, 0, None), (2, 1, None)]  # fmt: skip
    run("keys", "retire", "1")
    assert json.loads(run("keys", "list", "--json").output)[0]["retired_at"]
    files = sorted((tmp_path / "data" / "keys").iterdir())
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_report_and_flags(run: Any) -> None:
    run("demo-data", "--members", "20", "--products", "10")
    report = json.loads(run("report", "daily", "--store", "demo-store", "--date", "2026-11-22",
                            "--json").output)  # fmt: skip
    assert report["scope"] == "store" and report["sales_count"] == 0
    assert json.loads(run("flags", "--json").output) == []
    assert "no open flags" in run("flags").output


def test_errors_are_one_line_and_exit_1(run: Any) -> None:
    result = run("member", "show", "123", ok=False)
    assert result.exit_code == 1 and "error: no member" in result.output
    result = run("card", "issue", "--member", "123", "--uid", "zz", ok=False)
    assert result.exit_code == 1 and "error:" in result.output
    result = CliRunner().invoke(cli, ["flags", "--db", "mysql://x/y"])
    assert result.exit_code == 1 and "unsupported database URL" in result.output


def _show(db_url: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["settings", "show", "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    return {row["key"]: row["value"] for row in json.loads(result.stdout)}


def test_settings_show_and_set(db_url: str) -> None:
    assert set(_show(db_url).values()) == {None}
    pairs = ["currency", "EUR", "points.min_redeem", "25", "velocity.window_minutes", "0"]
    result = CliRunner().invoke(cli, ["settings", "set", *pairs, "--db", db_url])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "currency: (not set) -> EUR",
        "points.min_redeem: (not set) -> 25",
        "velocity.window_minutes: (not set) -> 0",
        "rules_version: (not set) -> 1",
    ]
    shown = _show(db_url)
    assert shown["currency"] == "EUR" and shown["points.min_redeem"] == "25"
    assert shown["velocity.window_minutes"] == "0" and shown["rules_version"] == "1"
    table = CliRunner().invoke(cli, ["settings", "show", "--db", db_url]).stdout
    assert "points.min_redeem" in table and "(not set)" in table
    again = CliRunner().invoke(cli, ["settings", "set", "currency", "EUR", "--db", db_url])
    assert again.stdout == "nothing changed\n"
    with opened(db_url) as database, database.reading() as conn:
        log = read_changes(conn, 0, 100)["changes"]
    assert [(c["key"], c["row"]) for c in log] == [
        ("currency", ["currency", "EUR"]),
        ("points.min_redeem", ["points.min_redeem", "25"]),
        ("velocity.window_minutes", ["velocity.window_minutes", "0"]),
        ("rules_version", ["rules_version", "1"]),
    ]


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("nope", "1"), "nope"),
        (("phone_salt", "abcd"), "phone_salt"),
        (("points.max_redeem_bp", "12000"), "points.max_redeem_bp"),
        (("timezone", "Nowhere/Town"), "timezone"),
        (("currency", "XYZ"), "currency"),
        (("policy.redeem_uid_only", "maybe"), "policy.redeem_uid_only"),
        (("velocity.max_sales", "many"), "velocity.max_sales"),
        (("rules_version", "1"), "rules_version"),
        (("offline.max_age_hours",), "offline.max_age_hours"),
    ],
)
def test_settings_set_refuses_and_writes_nothing(
    db_url: str, args: tuple[str, ...], key: str
) -> None:
    CliRunner().invoke(cli, ["settings", "set", "rules_version", "1", "--db", db_url])
    before = _show(db_url)
    result = CliRunner().invoke(cli, ["settings", "set", "currency", "USD", *args, "--db", db_url])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines()[0].startswith(f"error: {key}: ")
    assert _show(db_url) == before
    with opened(db_url) as database, database.reading() as conn:
        assert current_cursor(conn) == 1  # the rules_version set above only


def test_flags_are_resolved_by_id_all_or_nothing(run: Any, tmp_path: Path) -> None:
    from club_server.db import open_database
    from club_server.flags import add_flag

    run("demo-data", "--members", "20", "--products", "10")
    database = open_database(f"sqlite:///{tmp_path / 'data' / 'club.db'}")
    with database.writing() as conn:
        for member in ("1000000008", "1000000016"):
            add_flag(conn, "velocity", member, "21 sales in 10 min", datetime.now(UTC))
    database.dispose()
    ids = [row["flag_id"] for row in json.loads(run("flags", "--json").output)]
    assert len(ids) == 2
    missing = run("flag", "resolve", str(ids[0]), "999", ok=False)
    assert missing.exit_code == 1 and "error: no flag 999" in missing.output
    assert len(json.loads(run("flags", "--json").output)) == 2  # nothing resolved
    assert "resolved 1 flag" in run("flag", "resolve", str(ids[0])).output
    again = run("flag", "resolve", str(ids[0]), str(ids[1]), ok=False)
    assert again.exit_code == 1 and "already resolved" in again.output
    assert [r["flag_id"] for r in json.loads(run("flags", "--json").output)] == [ids[1]]
    resolved = json.loads(run("flags", "--all", "--json").output)
    assert [r["flag_id"] for r in resolved if r["resolved_at"]] == [ids[0]]


def test_every_command_is_in_the_operators_guide_or_the_readme() -> None:
    root = Path(__file__).parents[2]
    docs = (root / "docs" / "operator-guide.md").read_text() + (root / "README.md").read_text()
    for path in _commands(cli):
        if not isinstance(cli.commands[path[0]], click.Group) or len(path) > 1:
            assert f"club-server {' '.join(path)}" in docs, path

"""The ``club-server`` command, through click's CliRunner."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from club_server.cli import cli
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
    number = run("member", "add", "--name", "Sara K.", "--tier", "gold", "--phone",
                 "0912 123 4567").output.strip()  # fmt: skip
    shown = json.loads(run("member", "show", number, "--json").output)
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

"""``club-server db upgrade|current|history`` on a real old database and on a new one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from club_server.cli import cli
from tests.club_server.fixtures import load


def db(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["db", *args])
    assert result.exit_code == code, result.output
    return result


def test_current_history_and_upgrade_of_an_old_database(db_url: str) -> None:
    load(2, db_url)
    assert "the old runner's version 2, behind head 0008" in db("current", "--db", db_url).output
    before = db("history", "--db", db_url).output.splitlines()
    assert before[1].startswith("* 0002  applied") and "0003  pending" in before[2]
    assert "applied 0003, 0004, 0005, 0006, 0007, 0008" in db("upgrade", "--db", db_url).output
    assert db("current", "--db", db_url).output == "0008 (head)\n"
    status = json.loads(db("current", "--db", db_url, "--json").output)
    assert status == {"revision": "0008", "legacy_version": 5, "head": "0008", "pending": []}
    again = json.loads(db("upgrade", "--db", db_url, "--json").output)
    assert again["applied"] == [] and again["from"] == "0008"
    history = json.loads(db("history", "--db", db_url, "--json").output)
    assert [row["revision"] for row in history if row["applied"]] == [
        "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008",
    ]  # fmt: skip


def test_current_changes_nothing_and_a_newer_database_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'club.db'}"
    assert db("current", "--db", url).output.startswith("none: an empty database")
    assert "none: an empty database" in db("current", "--db", url).output  # still empty
    db("upgrade", "--db", url)
    with sqlite3.connect(tmp_path / "club.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    assert "0099: unknown to this program" in db("current", "--db", url).output
    assert "0099: unknown to this program" in db("history", "--db", url).output
    refused = db("upgrade", "--db", url, code=1)
    assert "error: the database is at schema revision 0099" in refused.output

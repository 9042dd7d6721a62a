"""``club-server db upgrade|current|history`` on a real old database and on a new one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from club_server.cli import cli
from club_server.migrations import revisions
from tests.club_server.fixtures import load

ALL = [script.revision for script in revisions()]


def db(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["db", *args])
    assert result.exit_code == code, result.output
    return result


def test_current_history_and_upgrade_of_an_old_database(db_url: str) -> None:
    # the revisions written since the old runner's step 2, whatever the newest is now
    head, later = ALL[-1], ALL[2:]
    load(2, db_url)
    assert f"the old runner's version 2, behind head {head}" in db("current", "--db", db_url).output
    before = db("history", "--db", db_url).output.splitlines()
    assert before[1].startswith("* 0002  applied") and "0003  pending" in before[2]
    assert f"applied {', '.join(later)}" in db("upgrade", "--db", db_url).output
    assert db("current", "--db", db_url).output == f"{head} (head)\n"
    status = json.loads(db("current", "--db", db_url, "--json").output)
    assert status == {"revision": head, "legacy_version": 5, "head": head, "pending": []}
    again = json.loads(db("upgrade", "--db", db_url, "--json").output)
    assert again["applied"] == [] and again["from"] == head
    history = json.loads(db("history", "--db", db_url, "--json").output)
    assert [row["revision"] for row in history if row["applied"]] == ALL


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

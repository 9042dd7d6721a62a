"""A full lane's run logged at DEBUG, as JSON, to a file: the lines are there, no secret is.

The lane provisions from the real club server with a one-time code, sets a
manager PIN, sells, voids with the PIN and syncs; the server runs in this
process, so its access lines land in the same file. Then the file is searched
for the credential, the enrollment code and the PIN.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from offline_store.db import DB_FILENAME, open_db
from sync.http import RetryPolicy
from terminal.cli import cli
from tests.sync.club import ClubServer
from tests.sync.club import sqlite_club as club  # noqa: F401  (the fixture)

PIN = "480327"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, retry, rng=None: 0.0)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_a_full_run_logs_no_secret(club: ClubServer, tmp_path: Path) -> None:  # noqa: F811
    data_dir, log_file = tmp_path / "lane", tmp_path / "log" / "club-terminal.log"
    logged = ["--log-level", "DEBUG", "--log-format", "json", "--log-file", str(log_file)]

    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *logged, *args], obj={})
        assert result.exit_code == 0, result.output
        return result

    code = club.new_code()
    run("provision", "--server", club.url, "--code", code)
    run("pin", "set", "m1", "--name", "Manager", "--role", "manager", "--pin", PIN)
    db = open_db(data_dir / DB_FILENAME)
    sku = str(db.execute("SELECT sku FROM products WHERE NOT member_only LIMIT 1").fetchone()[0])
    db.close()
    sale = json.loads(run("sale", "--item", f"{sku}:2", "--json").stdout)["sale"]
    run("void", sale["sale_id"], "--pin", PIN, "--reason", "test")
    run("sync", "--once")

    token = json.loads((data_dir / "credential.json").read_text())["credential"]
    secret = token.split(".", 1)[1]
    text = log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    loggers = {line["logger"] for line in lines}
    assert "club_server.access" in loggers  # the server's access lines, with request ids
    assert any(line.get("request_id") for line in lines)
    assert any("/v1/sales" in line["message"] for line in lines)
    for value in (secret, code, code.replace("-", ""), PIN):
        assert value not in text, value

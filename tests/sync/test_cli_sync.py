"""``club-terminal provision``, ``sync`` and ``report daily --store`` against the real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from offline_store.db import DB_FILENAME, open_db
from offline_store.settings import put_settings
from sync.http import RetryPolicy
from terminal.cli import cli
from terminal.cli.base import EXIT_UNREACHABLE
from tests.sync.club import ClubServer
from tests.sync.club import sqlite_club as club  # noqa: F401  (the fixture)
from tests.sync.scripted import ScriptedServer, json_reply, make_tls_files
from tests.sync.test_http import free_port


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's clients retry with the default policy; here without waiting."""
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, retry, rng=None: 0.0)


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], obj={})


def sell(data_dir: Path) -> str:
    db = open_db(data_dir / DB_FILENAME)
    sku = db.execute("SELECT sku FROM products WHERE active AND NOT member_only LIMIT 1")
    code = str(sku.fetchone()[0])
    db.close()
    result = run(data_dir, "sale", "--item", f"{code}:2", "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["sale"]["sale_id"])


@pytest.fixture(scope="module")
def provisioned(club: ClubServer, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    data_dir = tmp_path_factory.mktemp("cli") / "lane"
    result = run(data_dir, "provision", "--server", club.url, "--code", club.new_code())
    assert result.exit_code == 0, result.output
    assert "provisioned terminal t-" in result.stdout and "300 members" in result.stdout
    assert "members" in result.stderr and "300/300" in result.stderr  # the progress line
    return data_dir


def test_provision_sync_and_the_store_report(club: ClubServer, provisioned: Path) -> None:  # noqa: F811
    status = json.loads(run(provisioned, "status", "--json").stdout)
    assert status["store_id"] == "demo-store" and status["members"] == 300
    sale_id = sell(provisioned)
    result = run(provisioned, "sync", "--once", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["pushed"] >= 1 and info["pending"] == 0
    assert club.scalar("SELECT COUNT(*) FROM sales WHERE sale_id = :s", s=sale_id) == 1
    report = run(provisioned, "report", "daily", "--store", "--format", "json")
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert data["scope"] == "store" and data["sales_count"] >= 1
    table = run(provisioned, "report", "daily", "--store")
    assert table.exit_code == 0 and "Daily member sales" in table.output


def test_the_store_report_and_sync_offline_say_what_works(
    tmp_path: Path, provisioned: Path
) -> None:
    db = open_db(provisioned / DB_FILENAME)
    server = db["settings"].get("sync.server_url")["value"]
    put_settings(db, {"sync.server_url": f"http://127.0.0.1:{free_port()}"})
    try:
        report = run(provisioned, "report", "daily", "--store")
        assert report.exit_code == EXIT_UNREACHABLE
        assert "needs the club server" in report.stderr and "without --store" in report.stderr
        assert run(provisioned, "report", "daily").exit_code == 0  # the lane's own works
        offline = run(provisioned, "sync", "--once")
        assert offline.exit_code == EXIT_UNREACHABLE and "cannot reach" in offline.stderr
    finally:
        put_settings(db, {"sync.server_url": server})
        db.close()


def test_a_used_code_an_unreachable_server_and_a_bad_certificate(
    club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    code = club.new_code()
    assert run(tmp_path / "a", "provision", "--server", club.url, "--code", code).exit_code == 0
    used = run(tmp_path / "b", "provision", "--server", club.url, "--code", code)
    assert used.exit_code == 1
    assert used.stderr.startswith("error: this enrollment code was used already")
    assert "hint: ask the club operator for a new code" in used.stderr
    dead = f"http://127.0.0.1:{free_port()}"
    down = run(tmp_path / "c", "provision", "--server", dead, "--code", "AAAA-BBBB-CCCC")
    assert down.exit_code == EXIT_UNREACHABLE and "cannot reach" in down.stderr
    cert, key = make_tls_files(tmp_path)
    tls = ScriptedServer(lambda r: json_reply({}), tls=(cert, key))
    try:
        bad = run(tmp_path / "d", "provision", "--server", tls.url, "--code", "AAAA-BBBB-CCCC")
    finally:
        tls.close()
    assert bad.exit_code == EXIT_UNREACHABLE and "TLS" in bad.stderr and "--ca-bundle" in bad.stderr


def test_re_provisioning_waits_for_pushed_sales_unless_forced(
    club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    lane = tmp_path / "lane"
    assert run(lane, "provision", "--server", club.url, "--code", club.new_code()).exit_code == 0
    sale_id = sell(lane)
    refused = run(lane, "provision", "--server", club.url, "--code", club.new_code())
    assert refused.exit_code == 1 and "1 sale(s)" in refused.stderr and "--force" in refused.stderr
    again = run(lane, "provision", "--server", club.url, "--force", "--json")  # saved credential
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["kept"]["sales"] == 1
    pushed = json.loads(run(lane, "sync", "--once", "--json").stdout)
    assert pushed["pushed"] == 1  # same terminal id (no new code): still its own sale
    assert club.scalar("SELECT COUNT(*) FROM sales WHERE sale_id = :s", s=sale_id) == 1


def test_sync_runs_until_sigterm(provisioned: Path) -> None:
    sale_id = sell(provisioned)
    env = {**os.environ, "CLUB_TERMINAL_DATA_DIR": str(provisioned)}
    process = subprocess.Popen(
        [sys.executable, "-m", "terminal", "sync", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = json.loads(process.stdout.readline() or "{}")
            if status.get("online") and status.get("pending") == 0:
                break
        else:
            pytest.fail("sync never reported online with an empty outbox")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
    db = open_db(provisioned / DB_FILENAME)
    sent = db.execute("SELECT sent_at FROM outbox WHERE idempotency_key = ?", [sale_id])
    assert sent.fetchone()[0] is not None
    db.close()

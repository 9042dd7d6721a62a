"""``club-terminal doctor`` against real failures made here.

A corrupted database file, a full and an old outbox, a server that is down,
a server with a self-signed certificate, a clock a day behind (libfaketime,
in a subprocess) against the real club server, a revoked credential, and
pcscd out of reach.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_store.db import DB_FILENAME
from offline_store.settings import put_settings
from sync import credentials
from sync.credentials import Credential
from sync.provision import provision
from terminal.bootstrap import Terminal, bootstrap
from terminal.cli import cli
from terminal.doctor import (
    Check,
    Context,
    check_cache_age,
    check_credential,
    check_database,
    check_disk,
    check_outbox,
    check_pcsc,
    check_server,
    run_checks,
)
from tests.pcsc_stack import READER, Pcscd
from tests.sync.club import ClubServer, sqlite_club  # noqa: F401  (fixture)
from tests.sync.scripted import Reply, Request, ScriptedServer, json_reply, make_tls_files

FAKETIME = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), Path("/nonexistent"))
REPO = Path(__file__).resolve().parents[2]


def _close(terminal: Terminal) -> Path:
    """Close the terminal (its WAL checkpointed into the file); return its data dir."""
    terminal.close()
    return terminal.data_dir


def _doctor_json(data_dir: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, Check]]:
    """Run ``club-terminal doctor --json`` in a subprocess; (exit status, checks by name)."""
    args = [sys.executable, "-m", "terminal", "--data-dir", str(data_dir), "doctor", "--json"]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.stdout, proc.stderr
    data = json.loads(proc.stdout)
    checks = {
        item["name"]: Check(item["name"], item["status"], item["detail"], item["hint"])
        for item in data["checks"]
    }
    assert data["ok"] == (proc.returncode == 0)
    return proc.returncode, checks


# -- the database -------------------------------------------------------------------


def test_a_healthy_local_terminal(terminal: Terminal) -> None:
    ctx = Context(_close(terminal))
    assert check_database(ctx).status == "ok"
    assert check_outbox(ctx).status == "ok"
    assert check_cache_age(ctx).status == "skip"  # demo data: never synced
    assert check_server(ctx).status == "skip"
    assert check_credential(ctx).status == "skip"
    assert check_disk(ctx).status in ("ok", "warn")


def test_a_corrupted_database_fails(terminal: Terminal, tmp_path: Path) -> None:
    source = _close(terminal) / DB_FILENAME
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(source, broken / DB_FILENAME)
    page_size = 4096
    with (broken / DB_FILENAME).open("r+b") as db_file:
        pages = os.path.getsize(broken / DB_FILENAME) // page_size
        assert pages > 20
        for page in range(pages // 3, pages // 3 + 8):  # garbage over b-tree pages
            db_file.seek(page * page_size)
            db_file.write(os.urandom(page_size))
    before = (broken / DB_FILENAME).read_bytes()
    check = check_database(Context(broken))
    assert check.status == "fail" and "damaged" in check.detail, check
    assert "re-provision" in check.hint
    assert (broken / DB_FILENAME).read_bytes() == before  # the doctor wrote nothing
    result = CliRunner().invoke(cli, ["--data-dir", str(broken), "doctor"], obj={})
    assert result.exit_code == 1
    assert "FAIL database:" in result.output


def test_no_database_fails(tmp_path: Path) -> None:
    check = check_database(Context(tmp_path))
    assert check.status == "fail" and "provision" in check.hint


# -- the outbox ----------------------------------------------------------------------


def _fill_outbox(terminal: Terminal, count: int, created: datetime) -> None:
    rows = [(f"key-{i}", "sale", "{}", created.isoformat()) for i in range(count)]
    with terminal.db.atomic():
        terminal.db.conn.executemany(
            "INSERT INTO outbox (idempotency_key, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            rows,
        )


@pytest.mark.parametrize(("count", "status"), [(10, "ok"), (600, "warn"), (6000, "fail")])
def test_outbox_backlog(empty_terminal: Terminal, count: int, status: str) -> None:
    _fill_outbox(empty_terminal, count, datetime.now(UTC))
    check = check_outbox(Context(_close(empty_terminal)))
    assert check.status == status, check
    assert f"{count} entries" in check.detail
    if status != "ok":
        assert "sync --once" in check.hint


def test_an_outbox_older_than_the_offline_limit_fails(empty_terminal: Terminal) -> None:
    put_settings(empty_terminal.db, {"offline.max_age_hours": "24"})
    _fill_outbox(empty_terminal, 3, datetime.now(UTC) - timedelta(hours=30))
    check = check_outbox(Context(_close(empty_terminal)))
    assert check.status == "fail" and "oldest since 30" in check.detail, check


# -- the club server -------------------------------------------------------------------


def _pretend_provisioned(terminal: Terminal, url: str, ca_bundle: Path | None = None) -> Path:
    """Settings and a credential file as provisioning leaves them, for ``url``."""
    settings = {"sync.server_url": url, "terminal_id": "T1", "store_id": "demo-store"}
    if ca_bundle is not None:
        settings["sync.ca_bundle"] = str(ca_bundle)
    put_settings(terminal.db, dict(settings))
    credentials.save(terminal.data_dir, Credential(url, "T1", "demo-store", "T1.secret"))
    return _close(terminal)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_down(empty_terminal: Terminal) -> None:
    data_dir = _pretend_provisioned(empty_terminal, f"http://127.0.0.1:{_closed_port()}")
    server = check_server(Context(data_dir))
    assert server.status == "fail" and "cannot reach" in server.detail, server
    assert "network" in server.hint
    assert check_credential(Context(data_dir)).status == "skip"


def _health(request: Request) -> Reply:
    now = datetime.now(UTC).isoformat()
    return json_reply({"status": "ok", "version": "test", "time": now, "protocol": 1})


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ScriptedServer, Path]]:
    """An HTTPS server with a self-signed certificate; (server, its certificate)."""
    cert, key = make_tls_files(tmp_path)
    server = ScriptedServer(_health, (cert, key))
    yield server, cert
    server.close()


def test_a_bad_certificate(
    empty_terminal: Terminal, tls_server: tuple[ScriptedServer, Path]
) -> None:
    server, _ = tls_server
    data_dir = _pretend_provisioned(empty_terminal, server.url)
    check = check_server(Context(data_dir))
    assert check.status == "fail" and "TLS" in check.detail, check
    assert "--ca-bundle" in check.hint


def test_the_same_certificate_trusted_is_ok(
    empty_terminal: Terminal, tls_server: tuple[ScriptedServer, Path]
) -> None:
    server, cert = tls_server
    data_dir = _pretend_provisioned(empty_terminal, server.url, ca_bundle=cert)
    check = check_server(Context(data_dir))
    assert check.status == "ok", check


@pytest.fixture
def lane(sqlite_club: ClubServer, tmp_path: Path) -> Path:  # noqa: F811
    """A terminal provisioned from the real club server."""
    data_dir = tmp_path / "lane"
    provision(data_dir, sqlite_club.url, sqlite_club.new_code())
    return data_dir


def test_a_provisioned_terminal_is_healthy(lane: Path) -> None:
    checks = {check.name: check for check in run_checks(Context(lane))}
    for name in ("database", "server", "credential", "cache age", "outbox"):
        assert checks[name].status == "ok", checks[name]


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime is not installed")
def test_a_skewed_clock_fails(lane: Path) -> None:
    # a day behind this process's clock (the server's), whatever that clock says: a start
    # time in local time, not an offset from the machine's real clock
    day_before = datetime.now() - timedelta(days=1)
    skewed = {"LD_PRELOAD": str(FAKETIME), "FAKETIME": f"@{day_before:%Y-%m-%d %H:%M:%S}"}
    status, checks = _doctor_json(lane, skewed)
    assert status == 1
    server = checks["server"]
    assert server.status == "fail" and "s behind" in server.detail, server
    behind = int(server.detail.split(" s behind")[0].rsplit(" ", 1)[1])
    assert 86_000 < behind < 87_000
    assert "NTP" in server.hint
    assert checks["credential"].status == "ok"


def test_a_revoked_credential_fails(lane: Path, sqlite_club: ClubServer) -> None:  # noqa: F811
    sqlite_club.revoke(credentials.load_credential(lane).terminal_id)
    check = check_credential(Context(lane))
    assert check.status == "fail" and "revoked" in check.detail, check
    assert "re-provision" in check.hint


def test_stale_cached_data_fails(lane: Path) -> None:
    later = datetime.now(UTC) + timedelta(hours=80)
    check = check_cache_age(Context(lane, clock=lambda: later))
    assert check.status == "fail" and "limit 72.0 h" in check.detail, check
    terminal = bootstrap(lane)
    put_settings(terminal.db, {"offline.max_age_hours": "100"})
    terminal.close()
    assert check_cache_age(Context(lane, clock=lambda: later)).status == "ok"


# -- pcscd ---------------------------------------------------------------------------


def test_pcscd_running_with_readers(pcscd: Pcscd, tmp_path: Path) -> None:
    check = check_pcsc(Context(tmp_path))
    assert check.status == "ok" and READER in check.detail, check


def test_pcscd_out_of_reach_fails(pcscd: Pcscd, empty_terminal: Terminal) -> None:
    """A pcscd that does not answer: ours stopped for real, and (always) a process whose
    pcsc-lite client is pointed at a socket no pcscd listens on."""
    data_dir = _close(empty_terminal)
    _, checks = _doctor_json(data_dir, {"PCSCLITE_CSOCK_NAME": str(data_dir / "no-pcscd.comm")})
    assert checks["pcsc"].status == "fail" and "pcscd" in checks["pcsc"].detail
    assert "systemctl start pcscd" in checks["pcsc"].hint
    if pcscd.external:
        return  # not ours to stop
    pcscd.stop()
    try:
        check = check_pcsc(Context(data_dir))
    finally:
        pcscd.start()
    assert check.status == "fail" and "systemctl start pcscd" in check.hint, check

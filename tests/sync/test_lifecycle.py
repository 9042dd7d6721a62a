"""Credential rotation and decommissioning, against the real club server."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from offline_store.db import DB_FILENAME, open_db
from offline_store.settings import put_settings
from sync import credentials
from sync.credentials import CREDENTIAL_FILENAME
from sync.http import RetryPolicy
from terminal.cli import cli
from terminal.cli import lifecycle as cli_lifecycle
from terminal.cli.base import EXIT_REVOKED, EXIT_UNREACHABLE
from terminal.demo_cards import DEMO_CARDS_FILE
from tests.sync.club import ClubServer, club, sqlite_club  # noqa: F401  (the fixtures)
from tests.sync.test_http import free_port

ROTATE = "/v1/credential/rotate"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's clients retry with the default policy; here without waiting."""
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, retry, rng=None: 0.0)


def run(data_dir: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], obj={}, input=stdin)


def call(server: ClubServer, method: str, path: str, token: str) -> requests.Response:
    """One raw call with ``token`` as the credential (no retries)."""
    return requests.request(
        method,
        server.url + path,
        headers={"Authorization": f"Bearer {token}"},
        json={} if method == "POST" else None,
        params={"after": 0, "limit": 1} if method == "GET" else None,
        timeout=10,
    )


def token_of(data_dir: Path) -> str:
    return credentials.load_credential(data_dir).token


def provisioned(server: ClubServer, data_dir: Path) -> Path:
    result = run(data_dir, "provision", "--server", server.url, "--code", server.new_code())
    assert result.exit_code == 0, result.output
    return data_dir


def saved_unconfirmed(server: ClubServer, lane: Path) -> tuple[credentials.Credential, str]:
    """Step 1 of a rotation, its new credential saved, then a crash before step 2.

    Returns the credential the lane had and the pending one it now holds.
    """
    current = credentials.load_credential(lane)
    pending = call(server, "POST", ROTATE, current.token).json()["credential"]
    credentials.save(
        lane,
        credentials.Credential(current.server_url, current.terminal_id, current.store_id, pending),
    )
    return current, pending


def sell(data_dir: Path) -> str:
    db = open_db(data_dir / DB_FILENAME)
    code = str(
        db.execute("SELECT sku FROM products WHERE active AND NOT member_only LIMIT 1").fetchone()[
            0
        ]
    )
    db.close()
    result = run(data_dir, "sale", "--item", f"{code}:1", "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["sale"]["sale_id"])


def test_the_old_secret_works_until_the_new_one_is_used(club: ClubServer, tmp_path: Path) -> None:  # noqa: F811
    old = token_of(provisioned(club, tmp_path / "lane"))
    first = call(club, "POST", ROTATE, old)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "pending"
    new = first.json()["credential"]
    assert new != old and new.split(".")[0] == old.split(".")[0]
    retried = call(club, "POST", ROTATE, old)  # a terminal that crashed before saving
    assert retried.status_code == 200 and retried.json()["credential"] == new
    assert call(club, "GET", "/v1/changes", old).status_code == 200  # still valid
    activated = call(club, "POST", ROTATE, new)  # its first use
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    refused = call(club, "GET", "/v1/changes", old)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert call(club, "POST", ROTATE, old).status_code == 401  # cannot start another
    assert call(club, "GET", "/v1/changes", new).status_code == 200
    assert call(club, "POST", ROTATE, "t-nobody.x").status_code == 401
    assert club.scalar("SELECT COUNT(*) FROM terminal_credential_rotations") == 0


def test_a_saved_but_unconfirmed_credential_activates_on_its_first_use(
    club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    lane = provisioned(club, tmp_path / "lane")
    current, pending = saved_unconfirmed(club, lane)
    assert call(club, "GET", "/v1/changes", "t-nobody.x").status_code == 401
    assert call(club, "GET", "/v1/changes", current.token + "x").status_code == 401
    synced = run(lane, "sync", "--once")  # no `credential rotate` needed: it just works
    assert synced.exit_code == 0, synced.output
    assert call(club, "GET", "/v1/changes", current.token).status_code == 401  # the old one
    assert call(club, "GET", "/v1/changes", pending).status_code == 200
    assert club.scalar("SELECT COUNT(*) FROM terminal_credential_rotations") == 0


def test_credential_rotate_writes_a_private_file_and_proves_it(
    sqlite_club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    lane = provisioned(sqlite_club, tmp_path / "lane")
    old = token_of(lane)
    result = run(lane, "credential", "rotate")
    assert result.exit_code == 0, result.output
    assert "rotated the credential" in result.stdout and "accepted" in result.stdout
    path = lane / CREDENTIAL_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (lane / (CREDENTIAL_FILENAME + ".tmp")).exists()
    new = token_of(lane)
    assert new != old
    assert call(sqlite_club, "GET", "/v1/changes", old).status_code == 401
    assert run(lane, "sync", "--once").exit_code == 0  # the terminal works on


def test_a_rotation_interrupted_anywhere_is_finished_by_running_it_again(
    sqlite_club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    lane = provisioned(sqlite_club, tmp_path / "lane")
    saved = credentials.load_credential(lane)
    # crashed after the server's answer, before the file was written
    lost = call(sqlite_club, "POST", ROTATE, saved.token).json()["credential"]
    again = run(lane, "credential", "rotate", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["resumed"] is False
    assert token_of(lane) == lost  # the same pending secret was handed out again
    current, pending = saved_unconfirmed(sqlite_club, lane)
    finish = run(lane, "credential", "rotate", "--json")
    assert finish.exit_code == 0, finish.output
    assert json.loads(finish.stdout)["resumed"] is True
    assert token_of(lane) == pending
    assert call(sqlite_club, "GET", "/v1/changes", current.token).status_code == 401
    assert call(sqlite_club, "GET", "/v1/changes", pending).status_code == 200


def test_rotate_errors_are_clear(sqlite_club: ClubServer, tmp_path: Path) -> None:  # noqa: F811
    missing = run(tmp_path / "none", "credential", "rotate")
    assert missing.exit_code == 1 and "not provisioned" in missing.stderr
    lane = provisioned(sqlite_club, tmp_path / "lane")
    sqlite_club.revoke(credentials.load_credential(lane).terminal_id)
    revoked = run(lane, "credential", "rotate")
    assert revoked.exit_code == EXIT_REVOKED and "revoked" in revoked.stderr


def test_decommission_pushes_pending_sales_then_revokes_and_wipes(
    sqlite_club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    lane = provisioned(sqlite_club, tmp_path / "lane")
    (lane / DEMO_CARDS_FILE).write_text("[]")
    (lane / "terminal.toml").write_text("# configuration, kept\n")
    sale_id = sell(lane)
    old = token_of(lane)
    result = run(lane, "decommission", "--yes", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["pushed"] == 1 and info["abandoned"] == 0 and not info["already_revoked"]
    assert sqlite_club.scalar("SELECT COUNT(*) FROM sales WHERE sale_id = :s", s=sale_id) == 1
    removed = {Path(p).name for p in info["removed"]}
    assert {DB_FILENAME, CREDENTIAL_FILENAME, DEMO_CARDS_FILE} <= removed
    assert sorted(p.name for p in lane.iterdir()) == ["terminal.toml"]
    assert [Path(p).name for p in info["left"]] == ["terminal.toml"]
    refused = call(sqlite_club, "GET", "/v1/changes", old)
    assert refused.status_code == 403 and refused.json()["error"] == "terminal-revoked"
    assert call(sqlite_club, "POST", "/v1/sales", old).status_code == 403


def test_decommission_asks_first(
    sqlite_club: ClubServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lane = provisioned(sqlite_club, tmp_path / "lane")
    no_tty = run(lane, "decommission")
    assert no_tty.exit_code == 1 and "--yes" in no_tty.stderr
    monkeypatch.setattr(cli_lifecycle, "stdin_is_tty", lambda: True)
    declined = run(lane, "decommission", stdin="n\n")
    assert declined.exit_code == 1 and "cancelled" in declined.stderr
    assert "terminal.db" in declined.stderr  # it said what would be removed
    assert call(sqlite_club, "GET", "/v1/changes", token_of(lane)).status_code == 200
    agreed = run(lane, "decommission", stdin="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert "removed" in agreed.stdout and not (lane / DB_FILENAME).exists()


def test_decommission_needs_the_server_and_keeps_unpushed_sales(
    sqlite_club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    lane = provisioned(sqlite_club, tmp_path / "lane")
    sell(lane)
    db = open_db(lane / DB_FILENAME)
    server = str(
        db.execute("SELECT value FROM settings WHERE key = 'sync.server_url'").fetchone()[0]
    )
    put_settings(db, {"sync.server_url": f"http://127.0.0.1:{free_port()}"})
    db.close()
    before = sorted(p.name for p in lane.iterdir())
    waiting = run(lane, "decommission", "--yes")
    assert waiting.exit_code == 1 and "1 sale(s) could not be pushed" in waiting.stderr
    assert "--force" in waiting.stderr
    forced = run(lane, "decommission", "--yes", "--force")
    assert forced.exit_code == EXIT_UNREACHABLE and "cannot reach" in forced.stderr
    assert "nothing was removed" in forced.stderr and "club-server terminal revoke" in forced.stderr
    assert sorted(p.name for p in lane.iterdir()) == before
    db = open_db(lane / DB_FILENAME)
    put_settings(db, {"sync.server_url": server})
    db.close()
    sqlite_club.revoke(credentials.load_credential(lane).terminal_id)  # the operator's way
    revoked = run(lane, "decommission", "--yes", "--force", "--json")
    assert revoked.exit_code == 0, revoked.output
    info = json.loads(revoked.stdout)
    assert info["already_revoked"] and info["abandoned"] == 1
    assert not (lane / DB_FILENAME).exists() and not (lane / CREDENTIAL_FILENAME).exists()

"""``club-terminal status --json`` / ``--prometheus``: the lane's sync state, from any process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from prometheus_client.parser import text_string_to_metric_families

from offline_store.db import DB_FILENAME, open_db
from sync.http import RetryPolicy
from terminal.cli import cli
from tests.sync.club import ClubServer
from tests.sync.club import sqlite_club as club  # noqa: F401  (the fixture)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, retry, rng=None: 0.0)


def test_status_shows_the_backlog_its_age_and_the_last_push(
    club: ClubServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "lane"

    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], obj={})
        assert result.exit_code == 0, result.output
        return result

    run("provision", "--server", club.url, "--code", club.new_code())
    db = open_db(data_dir / DB_FILENAME)
    sku = str(db.execute("SELECT sku FROM products WHERE NOT member_only LIMIT 1").fetchone()[0])
    db.close()
    run("sale", "--item", sku)
    waiting = json.loads(run("status", "--json").stdout)
    assert waiting["outbox_pending"] == 1
    assert waiting["outbox_oldest_pending_at"] is not None
    assert waiting["outbox_lag_seconds"] >= 0
    assert waiting["last_push_at"] is None
    assert isinstance(waiting["delta_cursor"], int)  # the snapshot's cursor

    run("sync", "--once")
    done = json.loads(run("status", "--json").stdout)
    assert (done["outbox_pending"], done["outbox_lag_seconds"]) == (0, 0)
    assert done["last_push_at"] is not None

    text = run("status", "--prometheus").stdout
    samples = {
        sample.name: sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples["club_lane_outbox_pending"].value == 0
    assert samples["club_lane_outbox_pending"].labels == {"terminal": done["terminal_id"]}
    assert samples["club_lane_last_push_timestamp"].value > 0

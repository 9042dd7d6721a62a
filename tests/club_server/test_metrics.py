"""Metrics, readiness, request ids and the app factory (club_server.metrics, .requestlog, .app)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from club_server.app import create_app, create_app_from_env, limits_from_env
from club_server.cli.ops import per_worker
from club_server.db import Database
from club_server.limits import ServerLimits
from clubcore.errors import ConfigError
from tests.club_server.conftest import Lane, make_sale, push

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "metrics-test-token-0123456789"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def _scrape(client: TestClient) -> str:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return answer.text


def test_metrics_count_pushes_by_status_and_requests_by_route(
    client: TestClient, lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLUB_SERVER_METRICS_TOKEN", TOKEN)
    before = _scrape(client)
    sale = make_sale(lane)
    conflict = {**sale, "total": sale["total"] + 1}
    results = push(client, lane, sale, sale, conflict, {"sale_id": "junk"})
    assert [r["status"] for r in results] == ["created", "duplicate", "conflict", "rejected"]
    after = _scrape(client)
    for status in ("created", "duplicate", "conflict", "rejected"):
        grown = _value(after, "club_sales_pushed_total", status=status) - _value(
            before, "club_sales_pushed_total", status=status
        )
        assert grown == 1, status
    pushes = _value(after, "club_http_requests_total", method="POST", route="/v1/sales",
                    status="200")  # fmt: skip
    assert pushes >= 1
    assert _value(after, "club_push_seconds_count") > _value(before, "club_push_seconds_count")
    assert _value(after, "club_sale_sync_lag_seconds_count") >= 3
    seen = _value(after, "club_terminal_last_seen_timestamp", terminal=lane.terminal_id)
    assert seen > 0
    assert _value(after, "club_terminal_push_lag_seconds", terminal=lane.terminal_id) >= 0


def test_metrics_are_refused_to_strangers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLUB_SERVER_METRICS_TOKEN", raising=False)
    assert client.get("/metrics").status_code == 403  # the test client is not loopback
    monkeypatch.setenv("CLUB_SERVER_METRICS_TOKEN", TOKEN)
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_are_open_to_loopback(live_server: str) -> None:
    answer = httpx.get(f"{live_server}/metrics")
    assert answer.status_code == 200
    assert "club_http_requests_total" in answer.text


def test_ready_touches_the_database(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/v1/ready").json() == {"status": "ready"}
    url = f"sqlite:///{tmp_path}/no/such/dir/club.db"
    gone = Database(create_engine(url), url)
    with TestClient(create_app(gone)) as broken:
        answer = broken.get("/v1/ready")
    assert answer.status_code == 503
    assert answer.json()["error"] == "not-ready"
    assert broken.get("/v1/health").status_code == 200  # liveness touches nothing


def test_request_ids_are_kept_or_made_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="club_server.access")
    given = client.get("/v1/health", headers={"X-Request-ID": "nginx-abc_123"})
    assert given.headers["X-Request-ID"] == "nginx-abc_123"
    made = client.get("/v1/health", headers={"X-Request-ID": "bad id!" * 20})
    assert made.headers["X-Request-ID"] != "bad id"
    assert len(made.headers["X-Request-ID"]) == 16
    lines = [r.getMessage() for r in caplog.records if r.name == "club_server.access"]
    assert any(line.startswith("GET /v1/health 200") for line in lines)


def test_limits_from_env() -> None:
    assert limits_from_env({}) == ServerLimits()
    assert limits_from_env({"CLUB_SERVER_LIMITS": '{"address_rate": 5}'}).address_rate == 5
    for bad in ("nope", '{"speed": 1}', '{"address_rate": "fast"}', "[1]"):
        with pytest.raises(ConfigError, match="CLUB_SERVER_LIMITS"):
            limits_from_env({"CLUB_SERVER_LIMITS": bad})


def test_workers_split_the_rates() -> None:
    split = per_worker(ServerLimits(address_rate=100, address_burst=7), 4)
    assert split.address_rate == 25
    assert split.address_burst == 7  # the kernel does not spread a burst evenly
    assert split.enroll_failures == ServerLimits().enroll_failures  # a database count: shared


def test_the_factory_builds_an_app_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLUB_SERVER_DB", f"sqlite:///{tmp_path}/factory.db")
    monkeypatch.setenv("CLUB_SERVER_LIMITS", '{"terminal_rate": 3}')
    app = create_app_from_env()
    try:
        assert app.state.limits.terminal_rate == 3
        with TestClient(app) as client:
            assert client.get("/v1/ready").json() == {"status": "ready"}
    finally:
        app.state.database.dispose()


def test_postgres_keys_default_to_a_directory_of_their_own() -> None:
    from sqlalchemy import create_engine as engine_for

    from club_server.keys import default_keys_dir

    def keys_for(url: str) -> Path:
        return default_keys_dir(Database(engine_for(url), url))

    one = keys_for("postgresql+psycopg://clubserver@db1.example:5433/club")
    other = keys_for("postgresql+psycopg://clubserver@db1.example:5433/club_test")
    assert one != other and one.parent == other.parent
    assert one.name == "db1.example-5433-club"
    assert keys_for("sqlite:////srv/club/club.db") == Path("/srv/club/keys")


def test_terminal_list_counts_pushed_sales(client: TestClient, lane: Lane, demo: Database) -> None:
    from club_server.terminals import list_terminals

    push(client, lane, make_sale(lane), make_sale(lane))
    with demo.reading() as conn:
        rows = {row["terminal_id"]: row for row in list_terminals(conn, lane.store_id)}
    row = rows[lane.terminal_id]
    assert row["sales"] == 2 and row["last_push_at"] is not None and not row["revoked"]

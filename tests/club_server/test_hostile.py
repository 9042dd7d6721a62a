"""Hostile input (issue 11): every case answered 4xx in the error shape, nothing written,
the server still answering, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy import func, select

from club_server.app import create_app
from club_server.cli import cli
from club_server.db import Database
from club_server.limits import ServerLimits, list_lockouts
from club_server.schema import changes, enroll_lockouts, points_ledger, sales, terminals
from tests.club_server.conftest import (
    Lane,
    MovableClock,
    _free_port,
    enroll_lane,
    make_sale,
    new_code,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BAD_TEXTS = ["a\x00b", "a\ud800b", "\udfff"]
SALE_TEXTS = ("sale_id", "terminal_id", "store_id", "currency", "member_no", "tier",
              "id_method", "ref_sale_id", "staff_id", "reason")  # fmt: skip
LINE_TEXTS = ("sku", "name", "category", "source", "offer_id", "stacked_offer_id")


def counts(db: Database) -> dict[str, int]:
    """What a refused request must not change."""
    with db.reading() as conn:
        enrolled = select(func.count()).where(terminals.c.enrolled_at.is_not(None))
        found = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                 for t in (sales, changes, points_ledger)}  # fmt: skip
        found["enrolled"] = conn.execute(enrolled).scalar_one()
    return found


def refused(answer: Any, status: int, error: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"error", "message"}, body
    if error is not None:
        assert body["error"] == error, body
    return body


def still_up(client: Any) -> None:
    assert client.get("/v1/health").status_code == 200


def post_raw(client: Any, path: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    """POST ``data`` as JSON with ``\\uXXXX`` escapes (a lone surrogate cannot be UTF-8)."""
    body = json.dumps(data).encode("ascii")
    headers = {**(headers or {}), "Content-Type": "application/json"}
    return client.post(path, content=body, headers=headers)


@pytest.mark.parametrize("after", ["%00", "a%00b", "%ED%A0%80", "x" * 201])
def test_a_hostile_snapshot_cursor_is_422(
    client: Any, lane: Lane, demo: Database, after: str
) -> None:
    before = counts(demo)
    answer = client.get(f"/v1/snapshot/members?after={after}", headers=lane.headers)
    if after == "%ED%A0%80":  # not UTF-8: read as U+FFFD, a key like any other
        assert answer.status_code == 200
    else:
        refused(answer, 422, "invalid-request")
    assert counts(demo) == before
    still_up(client)


@pytest.mark.parametrize(
    "after", ["9223372036854775808", "-1", "1e3", "%00", "99999999999999999999999"]
)
def test_a_hostile_changes_cursor_is_422(client: Any, lane: Lane, after: str) -> None:
    refused(client.get(f"/v1/changes?after={after}", headers=lane.headers), 422)
    refused(client.get(f"/v1/changes?limit={after}", headers=lane.headers), 422)
    assert (
        client.get("/v1/changes?after=9223372036854775807", headers=lane.headers).json()["changes"]
        == []
    )
    still_up(client)


@pytest.mark.parametrize("field", SALE_TEXTS + LINE_TEXTS)
def test_a_hostile_text_in_a_sale_rejects_that_sale_only(
    client: Any, lane: Lane, demo: Database, field: str
) -> None:
    before = counts(demo)
    bad = []
    for text in BAD_TEXTS:
        sale = make_sale(lane)
        if field in LINE_TEXTS:
            sale["lines"][0][field] = text
        else:
            sale[field] = text
        bad.append(sale)
    good = make_sale(lane)
    answer = post_raw(client, "/v1/sales", {"sales": [*bad, good]}, lane.headers)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * len(bad) + ["created"]
    for result, sale in zip(results, bad, strict=False):
        assert "NUL or a lone surrogate" in result["error"] or "unicode" in result["error"]
        assert result["sale_id"] == (None if field == "sale_id" else sale["sale_id"])
    after = counts(demo)
    assert after["sales"] == before["sales"] + 1
    still_up(client)


def test_a_hostile_key_in_a_sale_is_rejected_and_answered(client: Any, lane: Lane) -> None:
    sale = {**make_sale(lane), "\ud800\x00": 1}
    answer = post_raw(client, "/v1/sales", {"sales": [sale]}, lane.headers)
    assert answer.json()["results"][0]["status"] == "rejected"


@pytest.mark.parametrize(
    "device",
    [
        {"hostname": "a\x00b"},
        {"hostname": "\ud800"},
        {"\ud800": "x"},
        {"x\x00": "x"},
        {"blob": "x" * (6 * 1024 * 1024)},
        {"a": {"b": {"c": {"d": {"e": {}}}}}},
        {f"k{i}": i for i in range(100)},
        {"list": list(range(5000))},
        {"n": 10**30},
    ],
    ids=["nul", "surrogate", "surrogate-key", "nul-key", "6MB", "deep", "keys", "list", "big"],
)
def test_a_hostile_device_is_refused_and_the_code_still_works(
    client: Any, demo: Database, device: dict[str, Any]
) -> None:
    code = new_code(demo)
    before = counts(demo)
    refused(post_raw(client, "/v1/enroll", {"code": code, "device": device}), 422)
    assert counts(demo) == before
    answer = client.post("/v1/enroll", json={"code": code, "device": {"hostname": "lane-1"}})
    assert answer.status_code == 200, answer.text


def test_a_hostile_code_is_refused(client: Any, demo: Database) -> None:
    before = counts(demo)
    for code in ("AAAA-AAAA-AAA\x00", "\ud800", "x" * 65):
        refused(post_raw(client, "/v1/enroll", {"code": code}), 422)
    assert counts(demo) == before


HOSTILE_DAYS = ["0.0", "1700000000", "2026-12-01T00:00", "20261201", "2026-W48-2",
                "2026-02-30", "1405-12-31", "%00", "", "２０２６-12-01"]  # fmt: skip


@pytest.mark.parametrize("day", HOSTILE_DAYS)
def test_report_dates_are_strict(client: Any, lane: Lane, day: str) -> None:
    refused(client.get(f"/v1/reports/daily?date={day}", headers=lane.headers), 422)


def test_report_dates_are_iso_or_jalali(client: Any, lane: Lane) -> None:
    iso = client.get("/v1/reports/daily?date=2026-12-01", headers=lane.headers).json()
    jalali = client.get("/v1/reports/daily?date=1405-09-10", headers=lane.headers).json()
    persian = client.get("/v1/reports/daily?date=۱۴۰۵-۰۹-۱۰", headers=lane.headers).json()
    assert (
        iso["business_date"]
        == jalali["business_date"]
        == persian["business_date"]
        == ("2026-12-01")
    )


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("TRACE", "/v1/health", "GET"), ("DELETE", "/v1/health", "GET"),
     ("PUT", "/v1/sales", "POST"), ("GET", "/v1/enroll", "POST")],
)  # fmt: skip
def test_405_names_the_allowed_methods(client: Any, method: str, path: str, allowed: str) -> None:
    answer = client.request(method, path)
    refused(answer, 405, "method-not-allowed")
    assert allowed in answer.headers["allow"]


# -- rate limits and lockouts ----------------------------------------------------------------


class Ticks:
    """A monotonic clock tests move."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_wrong_codes_lock_the_address_out_and_the_operator_sees_it(
    demo: Database, clock: MovableClock
) -> None:
    limits = ServerLimits(enroll_failures=10, enroll_window=600, enroll_lockout=900)
    good = new_code(demo)
    with TestClient(create_app(demo, clock=clock, limits=limits)) as client:
        for n in range(10):
            refused(
                client.post("/v1/enroll", json={"code": f"AAAA-AAAA-AAA{'BCDEFGHIJK'[n]}"}), 401
            )
        before = counts(demo)
        for code in ("AAAA-AAAA-AAAA", good):
            answer = client.post("/v1/enroll", json={"code": code})
            refused(answer, 429, "enroll-locked")
            assert int(answer.headers["retry-after"]) == 900
        assert counts(demo) == before
        still_up(client)
    with TestClient(create_app(demo, clock=clock, limits=limits)) as other:  # another process
        refused(other.post("/v1/enroll", json={"code": good}), 429, "enroll-locked")
        with demo.reading() as conn:
            [row] = list_lockouts(conn, clock())
        assert (row["address"], row["failures"]) == ("testclient", 10)
        listed = CliRunner().invoke(
            cli, ["terminal", "lockouts", "--all", "--db", str(demo.engine.url)]
        )
        assert "testclient" in listed.output and "locked until" in listed.output, listed.output
        clock.advance(minutes=15)
        assert other.post("/v1/enroll", json={"code": good}).status_code == 200


def test_the_operator_lifts_a_lockout(demo: Database, clock: MovableClock) -> None:
    limits = ServerLimits(enroll_failures=2)
    with TestClient(create_app(demo, clock=clock, limits=limits)) as client:
        for _ in range(2):
            client.post("/v1/enroll", json={"code": "bad"})
        refused(client.post("/v1/enroll", json={"code": new_code(demo)}), 429)
        url = demo.engine.url.render_as_string(hide_password=False)
        cleared = CliRunner().invoke(
            cli, ["terminal", "lockouts", "--clear", "testclient", "--db", url]
        )
        assert "cleared 1 address" in cleared.output, cleared.output
        assert client.post("/v1/enroll", json={"code": new_code(demo)}).status_code == 200
    with demo.reading() as conn:
        assert conn.execute(select(func.count()).select_from(enroll_lockouts)).scalar_one() == 0


def test_failures_outside_the_window_do_not_add_up(demo: Database, clock: MovableClock) -> None:
    limits = ServerLimits(enroll_failures=3, enroll_window=600)
    with TestClient(create_app(demo, clock=clock, limits=limits)) as client:
        for _ in range(4):
            refused(client.post("/v1/enroll", json={"code": "AAAA-AAAA-AAAA"}), 401)
            refused(client.post("/v1/enroll", json={"code": "AAAA-AAAA-AAAA"}), 401)
            clock.advance(minutes=11)


def test_a_terminal_over_its_rate_is_429_until_tokens_come_back(
    demo: Database, clock: MovableClock
) -> None:
    ticks = Ticks()
    limits = ServerLimits(terminal_rate=1.0, terminal_burst=3)
    with TestClient(create_app(demo, clock=clock, limits=limits, monotonic=ticks)) as client:
        lane = enroll_lane(client, demo)
        other = enroll_lane(client, demo)
        for _ in range(3):
            assert client.get("/v1/changes", headers=lane.headers).status_code == 200
        answer = client.get("/v1/changes", headers=lane.headers)
        refused(answer, 429, "rate-limited")
        assert answer.headers["retry-after"] == "1"
        assert client.get("/v1/changes", headers=other.headers).status_code == 200
        ticks.now += 1.0
        assert client.get("/v1/changes", headers=lane.headers).status_code == 200


def test_an_address_over_its_rate_is_429(demo: Database, clock: MovableClock) -> None:
    ticks = Ticks()
    limits = ServerLimits(address_rate=10.0, address_burst=5)
    with TestClient(create_app(demo, clock=clock, limits=limits, monotonic=ticks)) as client:
        for _ in range(5):
            assert client.get("/v1/health").status_code == 200
        answer = client.get("/v1/health")
        refused(answer, 429, "rate-limited")
        assert int(answer.headers["retry-after"]) >= 1
        ticks.now += 0.1
        still_up(client)


def test_the_defaults_hold_a_burst_of_enrollments_and_pushes(client: Any, demo: Database) -> None:
    lanes = [enroll_lane(client, demo) for _ in range(40)]
    for lane in lanes:
        assert client.get("/v1/changes?limit=1", headers=lane.headers).status_code == 200


# -- a body that stops arriving ----------------------------------------------------------------


@pytest.fixture
def slow_server(demo: Database, clock: MovableClock) -> Iterator[tuple[str, int]]:
    """uvicorn with a 1 s body timeout, in a thread."""
    port = _free_port()
    app = create_app(demo, clock=clock, limits=ServerLimits(body_timeout=1.0))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=10)


def test_a_body_shorter_than_its_length_is_408_and_closed(
    slow_server: tuple[str, int], demo: Database
) -> None:
    before = counts(demo)
    with socket.create_connection(slow_server, timeout=10) as sock:
        sock.sendall(
            b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"code": '
        )
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        waited = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert json.loads(body)["error"] == "timeout"
    assert waited < 5
    assert counts(demo) == before
    with socket.create_connection(slow_server, timeout=10) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")

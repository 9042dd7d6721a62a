"""The HTTP contract: headers, error bodies, body limits, fuzzing, and a real uvicorn."""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from club_server.app import MAX_BODY, create_app
from club_server.db import Database
from tests.club_server.conftest import (
    Lane,
    MovableClock,
    enroll_lane,
    make_sale,
    push,
    seed_small,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=25,
)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The HTTP contract does not depend on the backend: SQLite only here."""
    return f"sqlite:///{tmp_path / 'club.db'}"


FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def test_health_and_protocol_header(client: Any) -> None:
    answer = client.get("/v1/health")
    assert answer.headers["x-club-protocol"] == "1"
    body = answer.json()
    assert (body["status"], body["protocol"]) == ("ok", 1)
    assert body["time"].endswith("+00:00")


def test_openapi_describes_the_endpoints(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/health", "/v1/enroll", "/v1/snapshot", "/v1/snapshot/{entity}",
                 "/v1/changes", "/v1/sales", "/v1/reports/daily"):  # fmt: skip
        assert path in paths


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 422), (b"[]", 422), (b'{"code": 5}', 422), (b'{"code": null}', 422),
     (b"", 422), ("{\"code\": \"\u00e9\u00e9\u00e9\u00e9-AAAA-BBBB\"}".encode(), 400)],
)  # fmt: skip
def test_malformed_enroll_bodies_are_4xx_json(client: Any, body: bytes, status: int) -> None:
    answer = client.post("/v1/enroll", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert set(answer.json()) == {"error", "message"}


def test_oversized_bodies_are_413(client: Any, lane: Lane) -> None:
    big = b'{"sales": ["' + b"x" * MAX_BODY + b'"]}'
    answer = client.post("/v1/sales", content=big, headers=lane.headers)
    assert (answer.status_code, answer.json()["error"]) == (413, "too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"sales": ["'
        for _ in range(9):
            yield b"x" * (1024 * 1024)
        yield b'"]}'

    answer = client.post("/v1/sales", content=chunks(), headers=lane.headers)
    assert answer.status_code == 413


def test_unknown_paths_and_methods_use_the_error_shape(client: Any) -> None:
    assert client.get("/v1/nothing").json()["error"] == "not-found"
    assert client.delete("/v1/health").json()["error"] == "method-not-allowed"


@pytest.fixture
def fuzz_client(sqlite_database: Database, tmp_path: Path) -> Iterator[tuple[Any, Lane]]:
    seed_small(sqlite_database, tmp_path / "keys")
    app = create_app(sqlite_database, clock=MovableClock())  # the seed's clock, not the real one
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, enroll_lane(test_client, sqlite_database)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON, item=JSON)
def test_random_json_never_gives_5xx(fuzz_client: tuple[Any, Lane], body: Any, item: Any) -> None:
    client, lane = fuzz_client
    for path, payload in (("/v1/sales", body), ("/v1/sales", {"sales": [item]}),
                          ("/v1/enroll", body), ("/v1/enroll", {"code": item})):  # fmt: skip
        answer = client.post(path, json=payload, headers=lane.headers)
        assert answer.status_code < 500, (path, payload, answer.text)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(sorted(make_sale(Lane("t", "s", "c")))), value=JSON)
def test_a_sale_with_one_field_garbled_is_answered_per_item(
    fuzz_client: tuple[Any, Lane], field: str, value: Any
) -> None:
    client, lane = fuzz_client
    sale = {**make_sale(lane), field: value}
    answer = client.post("/v1/sales", json={"sales": [sale]}, headers=lane.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] in ("created", "held", "rejected")


def test_through_a_real_uvicorn_server(live_server: str, demo: Database) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        lane = enroll_lane(http, demo)
        assert http.get("/v1/health").headers["x-club-protocol"] == "1"
        manifest = http.get("/v1/snapshot", headers=lane.headers).json()
        raw = http.get("/v1/snapshot/members", params={"limit": 1000}, headers=lane.headers)
        lines = raw.text.splitlines()  # httpx undid the gzip Content-Encoding
        assert len(lines) == manifest["entities"]["members"]["rows"] + 1
        assert json.loads(lines[-1]) == {"next": None}
        [result] = push(http, lane, make_sale(lane))
        assert result["status"] == "created"
        with http.stream("GET", "/v1/snapshot/tiers", headers=lane.headers) as answer:
            assert gzip.decompress(b"".join(answer.iter_raw())).startswith(b'["basic"')

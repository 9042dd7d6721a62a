"""The snapshot manifest and its gzip NDJSON pages, on both backends."""

from __future__ import annotations

import gzip
import json
from typing import Any

from tests.club_server.conftest import Lane


def read_page(client: Any, lane: Lane, entity: str, **params: Any) -> tuple[list[Any], Any]:
    answer = client.get(f"/v1/snapshot/{entity}", params=params, headers=lane.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert answer.headers["content-encoding"] == "gzip"
    lines = [json.loads(line) for line in answer.text.splitlines()]
    return lines[:-1], lines[-1]["next"]


def read_all(client: Any, lane: Lane, entity: str, limit: int) -> list[Any]:
    rows: list[Any] = []
    after = None
    while True:
        params = {"limit": limit} if after is None else {"limit": limit, "after": after}
        page, after = read_page(client, lane, entity, **params)
        rows += page
        if after is None:
            return rows


def test_manifest_lists_every_entity_with_columns_and_counts(client: Any, lane: Lane) -> None:
    manifest = client.get("/v1/snapshot", headers=lane.headers).json()
    entities = manifest["entities"]
    assert list(entities) == ["settings", "tiers", "categories", "products", "member_prices",
                              "category_discounts", "offers", "members", "cards", "denylist",
                              "card_keys"]  # fmt: skip
    assert entities["members"]["rows"] == 300
    assert entities["members"]["columns"][5] == "points_base"
    assert manifest["cursor"] > 0


def test_pages_in_key_order_cover_every_row_once(client: Any, lane: Lane) -> None:
    manifest = client.get("/v1/snapshot", headers=lane.headers).json()
    for name in ("members", "member_prices", "card_keys", "settings"):
        rows = read_all(client, lane, name, limit=7)
        assert len(rows) == manifest["entities"][name]["rows"], name
        width = len(manifest["entities"][name]["columns"])
        assert all(len(row) == width for row in rows)
    keys = [(r[0], r[1]) for r in read_all(client, lane, "member_prices", limit=11)]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_points_base_is_the_ledger_sum(client: Any, lane: Lane) -> None:
    members = read_all(client, lane, "members", limit=1000)
    assert any(row[5] > 0 for row in members)
    assert all(isinstance(row[5], int) for row in members)


def test_page_is_gzip_on_the_wire(client: Any, lane: Lane) -> None:
    with client.stream("GET", "/v1/snapshot/tiers", headers=lane.headers) as answer:
        raw = b"".join(answer.iter_raw())
    lines = gzip.decompress(raw).decode().splitlines()
    assert json.loads(lines[-1]) == {"next": None}
    assert json.loads(lines[0])[0] == "basic"


def test_bad_snapshot_requests_are_4xx(client: Any, lane: Lane) -> None:
    h = lane.headers
    assert client.get("/v1/snapshot/nope", headers=h).json()["error"] == "unknown-entity"
    assert client.get("/v1/snapshot/members?limit=100001", headers=h).status_code == 422
    assert client.get("/v1/snapshot/members?limit=0", headers=h).status_code == 422
    assert client.get("/v1/snapshot/card_keys?after=x", headers=h).status_code == 400
    assert client.get("/v1/snapshot/member_prices?after=nobar", headers=h).status_code == 400

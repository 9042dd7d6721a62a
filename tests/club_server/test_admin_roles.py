"""Who may change what: every role against every class of admin action, on both backends.

A refused action is 403 ``forbidden`` and writes nothing (no audit entry, no
change-log entry, no row); a terminal's credential is refused by every admin
route, and admin tokens by the terminal routes.
"""

from __future__ import annotations

from typing import Any

import pytest

from club_server.db import Database
from club_server.demo import DEMO_STORE
from tests.club_server.admin_fixtures import Signed, sign_in, written
from tests.club_server.conftest import Lane

GOLD_OFFER = {"title": "Gold week", "percent_bp": 1000, "category": "dairy", "target": "tier",
              "target_value": "gold"}  # fmt: skip
PRODUCT = {"name": "Saffron 1g", "names": {"fa": "زعفران"}, "category": "dairy",
           "list_price": 900_000, "barcodes": ["4006381333931"]}  # fmt: skip
#: (action class, method, path, body): one request of each admin service
REQUESTS: list[tuple[str, str, str, Any]] = [
    ("accounts", "get", "/admin/v1/accounts", None),
    ("accounts", "post", "/admin/v1/accounts",
     {"username": "new", "role": "operator", "password": "0123456789ab"}),
    ("accounts", "patch", "/admin/v1/accounts/olga", {"role": "admin"}),
    ("accounts", "get", "/admin/v1/tokens", None),
    ("accounts", "post", "/admin/v1/tokens", {"name": "erp2"}),
    ("audit", "get", "/admin/v1/audit", None),
    ("stores", "post", "/admin/v1/stores/s2", {"name": "Second", "timezone": "Asia/Tehran"}),
    ("stores", "patch", f"/admin/v1/stores/{DEMO_STORE}", {"name": "Renamed"}),
    ("catalog", "get", "/admin/v1/products", None),
    ("catalog", "put", "/admin/v1/categories/spices", {"name": "Spices", "names": {"fa": "ادویه"}}),
    ("catalog", "put", "/admin/v1/products/NEW1", PRODUCT),
    ("catalog", "put", "/admin/v1/products/P000001/prices/gold", {"price": 1_000}),
    ("catalog", "delete", "/admin/v1/categories/dairy/discounts/gold", None),
    ("catalog", "put", "/admin/v1/categories/dairy/discounts/silver", {"percent_bp": 200}),
    ("catalog", "put", "/admin/v1/offers/GOLD-1", GOLD_OFFER),
    ("catalog", "post", "/admin/v1/offers/BDAY-0/disable", None),
    ("catalog", "put", "/admin/v1/tiers/diamond",
     {"name": "Diamond", "rank": 9, "min_spend": 10**9}),
    ("catalog", "post", "/admin/v1/tiers/silver/retire", {"move_to": "basic"}),
    ("members", "get", "/admin/v1/members?q=1", None),
    ("members", "patch", "/admin/v1/members/{member}", {"display_name": "Renamed"}),
    ("members", "post", "/admin/v1/members/merge", {"survivor": "{member}", "absorbed": "{other}"}),
]  # fmt: skip
MAY = {
    "admin": {"accounts", "audit", "stores", "catalog", "members"},
    "operator": {"catalog", "members"},
    "manager": set(),
    "token": set(),
}


def _members(client: Any, headers: dict[str, str]) -> tuple[str, str]:
    found = client.get("/admin/v1/members", params={"q": "a"}, headers=headers).json()
    return found[0]["member_no"], found[1]["member_no"]


def _call(client: Any, request: tuple[str, str, str, Any], headers: dict[str, str],
          fill: dict[str, str]) -> Any:  # fmt: skip
    _, method, path, body = request
    path = path.format(**fill)
    if isinstance(body, dict):
        body = {k: (v.format(**fill) if isinstance(v, str) else v) for k, v in body.items()}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.request(method.upper(), path, **kwargs)


@pytest.fixture
def signed(client: Any, demo: Database) -> Signed:
    return sign_in(client, demo)


@pytest.mark.parametrize("role", ["operator", "manager", "token"])
def test_each_refused_action_is_403_and_writes_nothing(
    client: Any, demo: Database, signed: Signed, role: str
) -> None:
    first, second = _members(client, signed.admin)
    fill = {"member": first, "other": second}
    for request in REQUESTS:
        before = written(demo)
        answer = _call(client, request, signed.of(role), fill)
        if request[0] in MAY[role]:
            assert answer.status_code < 300, (role, request, answer.text)
            continue
        assert answer.status_code == 403, (role, request, answer.text)
        assert answer.json()["error"] == "forbidden"
        assert written(demo) == before, (role, request)


def test_the_admin_may_do_everything(client: Any, demo: Database, signed: Signed) -> None:
    first, second = _members(client, signed.admin)
    for request in REQUESTS:
        answer = _call(client, request, signed.admin, {"member": first, "other": second})
        assert answer.status_code < 300, (request, answer.text)


def test_a_store_manager_reads_reports_of_their_own_stores_only(
    client: Any, signed: Signed
) -> None:
    own = client.get("/admin/v1/reports/daily", params={"store": DEMO_STORE},
                     headers=signed.manager)  # fmt: skip
    assert own.status_code == 200, own.text
    other = client.get("/admin/v1/reports/daily", params={"store": "elsewhere"},
                       headers=signed.manager)  # fmt: skip
    assert other.status_code == 403
    stores = client.get("/admin/v1/stores", headers=signed.manager).json()
    assert [s["store_id"] for s in stores] == [DEMO_STORE]


def test_terminal_and_admin_credentials_do_not_cross(
    client: Any, signed: Signed, lane: Lane
) -> None:
    for request in REQUESTS[:1] + REQUESTS[8:9]:
        assert _call(client, request, lane.headers, {}).status_code == 401
    assert client.get("/admin/v1/whoami").status_code == 401
    for headers in (signed.admin, signed.operator, signed.token):
        assert client.get("/v1/changes", headers=headers).status_code == 401
        assert client.get("/v1/snapshot", headers=headers).status_code == 401
    assert client.get("/admin/v1/whoami", headers=signed.token).json()["role"] == "import"

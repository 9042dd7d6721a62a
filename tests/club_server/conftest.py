"""Fixtures for the club server: a database on SQLite and on PostgreSQL, an app, a live server.

``database`` is parametrized over both backends; the PostgreSQL one creates
its own uniquely named database on 127.0.0.1:5432 (user ``postgres``) and
drops it afterwards, and is skipped when no PostgreSQL answers there.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import uvicorn

from club_server.app import create_app
from club_server.db import Database, open_database
from club_server.demo import DEMO_STORE, seed
from club_server.rulesets import publish
from club_server.sales import ledger_mismatches
from club_server.schema import products, rule_sets
from club_server.terminals import add_terminal
from clubcore.sale import Sale, SaleKind, SaleLine, Tender, new_sale_id
from clubcore.wire import sale_to_wire

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: 09:30 UTC, as the terminal tests' fixed clock
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


class MovableClock:
    """A clock tests can move."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _postgres_admin() -> sqlalchemy.Engine | None:
    engine = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            return engine
    except sqlalchemy.exc.OperationalError:
        engine.dispose()
        return None


def _postgres_database() -> Iterator[str]:
    admin = _postgres_admin()
    if admin is None:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"club_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'club.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """A migrated, empty server database."""
    db = open_database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty server database on SQLite only (for the slower property tests)."""
    db = open_database(str(tmp_path / "club.db"))
    yield db
    db.dispose()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def seed_small(db: Database, keys_dir: Path, now: datetime = NOW) -> list[dict[str, Any]]:
    """The demo store with 300 members and 120 products; returns the demo cards."""
    return seed(db, keys_dir, members=300, products=120, now=now).cards


#: a product of the demo store in a category without member prices, discounts or offers,
#: so that any multiple of its price is an honest sale for anyone (see ``make_sale``)
TEST_SKU, TEST_PRICE = "T000001", 10_000
#: a second such product, at 50,000
TEST_SKU_2 = "T000002"


def add_test_product(db: Database, now: datetime = NOW) -> None:
    """Add :data:`TEST_SKU` and :data:`TEST_SKU_2` to rule set 1, as if the seed had them
    (lanes do not get them)."""
    with db.writing() as conn:
        for sku, price in ((TEST_SKU, TEST_PRICE), (TEST_SKU_2, 50_000)):
            conn.execute(products.insert().values(
                sku=sku, barcode=None, name="Test item", category="test", list_price=price,
                member_only=0, active=1, updated_at=now.isoformat(),
            ))  # fmt: skip
        conn.execute(rule_sets.delete())
        publish(conn, now)


@pytest.fixture
def demo(database: Database, keys_dir: Path) -> Iterator[Database]:
    """The server database seeded with a small demo store (and :data:`TEST_SKU`).

    After the test, whatever it did: every member's balance is their ledger sum,
    and no ledger entry belongs to a number the club has no member for.
    """
    seed_small(database, keys_dir)
    add_test_product(database)
    yield database
    with database.reading() as conn:
        assert ledger_mismatches(conn) == [], "a balance is not its ledger sum"


@dataclass
class Lane:
    """An enrolled terminal: its id, store and the headers to call the API with."""

    terminal_id: str
    store_id: str
    credential: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}


def new_code(db: Database, store: str = DEMO_STORE, now: datetime = NOW) -> str:
    """A fresh enrollment code for a new terminal of ``store``."""
    with db.writing() as conn:
        return add_terminal(conn, store, None, now).code


def enroll_lane(client: Any, db: Database, store: str = DEMO_STORE) -> Lane:
    """Create a terminal on the server and enroll it through the API."""
    answer = client.post("/v1/enroll", json={"code": new_code(db, store), "device": {}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Lane(body["terminal_id"], body["store_id"], body["credential"])


@pytest.fixture
def client(demo: Database, clock: MovableClock) -> Iterator[TestClient]:
    """A TestClient on the seeded demo server."""
    with TestClient(create_app(demo, clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def lane(client: TestClient, demo: Database) -> Lane:
    """A terminal of the demo store, enrolled."""
    return enroll_lane(client, demo)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(demo: Database, clock: MovableClock) -> Iterator[str]:
    """A real uvicorn server on a loopback port, in a thread; yields its base URL."""
    yield from serve(create_app(demo, clock=clock))


def serve(app: Any) -> Iterator[str]:
    """Run ``app`` in uvicorn on a loopback port, in a thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def make_sale(
    lane: Lane,
    *,
    member_no: str | None = None,
    total: int = 100_000,
    earned: int | None = None,
    redeemed: int = 0,
    kind: str = "sale",
    hour: int = 13,
    sale_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A sale in its wire form, from ``lane``'s store and terminal, with one line.

    Honest by default: ``total / TEST_PRICE`` of :data:`TEST_SKU` (the subtotal;
    ``total`` must be a multiple of the price), a member of tier ``basic`` (1x),
    and the points the demo rules earn on it (1 per 10,000 paid) unless
    ``earned`` is given.
    """
    # a void or refund as the lane writes it: the quantity negated, the unit prices as sold
    quantity = total // TEST_PRICE if kind == "sale" else -(-total // TEST_PRICE)
    if earned is None:
        earned = max(total - redeemed * 100, 0) // 10_000 if member_no and kind == "sale" else 0
    line = SaleLine(1, TEST_SKU, "Test item", "test", quantity, TEST_PRICE, TEST_PRICE, "list")
    sale = Sale(
        sale_id=sale_id or new_sale_id(), kind=SaleKind(kind), terminal_id=lane.terminal_id,
        store_id=lane.store_id, created_at=NOW, business_date=NOW.date(), hour=hour,
        rules_version=1, currency="IRT", subtotal_list=total, member_discount=0, subtotal=total,
        points_redeemed=redeemed, points_discount=redeemed * 100, total=total,
        points_earned=earned, tender=Tender.CASH, lines=(line,), member_no=member_no,
        tier="basic" if member_no else None, id_method="card" if member_no else None,
    )  # fmt: skip
    return {**sale_to_wire(sale), **overrides}


def push(client: Any, lane: Lane, *sales: Any) -> list[dict[str, Any]]:
    """POST /v1/sales; the per-item results."""
    answer = client.post("/v1/sales", json={"sales": list(sales)}, headers=lane.headers)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results

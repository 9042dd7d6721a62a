"""The demo store on the server: the terminal's demo data, plus signed demo cards.

Rows come from :mod:`clubcore.demo_rows` (the same generators the terminal's
``demo-data`` uses), bulk-loaded in one transaction (COPY on PostgreSQL),
then one change per row is appended with ``INSERT ... SELECT`` so terminals
enrolled earlier receive everything as deltas. Each member's opening points
balance is an ``adjust`` ledger entry. One signed NFC card per tier is
issued with the club's signing key (generated if there is none).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, func, literal, select

from club_server import schema
from club_server.cards import issue_card
from club_server.changes import record_all
from club_server.clock import iso
from club_server.db import Database
from club_server.entities import ENTITIES
from club_server.keys import generate_key
from club_server.rulesets import publish
from club_server.schema import card_keys, counters, members
from club_server.terminals import ensure_store
from clubcore import demo_rows
from clubcore.errors import ConfigError

__all__ = ["DEMO_STORE", "DemoSummary", "seed"]

DEMO_STORE = "demo-store"
DEMO_TIERS = ("basic", "silver", "gold", "platinum", "vip")
_BATCH = 50_000

Progress = Callable[[str, int, int], None]


@dataclass
class DemoSummary:
    """What :func:`seed` made."""

    members: int
    products: int
    member_prices: int
    offers: int
    cards: list[dict[str, Any]] = field(default_factory=list)


def _load(
    database: Database,
    conn: Connection,
    table: Table,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str] | None = None,
    progress: Progress | None = None,
    total: int = 0,
) -> int:
    if columns is None and table.name in ENTITIES:  # the rows are wire rows
        columns = [c.name for c in ENTITIES[table.name].source_columns()]
    done, iterator = 0, iter(rows)
    while batch := list(islice(iterator, _BATCH)):
        database.bulk_insert(conn, table, batch, columns)
        done += len(batch)
        if progress:
            progress(table.name, done, total)
    return done


def _members(
    database: Database,
    conn: Connection,
    count: int,
    salt: bytes,
    stamp: str,
    progress: Progress | None,
) -> None:
    pairs = demo_rows.member_rows(random.Random(7), count, salt, stamp)
    member_cols = [c.name for c in members.columns][:9]
    done = 0
    while batch := list(islice(pairs, _BATCH)):
        database.bulk_insert(conn, members, [m for m, _ in batch], member_cols)
        database.bulk_insert(
            conn, schema.cards, [c for _, c in batch], [c.name for c in schema.cards.columns][:6]
        )
        ledger = ((m[0], "adjust", m[5], None, stamp) for m, _ in batch if m[5])
        database.bulk_insert(
            conn,
            schema.points_ledger,
            list(ledger),
            ["member_no", "kind", "points", "sale_id", "created_at"],
        )
        done += len(batch)
        if progress:
            progress("members", done, count)


def _settings(salt: bytes) -> Iterator[tuple[str, str]]:
    for key, value in demo_rows.demo_settings(salt).items():
        yield key, str(value)


def seed(
    database: Database,
    keys_dir: Path,
    *,
    members: int = 2_000,
    products: int = 300,
    now: datetime,
    progress: Progress | None = None,
) -> DemoSummary:
    """Fill an empty server with the demo store and issue signed demo cards (one transaction).

    Raises:
        ConfigError: the server already holds store data.
    """
    stamp, salt = iso(now), secrets.token_bytes(16)
    with database.writing() as conn:
        if conn.execute(select(func.count()).select_from(schema.tiers)).scalar():
            raise ConfigError("db", "the server already holds store data")
        ensure_store(conn, DEMO_STORE, now, "Demo store")
        _load(database, conn, schema.tiers, demo_rows.tier_rows())
        _load(database, conn, schema.categories, demo_rows.category_rows())
        _load(database, conn, schema.category_discounts, demo_rows.CATEGORY_DISCOUNTS)
        _load(
            database,
            conn,
            schema.products,
            demo_rows.product_rows(products, stamp),
            progress=progress,
            total=products,
        )
        conn.execute(
            schema.product_barcodes.insert().from_select(
                ["barcode", "sku", "position"],
                select(schema.products.c.barcode, schema.products.c.sku, literal(0)).where(
                    schema.products.c.barcode.is_not(None)
                ),
            )
        )
        prices = _load(database, conn, schema.member_prices, demo_rows.member_price_rows(products))
        _members(database, conn, members, salt, stamp, progress)
        offers = demo_rows.offer_rows(now) if products > 40 and members > 0 else []
        _load(database, conn, schema.offers, offers)
        _load(database, conn, schema.settings, _settings(salt))
        for entity in ENTITIES.values():
            if entity.name != "card_keys":
                record_all(conn, entity)
        conn.execute(counters.insert().values(name="card_serial", value=members + 1))
        conn.execute(counters.insert().values(name="member_index", value=members))
        cards = _demo_cards(conn, keys_dir, now) if members else []
        publish(conn, now)  # the first rule set, as every lane receives it
    database.optimize()
    return DemoSummary(members, products, prices, len(offers), cards)


def _demo_uid(n: int) -> bytes:
    return bytes([0x04, 0xC1, 0x0B, 0x00, 0x00, 0x00, n])


def _demo_cards(conn: Connection, keys_dir: Path, now: datetime) -> list[dict[str, Any]]:
    if conn.execute(select(card_keys.c.key_id).where(card_keys.c.signing == 1)).first() is None:
        generate_key(conn, keys_dir, now)
    issued = []
    for n, tier in enumerate(DEMO_TIERS, 1):
        query = select(members.c.member_no).where(members.c.tier == tier)
        member_no = conn.execute(query.order_by(members.c.member_no).limit(1)).scalar()
        if member_no is None:
            continue
        card = issue_card(
            conn, keys_dir, member_no, _demo_uid(n), now.date() + timedelta(days=730), now
        )
        issued.append({"label": tier, **card})
    return issued

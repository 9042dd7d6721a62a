"""A realistic store for the demo, the tests and the benchmarks.

:func:`seed` fills an empty terminal database with tiers (basic, silver,
gold, platinum and an invitation-only VIP group), categories, products with
barcodes, member prices and category discounts, member-only items, members
with cards, offers (a personal birthday offer, a segment offer, a stacking
weekend offer), a manager and a technician PIN, and the settings a lane
needs. It is deterministic for a given seed and fast enough for a million
members (rows are generated lazily and inserted with ``executemany`` in one
transaction).

:func:`seed_demo` is the one way a terminal gets its demo: the store (by
:func:`seed`) and the demo cards beside the database
(:mod:`terminal.demo_cards`). ``club-terminal demo-data``, ``run --demo``,
the console demo and the screenshots all call it. The rows themselves come
from :mod:`clubcore.demo_rows`, which the club server's demo
(:mod:`club_server.demo`) seeds from too.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import sqlite_utils

from clubcore.demo_rows import (
    CATEGORY_DISCOUNTS,
    category_rows,
    demo_settings,
    member_number,
    member_numbers,
    member_price_rows,
    member_rows,
    offer_rows,
    product_rows,
    tier_rows,
)
from clubcore.settings import STORE_ID, TERMINAL_ID
from offline_store.settings import put_settings
from terminal import demo_cards
from terminal.pins import set_pin

if TYPE_CHECKING:
    from terminal.bootstrap import Terminal

__all__ = [
    "DEMO_CASHIER",
    "DEMO_CASHIER_PIN",
    "DEMO_MANAGER_PIN",
    "DEMO_TECHNICIAN_PIN",
    "SeedSummary",
    "member_number",
    "member_numbers",
    "seed",
    "seed_demo",
]

DEMO_MANAGER_PIN = "1234"
DEMO_TECHNICIAN_PIN = "4321"
#: the demo cashier's staff number and PIN
DEMO_CASHIER = "101"
DEMO_CASHIER_PIN = "2468"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class SeedSummary:
    members: int
    products: int
    member_prices: int
    offers: int
    seconds: float


def _insert_members(
    db: sqlite_utils.Database,
    rng: random.Random,
    count: int,
    salt: bytes,
    stamp: str,
    progress: Progress | None,
) -> None:
    """Members and their cards (a UID-registered card each), in batches."""
    pairs = member_rows(rng, count, salt, stamp)
    done = 0
    while batch := list(islice(pairs, 50_000)):
        db.conn.executemany(
            "INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [m for m, _ in batch]
        )
        db.conn.executemany("INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?)", [c for _, c in batch])
        done += len(batch)
        if progress:
            progress("members", done, count)


def _insert(
    db: sqlite_utils.Database,
    sql: str,
    rows: Iterator[tuple[object, ...]],
    label: str,
    total: int,
    progress: Progress | None,
) -> int:
    done = 0
    while batch := list(islice(rows, 50_000)):
        db.conn.executemany(sql, batch)
        done += len(batch)
        if progress:
            progress(label, done, total)
    return done


def seed(
    db: sqlite_utils.Database,
    *,
    members: int = 2_000,
    products: int = 300,
    seed: int = 7,
    now: datetime,
    progress: Progress | None = None,
) -> SeedSummary:
    """Fill an empty terminal database with a demo store (one transaction).

    Arguments:
        members: how many members (each with one UID-registered card).
        products: how many products.
        seed: the random seed; the same seed gives the same data.
        now: the time offers start around (timezone-aware).
        progress: called with (label, done, total) as rows are written.

    Raises:
        sqlite3.IntegrityError: the database already holds demo data.
    """
    rng = random.Random(seed)
    started = datetime.now()
    stamp = now.isoformat()
    salt = secrets.token_bytes(16)
    with db.atomic():
        db.conn.executemany("INSERT INTO tiers VALUES (?, ?, ?, ?, ?, ?, ?)", tier_rows())
        db.conn.executemany("INSERT INTO categories VALUES (?, ?, ?)", category_rows())
        db.conn.executemany("INSERT INTO category_discounts VALUES (?, ?, ?)", CATEGORY_DISCOUNTS)
        _insert(
            db,
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            product_rows(products, stamp),
            "products",
            products,
            progress,
        )
        prices = _insert(
            db,
            "INSERT INTO member_prices VALUES (?, ?, ?)",
            member_price_rows(products),
            "member prices",
            products * 3 // 2,
            progress,
        )
        _insert_members(db, rng, members, salt, stamp, progress)
        offers = offer_rows(now) if products > 40 and members > 0 else []
        db.conn.executemany(
            "INSERT INTO offers (offer_id, title, message, unit_price, percent_bp, sku, category, "
            "target_member, target_segment, target_tier, starts_at, ends_at, stacks, texts) "
            f"VALUES ({', '.join('?' * 14)})",
            offers,
        )
        put_settings(
            db,
            {**demo_settings(salt), TERMINAL_ID.key: "demo-lane-1", STORE_ID.key: "demo-store"},
        )
        set_pin(db, "manager", "Store manager", "manager", DEMO_MANAGER_PIN)
        set_pin(db, "technician", "Technician", "technician", DEMO_TECHNICIAN_PIN)
        set_pin(db, DEMO_CASHIER, "Sara Ahmadi", "cashier", DEMO_CASHIER_PIN)
    seconds = (datetime.now() - started).total_seconds()
    return SeedSummary(members, products, prices, len(offers), seconds)


def seed_demo(terminal: Terminal, **options: Any) -> SeedSummary:
    """Seed the demo store into an empty terminal and save its demo cards beside the database.

    Arguments:
        options: passed to :func:`seed` (``members``, ``products``, ``seed``,
            ``progress``); ``now`` defaults to the terminal's clock.

    Raises:
        sqlite3.IntegrityError: the database already holds demo data.
    """
    options.setdefault("now", terminal.clock())
    summary = seed(terminal.db, **options)
    cards = demo_cards.issue_demo_cards(terminal.db, terminal.clock())
    demo_cards.save(cards, terminal.data_dir / demo_cards.DEMO_CARDS_FILE)
    return summary

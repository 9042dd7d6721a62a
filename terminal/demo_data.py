"""A realistic store for the demo, the tests and the benchmarks.

:func:`seed` fills an empty terminal database with tiers (basic, silver,
gold, platinum and an invitation-only VIP group), categories, products with
barcodes, member prices and category discounts, member-only items, members
with cards, offers (a personal birthday offer, a segment offer, a stacking
weekend offer), a manager and a technician PIN, and the settings a lane
needs. It is deterministic for a given seed and fast enough for a million
members (rows are generated lazily and inserted with ``executemany`` in one
transaction).
"""

from __future__ import annotations

import json
import random
import secrets
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate, islice

import sqlite_utils

from offline_store.catalog import put_settings
from terminal.entry import e164_lookup_key, luhn_check_digit
from terminal.pins import set_pin

__all__ = [
    "DEMO_MANAGER_PIN",
    "DEMO_TECHNICIAN_PIN",
    "SeedSummary",
    "member_number",
    "member_numbers",
    "seed",
]

DEMO_MANAGER_PIN = "1234"
DEMO_TECHNICIAN_PIN = "4321"

Progress = Callable[[str, int, int], None]

TIERS = [
    # code, name, rank, min 12-month spend (rial), earn multiplier bp, assignable, benefits
    ("basic", "Basic", 1, 0, 10_000, True, ["Member prices"]),
    ("silver", "Silver", 2, 20_000_000, 12_500, True, ["Member prices", "1.25x points"]),
    ("gold", "Gold", 3, 60_000_000, 15_000, True, ["Gold prices", "1.5x points"]),
    ("platinum", "Platinum", 4, 150_000_000, 20_000, True, ["Best prices", "2x points"]),
    ("vip", "VIP", 5, 0, 25_000, False, ["Best prices", "2.5x points", "Personal offers"]),
]
TIER_WEIGHTS = {"basic": 60, "silver": 25, "gold": 10, "platinum": 4, "vip": 1}
SEGMENTS = ["new", "family", "winback", "student"]

CATEGORIES = {
    "dairy": ("Dairy", ["Milk 1L", "Yogurt 900g", "Doogh 1.5L", "Feta cheese 400g", "Butter 100g"]),
    "bakery": ("Bakery", ["Barbari bread", "Sangak bread", "Lavash pack", "Sponge cake"]),
    "produce": ("Fruit & veg", ["Apples 1kg", "Tomatoes 1kg", "Cucumbers 1kg", "Herbs bunch"]),
    "meat": ("Meat & fish", ["Chicken breast 1kg", "Minced beef 500g", "Salmon fillet 400g"]),
    "beverages": ("Beverages", ["Black tea 500g", "Mineral water 1.5L", "Orange juice 1L"]),
    "snacks": ("Snacks", ["Pistachios 250g", "Dates 500g", "Gaz 250g", "Potato chips 150g"]),
    "pantry": ("Pantry", ["Basmati rice 5kg", "Saffron 1g", "Sunflower oil 1.5L", "Lentils 1kg"]),
    "frozen": ("Frozen", ["Frozen peas 1kg", "Ice cream 1L", "Frozen shrimp 500g"]),
    "household": ("Household", ["Dish soap 1L", "Laundry powder 3kg", "Paper towels 4x"]),
    "personal": ("Personal care", ["Shampoo 400ml", "Toothpaste 100ml", "Hand cream 75ml"]),
    "baby": ("Baby", ["Diapers size 3", "Baby wipes 72x", "Infant formula 400g"]),
}
BRANDS = ["Kaleh", "Pegah", "Mihan", "Golrang", "Sahar", "Tabiat", "Damdaran", "Shirin"]
FIRST_NAMES = [
    "Sara",
    "Ali",
    "Maryam",
    "Reza",
    "Zahra",
    "Mohammad",
    "Fatemeh",
    "Hossein",
    "Narges",
    "Amir",
    "Leila",
    "Mehdi",
    "Neda",
    "Hamid",
    "Shirin",
    "Kian",
]
CATEGORY_DISCOUNTS = [
    ("dairy", "gold", 300),
    ("dairy", "platinum", 500),
    ("baby", "silver", 500),
    ("baby", "gold", 700),
    ("baby", "platinum", 1000),
    ("produce", "vip", 800),
]


@dataclass(frozen=True, slots=True)
class SeedSummary:
    members: int
    products: int
    member_prices: int
    offers: int
    seconds: float


def member_number(index: int) -> str:
    """The demo member number for the ``index``-th member: 9 digits and a Luhn digit."""
    base = str(100_000_000 + index)
    return base + luhn_check_digit(base)


def _tiers(db: sqlite_utils.Database) -> None:
    db.conn.executemany(
        "INSERT INTO tiers VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(c, n, r, s, m, int(a), json.dumps(b)) for c, n, r, s, m, a, b in TIERS],
    )


def _list_price(index: int) -> int:
    return ((index * 617) % 1_980 + 20) * 1_000  # 20,000 .. 1,999,000 rial, well spread


def _products(count: int, stamp: str) -> Iterator[tuple[object, ...]]:
    names = [(cat, name) for cat, (_, items) in CATEGORIES.items() for name in items]
    for index in range(count):
        category, name = names[index % len(names)]
        brand = BRANDS[(index // len(names)) % len(BRANDS)]
        variant = index // (len(names) * len(BRANDS))
        label = f"{brand} {name}" + (f" #{variant + 1}" if variant else "")
        base = f"626{index:09d}"
        member_only = index % 97 == 13
        yield (
            f"P{index:06d}",
            base + _ean_check(base),
            label,
            category,
            _list_price(index),
            int(member_only),
            1,
            stamp,
        )


def _ean_check(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return str(-total % 10)


#: percent off list for member prices, by tier (plus 0-4 % by product)
MEMBER_PRICE_PCT = {"basic": 3, "silver": 5, "gold": 8, "platinum": 10, "vip": 12}


def _member_prices(count: int) -> Iterator[tuple[object, ...]]:
    for index in range(count):
        if index % 10 >= 3:  # 30 % of products have member prices
            continue
        price = _list_price(index)
        for tier, pct in MEMBER_PRICE_PCT.items():
            member_price = price * (100 - pct - index % 5) // 100 // 100 * 100
            yield (f"P{index:06d}", tier, member_price)


def member_numbers(count: int) -> Iterator[str]:
    """``member_number(i)`` for i in ``range(count)``, ten times faster in bulk.

    The Luhn sum of a number's prefix is shared by the ten numbers that differ
    only in their last digit, so it is computed once per ten.
    """
    for prefix in range(10_000_000, 10_000_000 + (count + 9) // 10):
        text = str(prefix)
        rest = sum(int(c) for c in text[-1::-2]) + sum(_DOUBLED[int(c)] for c in text[-2::-2])
        for last in range(10):
            if (prefix - 10_000_000) * 10 + last >= count:
                return
            yield f"{text}{last}{-(rest + _DOUBLED[last]) % 10}"


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _insert_members(
    db: sqlite_utils.Database,
    rng: random.Random,
    count: int,
    salt: bytes,
    stamp: str,
    progress: Progress | None,
) -> None:
    """Members and their cards (a UID-registered card each), in batches."""
    total_weight = sum(TIER_WEIGHTS.values())
    thresholds = list(accumulate(w / total_weight for w in TIER_WEIGHTS.values()))
    tiers = list(TIER_WEIGHTS)
    random = rng.random
    numbers = enumerate(member_numbers(count))
    while batch := list(islice(numbers, 50_000)):
        members, cards = [], []
        for index, number in batch:
            tier = tiers[bisect(thresholds, random())] if index else "basic"
            name = f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {chr(65 + int(random() * 26))}."
            segments = ",".join(s for s in SEGMENTS if random() < 0.1)
            phone_key = e164_lookup_key(f"+98912{index:07d}", salt)
            points, spend = int(random() * 20_000), int(random() * 200_000_000)
            members.append((number, name, tier, segments, phone_key, points, spend, "active",
                            stamp))  # fmt: skip
            cards.append((str(index + 1), f"04{index:012X}", number, "uid-only", None, stamp))
        db.conn.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", members)
        db.conn.executemany("INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?)", cards)
        if progress:
            progress("members", batch[-1][0] + 1, count)


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


def _offers(now: datetime) -> list[tuple[object, ...]]:
    day = timedelta(days=1)
    start, end = (now - day).isoformat(), (now + 30 * day).isoformat()
    return [
        # offer_id, title, message, unit_price, percent_bp, sku, category,
        # target_member, target_segment, target_tier, starts_at, ends_at, stacks
        (
            "BDAY-0",
            "Happy birthday!",
            "20% off all bakery today",
            None,
            2_000,
            None,
            "bakery",
            member_number(0),
            None,
            None,
            start,
            end,
            0,
        ),
        (
            "FAMILY-BABY",
            "Family club",
            "Diapers at a family price",
            450_000,
            None,
            "P000040",
            None,
            None,
            "family",
            None,
            start,
            end,
            0,
        ),
        (
            "GOLD-TEA",
            "Gold tea week",
            "Tea for gold members",
            None,
            1_500,
            None,
            "beverages",
            None,
            None,
            "gold",
            start,
            end,
            0,
        ),
        (
            "WEEKEND-5",
            "Weekend extra",
            "Extra 5% on snacks, on top of member prices",
            None,
            500,
            None,
            "snacks",
            None,
            None,
            None,
            start,
            end,
            1,
        ),
    ]


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
        _tiers(db)
        db.conn.executemany(
            "INSERT INTO categories VALUES (?, ?, NULL)",
            [(code, name) for code, (name, _) in CATEGORIES.items()],
        )
        db.conn.executemany("INSERT INTO category_discounts VALUES (?, ?, ?)", CATEGORY_DISCOUNTS)
        _insert(
            db,
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            _products(products, stamp),
            "products",
            products,
            progress,
        )
        prices = _insert(
            db,
            "INSERT INTO member_prices VALUES (?, ?, ?)",
            _member_prices(products),
            "member prices",
            products * 3 // 2,
            progress,
        )
        _insert_members(db, rng, members, salt, stamp, progress)
        offers = _offers(now) if products > 40 and members > 0 else []
        db.conn.executemany(f"INSERT INTO offers VALUES ({', '.join('?' * 13)})", offers)
        put_settings(
            db,
            {
                "rules_version": 1,
                "currency": "IRT",
                "timezone": "Asia/Tehran",
                "terminal_id": "demo-lane-1",
                "store_id": "demo-store",
                "phone_salt": salt.hex(),
                "points.earn_per_amount": 10_000,
                "points.point_value": 100,
                "points.max_redeem_bp": 5_000,
                "points.min_redeem": 100,
                "offline.redeem_cap_points": 20_000,
            },
        )
        set_pin(db, "manager", "Store manager", "manager", DEMO_MANAGER_PIN)
        set_pin(db, "technician", "Technician", "technician", DEMO_TECHNICIAN_PIN)
    seconds = (datetime.now() - started).total_seconds()
    return SeedSummary(members, products, prices, len(offers), seconds)

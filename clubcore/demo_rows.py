"""The demo store's rows, shared by the terminal's and the server's demo data.

Pure generators of row tuples, in the column order of the entities of
``docs/sync-protocol.md`` (and of the terminal's tables of the same name); no
database here. ``terminal.demo_data`` inserts them into a lane's SQLite file,
``club_server.demo`` into the club server's database. Both get the same
store for the same seed (except the random phone salt).
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import accumulate

from clubcore.identity import e164_lookup_key

__all__ = [
    "BRANDS",
    "CATEGORIES",
    "CATEGORY_DISCOUNTS",
    "FIRST_NAMES",
    "MEMBER_PRICE_PCT",
    "SEGMENTS",
    "TIERS",
    "TIER_WEIGHTS",
    "category_rows",
    "demo_settings",
    "member_number",
    "member_numbers",
    "member_price_rows",
    "member_rows",
    "offer_rows",
    "product_rows",
    "tier_rows",
]

TIERS = [
    # code, name, rank, min 12-month spend (rial), earn multiplier bp, assignable, benefits
    ("basic", "Basic", 1, 0, 10_000, True, ["Member prices"]),
    ("silver", "Silver", 2, 20_000_000, 12_500, True, ["Member prices", "1.25x points"]),
    ("gold", "Gold", 3, 60_000_000, 15_000, True, ["Gold prices", "1.5x points"]),
    ("platinum", "Platinum", 4, 150_000_000, 20_000, True, ["Best prices", "2x points"]),
    ("vip", "VIP", 5, 0, 25_000, False, ["Best prices", "2.5x points", "Personal offers"]),
]
TIER_WEIGHTS = {"basic": 60, "silver": 25, "gold": 10, "platinum": 4, "vip": 1}
#: a demo member's 12-month spend lies in their tier's band (VIP is club-assigned: any)
SPEND_BANDS = {
    "basic": (0, 20_000_000),
    "silver": (20_000_000, 60_000_000),
    "gold": (60_000_000, 150_000_000),
    "platinum": (150_000_000, 250_000_000),
    "vip": (0, 250_000_000),
}
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
    "Sara", "Ali", "Maryam", "Reza", "Zahra", "Mohammad", "Fatemeh", "Hossein",
    "Narges", "Amir", "Leila", "Mehdi", "Neda", "Hamid", "Shirin", "Kian",
]  # fmt: skip
CATEGORY_DISCOUNTS = [
    ("dairy", "gold", 300),
    ("dairy", "platinum", 500),
    ("baby", "silver", 500),
    ("baby", "gold", 700),
    ("baby", "platinum", 1000),
    ("produce", "vip", 800),
]
#: percent off list for member prices, by tier (plus 0-4 % by product)
MEMBER_PRICE_PCT = {"basic": 3, "silver": 5, "gold": 8, "platinum": 10, "vip": 12}

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: 2d, less 9 when over 9


def member_number(index: int) -> str:
    """The demo member number for the ``index``-th member: 9 digits and a Luhn digit."""
    base = str(100_000_000 + index)
    doubled = sum(_DOUBLED[int(c)] for c in base[-1::-2])
    return base + str(-(doubled + sum(int(c) for c in base[-2::-2])) % 10)


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


def tier_rows() -> list[tuple[object, ...]]:
    """(code, name, rank, min_spend, earn_multiplier_bp, assignable, benefits JSON)."""
    return [(c, n, r, s, m, int(a), json.dumps(b)) for c, n, r, s, m, a, b in TIERS]


def category_rows() -> list[tuple[object, ...]]:
    """(code, name, parent)."""
    return [(code, name, None) for code, (name, _) in CATEGORIES.items()]


def _list_price(index: int) -> int:
    return ((index * 617) % 1_980 + 20) * 1_000  # 20,000 .. 1,999,000 rial, well spread


def _ean_check(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return str(-total % 10)


def product_rows(count: int, stamp: str) -> Iterator[tuple[object, ...]]:
    """(sku, barcode, name, category, list_price, member_only, active, updated_at)."""
    names = [(cat, name) for cat, (_, items) in CATEGORIES.items() for name in items]
    for index in range(count):
        category, name = names[index % len(names)]
        brand = BRANDS[(index // len(names)) % len(BRANDS)]
        variant = index // (len(names) * len(BRANDS))
        label = f"{brand} {name}" + (f" #{variant + 1}" if variant else "")
        base = f"626{index:09d}"
        member_only = index % 97 == 13
        yield (f"P{index:06d}", base + _ean_check(base), label, category,
               _list_price(index), int(member_only), 1, stamp)  # fmt: skip


def member_price_rows(count: int) -> Iterator[tuple[object, ...]]:
    """(sku, tier, price) for the 30 % of ``count`` products that have member prices."""
    for index in range(count):
        if index % 10 >= 3:
            continue
        price = _list_price(index)
        for tier, pct in MEMBER_PRICE_PCT.items():
            member_price = price * (100 - pct - index % 5) // 100 // 100 * 100
            yield (f"P{index:06d}", tier, member_price)


def member_rows(
    rng: random.Random, count: int, salt: bytes, stamp: str
) -> Iterator[tuple[tuple[object, ...], tuple[object, ...]]]:
    """(member, card) row pairs; each member has one UID-registered card.

    member: (member_no, display_name, tier, segments, phone_hash, points,
    spend_12m, status, updated_at); card: (serial, uid, member_no, kind,
    expires, updated_at). The member's phone is ``+98912`` and the index in
    seven digits.
    """
    total_weight = sum(TIER_WEIGHTS.values())
    thresholds = list(accumulate(w / total_weight for w in TIER_WEIGHTS.values()))
    tiers = list(TIER_WEIGHTS)
    rand = rng.random
    for index, number in enumerate(member_numbers(count)):
        tier = tiers[bisect(thresholds, rand())] if index else "basic"
        if index < len(tiers):  # the first members cover every tier (one demo card each)
            tier = tiers[index]
        name = f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {chr(65 + int(rand() * 26))}."
        segments = ",".join(s for s in SEGMENTS if rand() < 0.1)
        phone_key = e164_lookup_key(f"+98912{index:07d}", salt)
        low, high = SPEND_BANDS[tier]
        points, spend = int(rand() * 20_000), low + int(rand() * (high - low))
        yield (
            (number, name, tier, segments, phone_key, points, spend, "active", stamp),
            (str(index + 1), f"04{index:012X}", number, "uid-only", None, stamp),
        )


def offer_rows(now: datetime) -> list[tuple[object, ...]]:
    """The demo offers (offer_id, title, message, unit_price, percent_bp, sku, category,
    target_member, target_segment, target_tier, starts_at, ends_at, stacks, texts)."""
    day = timedelta(days=1)
    start, end = (now - day).isoformat(), (now + 30 * day).isoformat()
    birthday = member_number(0)

    def fa(title: str, message: str) -> str:
        return json.dumps({"fa": {"title": title, "message": message}}, ensure_ascii=False)

    return [
        ("BDAY-0", "Happy birthday!", "20% off all bakery today", None, 2_000, None, "bakery",
         birthday, None, None, start, end, 0,
         fa("تولدتان مبارک!", "امروز ۲۰٪ تخفیف روی همه نان‌ها")),
        ("FAMILY-BABY", "Family club", "Diapers at a family price", 450_000, None, "P000040",
         None, None, "family", None, start, end, 0,
         fa("باشگاه خانواده", "پوشک با قیمت ویژه خانواده")),
        ("GOLD-TEA", "Gold tea week", "Tea for gold members", None, 1_500, None, "beverages",
         None, None, "gold", start, end, 0,
         fa("هفته چای طلایی", "چای برای اعضای طلایی")),
        ("WEEKEND-5", "Weekend extra", "Extra 5% on snacks, on top of member prices", None, 500,
         None, "snacks", None, None, None, start, end, 1,
         fa("جایزه آخر هفته", "۵٪ تخفیف بیشتر روی تنقلات، علاوه بر قیمت اعضا")),
    ]  # fmt: skip


def demo_settings(salt: bytes) -> dict[str, object]:
    """The club-wide settings of the demo store (what every lane receives)."""
    return {
        "rules_version": 1,
        "currency": "IRT",
        "timezone": "Asia/Tehran",
        "phone_salt": salt.hex(),
        "points.earn_per_amount": 10_000,
        "points.point_value": 100,
        "points.max_redeem_bp": 5_000,
        "points.min_redeem": 100,
        "offline.redeem_cap_points": 20_000,
    }

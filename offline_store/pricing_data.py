"""The pricing data in the local cache: products, prices, offers, tiers, the rule set.

Queries are shaped for the checkout's hot path: a basket of 50 lines is
priced with one query for products, one for member prices and one for
category discounts, all by primary key.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlite_utils

from clubcore.errors import UnknownProductError
from clubcore.pricing import Offer, ProductPricing, RuleSet
from clubcore.tiers import Tier
from offline_store.settings import read_settings

__all__ = [
    "ProductRow",
    "categories",
    "count_products",
    "find_product",
    "load_rules",
    "load_tiers",
    "offer_texts",
    "offers_for",
    "pricing_for",
    "products_in",
    "search_products",
]


def load_tiers(db: sqlite_utils.Database) -> dict[str, Tier]:
    """Every tier, by code."""
    tiers = {}
    for row in db.query("SELECT * FROM tiers ORDER BY rank"):
        tiers[row["code"]] = Tier(
            code=row["code"],
            name=row["name"],
            rank=row["rank"],
            min_spend=row["min_spend"],
            earn_multiplier_bp=row["earn_multiplier_bp"],
            assignable=bool(row["assignable"]),
            benefits=tuple(json.loads(row["benefits"])),
        )
    return tiers


def load_rules(db: sqlite_utils.Database) -> RuleSet:
    """The current rule set: version, tiers and points policy from settings.

    Raises:
        ConfigError: a points setting is malformed or out of range.
    """
    settings = read_settings(db)
    return RuleSet(
        version=settings.rules_version, tiers=load_tiers(db), points=settings.points_policy
    )


def find_product(db: sqlite_utils.Database, code: str) -> str:
    """The SKU of an active product by SKU or barcode.

    Raises:
        UnknownProductError: no active product has this SKU or barcode.
    """
    row = db.execute(
        "SELECT sku FROM products WHERE sku = ? AND active "
        "UNION ALL SELECT sku FROM products WHERE barcode = ? AND active LIMIT 1",
        [code, code],
    ).fetchone()
    if row is None:
        raise UnknownProductError(f"no product with code {code!r}", hint="check the SKU or barcode")
    return str(row[0])


def _in_clause(values: Sequence[str]) -> str:
    return ",".join("?" * len(values))


def pricing_for(db: sqlite_utils.Database, skus: Iterable[str]) -> dict[str, ProductPricing]:
    """Pricing data for every active product among ``skus``, by SKU.

    Raises:
        UnknownProductError: a SKU is unknown or inactive.
    """
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    marks = _in_clause(wanted)
    products = db.execute(
        "SELECT sku, name, category, list_price, member_only FROM products "
        f"WHERE active AND sku IN ({marks})",
        wanted,
    ).fetchall()
    missing = set(wanted) - {row[0] for row in products}
    if missing:
        raise UnknownProductError(f"no product with code {sorted(missing)[0]!r}")
    member_prices: dict[str, dict[str, int]] = defaultdict(dict)
    for sku, tier, price in db.execute(
        f"SELECT sku, tier, price FROM member_prices WHERE sku IN ({marks})", wanted
    ):
        member_prices[sku][tier] = price
    categories = sorted({row[2] for row in products})
    discounts: dict[str, dict[str, int]] = defaultdict(dict)
    for category, tier, bp in db.execute(
        "SELECT category, tier, percent_bp FROM category_discounts "
        f"WHERE category IN ({_in_clause(categories)})",
        categories,
    ):
        discounts[category][tier] = bp
    return {
        sku: ProductPricing(
            sku=sku,
            name=name,
            category=category,
            list_price=list_price,
            member_only=bool(member_only),
            member_prices=MappingProxyType(member_prices.get(sku, {})),
            category_discounts_bp=MappingProxyType(discounts.get(category, {})),
        )
        for sku, name, category, list_price, member_only in products
    }


def _offer(row: dict[str, Any]) -> Offer:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return Offer(
        offer_id=row["offer_id"],
        title=row["title"],
        message=row["message"],
        unit_price=row["unit_price"],
        percent_bp=row["percent_bp"],
        sku=row["sku"],
        category=row["category"],
        target_member=row["target_member"],
        target_segment=row["target_segment"],
        target_tier=row["target_tier"],
        starts_at=when(row["starts_at"]),
        ends_at=when(row["ends_at"]),
        stacks=bool(row["stacks"]),
        texts=offer_texts(row.get("texts")),
    )


def offer_texts(raw: object) -> tuple[tuple[str, str, str], ...]:
    """An offer's translations from its ``texts`` JSON: ``{"fa": {"title", "message"}}``.

    Malformed translations are left out (the offer keeps its own words): a
    display text must never stop a sale.
    """
    try:
        texts = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return ()
    if not isinstance(texts, dict):
        return ()
    out = []
    for code, text in sorted(texts.items()):
        if isinstance(text, dict) and isinstance(text.get("title"), str):
            message = text.get("message", "")
            out.append((code, text["title"], message if isinstance(message, str) else ""))
    return tuple(out)


def offers_for(db: sqlite_utils.Database, member_no: str, now: datetime) -> list[Offer]:
    """Active offers that may apply to ``member_no``: personal ones and general ones.

    Segment and tier targeting is decided by the pricing engine. Whether an
    offer is active is judged on its times as instants
    (:meth:`~clubcore.pricing.Offer.is_active`, as the server's re-pricing
    judges it), never on their text: ISO times written in different UTC
    offsets do not sort as text in time order.
    """
    rows = db.query(
        "SELECT * FROM offers WHERE target_member = ? OR target_member IS NULL ORDER BY offer_id",
        [member_no],
    )
    return [offer for offer in map(_offer, rows) if offer.is_active(now)]


# -- browsing (the product buttons of the checkout screen) ----------------------------


@dataclass(frozen=True, slots=True)
class ProductRow:
    """A product as a button shows it."""

    sku: str
    name: str
    list_price: int
    member_only: bool


def _product_rows(rows: Iterable[Sequence[Any]]) -> list[ProductRow]:
    return [ProductRow(str(s), str(n), int(p), bool(m)) for s, n, p, m in rows]


def categories(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(code, name) of every category that has active products, by name."""
    rows = db.execute(
        "SELECT code, name FROM categories c WHERE EXISTS "
        "(SELECT 1 FROM products p WHERE p.category = c.code AND p.active) ORDER BY c.name"
    ).fetchall()
    return [(str(code), str(name)) for code, name in rows]


def products_in(
    db: sqlite_utils.Database, category: str, offset: int, limit: int
) -> list[ProductRow]:
    """A page of a category's active products, by SKU."""
    return _product_rows(
        db.execute(
            "SELECT sku, name, list_price, member_only FROM products "
            "WHERE category = ? AND active ORDER BY sku LIMIT ? OFFSET ?",
            [category, limit, offset],
        ).fetchall()
    )


def search_products(db: sqlite_utils.Database, digits: str, limit: int) -> list[ProductRow]:
    """Active products whose SKU or barcode contains ``digits``, by SKU."""
    if not digits:
        return []
    like = f"%{digits}%"
    return _product_rows(
        db.execute(
            "SELECT sku, name, list_price, member_only FROM products "
            "WHERE active AND (sku LIKE ? OR barcode LIKE ?) ORDER BY sku LIMIT ?",
            [like, like, limit],
        ).fetchall()
    )


def count_products(db: sqlite_utils.Database) -> int:
    """How many products the cache holds (active or not)."""
    return int(db.execute("SELECT COUNT(*) FROM products").fetchone()[0])

"""Member prices per product per tier, and category percentages per tier.

Both are part of the rule set: every change publishes it (a new
``rules_version`` lanes receive with the row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import audited_delete, audited_upsert
from club_server.admin.categories import get_category
from club_server.admin.models import CategoryDiscountIn, MemberPriceIn
from club_server.schema import category_discounts, member_prices, products, tiers
from clubcore.errors import FormatError, NotFoundError

__all__ = [
    "delete_category_discount",
    "delete_member_price",
    "list_category_discounts",
    "list_member_prices",
    "put_category_discount",
    "put_member_price",
    "tier_in_use",
]


def tier_in_use(conn: Connection, code: str) -> None:
    """Raises FormatError unless ``code`` is a tier that is not retired."""
    query = select(tiers.c.code).where(tiers.c.code == code, tiers.c.retired_at.is_(None))
    if conn.execute(query).first() is None:
        raise FormatError(f"unknown or retired tier {code!r}")


def put_member_price(
    conn: Connection, actor: Actor, now: datetime, sku: str, tier: str, body: MemberPriceIn
) -> dict[str, Any]:
    """Set a product's member price for a tier.

    Raises:
        RequestRefusedError: 403 forbidden.
        FormatError: an unknown product or tier; above list price without ``above_list``.
    """
    require(actor, Action.CATALOG)
    tier_in_use(conn, tier)
    query = select(products.c.list_price).where(products.c.sku == sku)
    list_price = conn.execute(query).scalar()
    if list_price is None:
        raise FormatError(f"unknown product {sku!r}")
    if body.price > list_price and not body.above_list:
        raise FormatError(
            f"member price {body.price} is above the list price {list_price} of {sku}"
            " (set above_list to mean it)"
        )
    audited_upsert(
        conn, actor, now, "member_prices", {"sku": sku, "tier": tier, "price": body.price}
    )
    return {"sku": sku, "tier": tier, "price": body.price}


def delete_member_price(conn: Connection, actor: Actor, now: datetime, sku: str, tier: str) -> None:
    """Remove a member price (the product is then priced by category or list).

    Raises:
        NotFoundError: there was none.
    """
    require(actor, Action.CATALOG)
    if not audited_delete(conn, actor, now, "member_prices", f"{sku}|{tier}"):
        raise NotFoundError(f"no member price for {sku} in tier {tier}")


def list_member_prices(conn: Connection, actor: Actor, sku: str) -> list[dict[str, Any]]:
    """A product's member prices, by tier."""
    require(actor, Action.CATALOG)
    query = select(member_prices).where(member_prices.c.sku == sku).order_by(member_prices.c.tier)
    return [dict(r._mapping) for r in conn.execute(query)]


def put_category_discount(
    conn: Connection,
    actor: Actor,
    now: datetime,
    category: str,
    tier: str,
    body: CategoryDiscountIn,
) -> dict[str, Any]:
    """Set a category's member percentage for a tier.

    Raises:
        RequestRefusedError: 403 forbidden.
        FormatError: an unknown category or tier.
    """
    require(actor, Action.CATALOG)
    tier_in_use(conn, tier)
    get_category(conn, actor, category, missing=FormatError)
    row = {"category": category, "tier": tier, "percent_bp": body.percent_bp}
    audited_upsert(conn, actor, now, "category_discounts", row)
    return row


def delete_category_discount(
    conn: Connection, actor: Actor, now: datetime, category: str, tier: str
) -> None:
    """Remove a category percentage.

    Raises:
        NotFoundError: there was none.
    """
    require(actor, Action.CATALOG)
    if not audited_delete(conn, actor, now, "category_discounts", f"{category}|{tier}"):
        raise NotFoundError(f"no discount for category {category} in tier {tier}")


def list_category_discounts(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every category percentage."""
    require(actor, Action.CATALOG)
    query = select(category_discounts).order_by(
        category_discounts.c.category, category_discounts.c.tier
    )
    return [dict(r._mapping) for r in conn.execute(query)]

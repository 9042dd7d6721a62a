"""Member prices per product per tier, and category percentages per tier.

Both are part of the rule set: every change publishes it (a new
``rules_version`` lanes receive with the row). Their rules (not negative, not
above the list price unless ``above_list``, 0..100 %, known tier, product and
category) are :mod:`clubcore.records`'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import audited_delete, audited_upsert
from club_server.admin.models import CategoryDiscountIn, MemberPriceIn
from club_server.known import category_codes, list_prices, tier_codes
from club_server.schema import category_discounts, member_prices
from clubcore.errors import NotFoundError
from clubcore.records import CategoryDiscountRecord, Known, MemberPriceRecord, validate

__all__ = [
    "delete_category_discount",
    "delete_member_price",
    "list_category_discounts",
    "list_member_prices",
    "put_category_discount",
    "put_member_price",
]


def put_member_price(
    conn: Connection, actor: Actor, now: datetime, sku: str, tier: str, body: MemberPriceIn
) -> dict[str, Any]:
    """Set a product's member price for a tier.

    Raises:
        RequestRefusedError: 403 forbidden.
        RecordError: an unknown product or tier; above list price without ``above_list``.
    """
    require(actor, Action.CATALOG)
    record = MemberPriceRecord(sku, tier, body.price, body.above_list)
    validate(record, Known(tiers=tier_codes(conn), list_prices=list_prices(conn, [sku])))
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
        RecordError: an unknown category or tier, a percentage beyond 0..100 %.
    """
    require(actor, Action.CATALOG)
    record = CategoryDiscountRecord(category, tier, body.percent_bp)
    validate(record, Known(tiers=tier_codes(conn), categories=category_codes(conn)))
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

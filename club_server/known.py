"""What the club knows that rows are checked against (:class:`clubcore.records.Known`).

The admin services check one row with a :class:`~clubcore.records.Known` of
what that row names; the importer reads the whole of each once per file.
Both read it here, so a retired tier is unknown to both.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from club_server.schema import categories, products, tiers
from clubcore.errors import FormatError

__all__ = ["category_codes", "list_prices", "tier_codes", "tier_in_use"]


def tier_codes(conn: Connection) -> frozenset[str]:
    """The codes of the tiers in use (retired tiers are not)."""
    query = select(tiers.c.code).where(tiers.c.retired_at.is_(None))
    return frozenset(conn.execute(query).scalars())


def tier_in_use(conn: Connection, code: str) -> None:
    """Check that ``code`` is a tier in use (a member may be moved to it).

    Raises:
        FormatError: an unknown or retired tier.
    """
    query = select(tiers.c.code).where(tiers.c.code == code, tiers.c.retired_at.is_(None))
    if conn.execute(query).first() is None:
        raise FormatError(f"unknown or retired tier {code!r}")


def category_codes(conn: Connection) -> frozenset[str]:
    """Every category's code."""
    return frozenset(conn.execute(select(categories.c.code)).scalars())


def list_prices(conn: Connection, skus: Collection[str] | None = None) -> dict[str, int]:
    """SKU -> list price of the products in ``skus`` that exist (None: every product)."""
    query = select(products.c.sku, products.c.list_price)
    if skus is not None:
        query = query.where(products.c.sku.in_(list(skus)))
    return {str(sku): int(price) for sku, price in conn.execute(query)}

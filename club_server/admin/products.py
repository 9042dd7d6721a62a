"""Products: SKU, barcodes, names with translations, category, list price, flags.

A product may carry several barcodes (table ``product_barcodes``, each
check-digit validated by :mod:`club_server.admin.barcodes`); lanes get the
first as ``products.barcode`` (the wire carries one), and one barcode belongs
to one product. Every change publishes the rule set (:mod:`club_server.upserts`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import current_row, record_audit
from club_server.admin.categories import get_category
from club_server.admin.models import ProductIn
from club_server.clock import iso
from club_server.schema import product_barcodes, products
from club_server.upserts import upsert
from clubcore.errors import FormatError, NotFoundError, RequestRefusedError

__all__ = ["get_product", "list_products", "put_product"]


def _barcodes(conn: Connection, sku: str) -> list[str]:
    query = (
        select(product_barcodes.c.barcode)
        .where(product_barcodes.c.sku == sku)
        .order_by(product_barcodes.c.position)
    )
    return [str(b) for b in conn.execute(query).scalars()]


def _shown(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "name": row["name"],
        "names": json.loads(row["names"] or "{}"),
        "category": row["category"],
        "list_price": row["list_price"],
        "member_only": bool(row["member_only"]),
        "active": bool(row["active"]),
        "barcodes": _barcodes(conn, row["sku"]),
        "updated_at": row["updated_at"],
    }


def _check_barcodes(conn: Connection, sku: str, barcodes: list[str]) -> None:
    if not barcodes:
        return
    query = select(product_barcodes.c.barcode, product_barcodes.c.sku).where(
        product_barcodes.c.barcode.in_(barcodes), product_barcodes.c.sku != sku
    )
    for barcode, other in conn.execute(query):
        raise RequestRefusedError(409, "conflict", f"barcode {barcode} belongs to {other}")


def put_product(
    conn: Connection, actor: Actor, now: datetime, sku: str, body: ProductIn
) -> dict[str, Any]:
    """Add or change a product (its barcodes replace the ones it had).

    Raises:
        RequestRefusedError: 403 forbidden; 409 conflict, a barcode of another product.
        FormatError: an unknown category.
    """
    require(actor, Action.CATALOG)
    get_category(conn, actor, body.category, missing=FormatError)
    _check_barcodes(conn, sku, body.barcodes)
    before = get_product(conn, actor, sku) if current_row(conn, "products", sku) else None
    row = {
        "sku": sku,
        "barcode": body.barcodes[0] if body.barcodes else None,
        "name": body.name,
        "names": json.dumps(body.names, ensure_ascii=False, sort_keys=True),
        "category": body.category,
        "list_price": body.list_price,
        "member_only": int(body.member_only),
        "active": int(body.active),
        "updated_at": iso(now),
    }
    upsert(conn, "products", row)
    conn.execute(product_barcodes.delete().where(product_barcodes.c.sku == sku))
    if body.barcodes:
        conn.execute(
            product_barcodes.insert(),
            [{"barcode": b, "sku": sku, "position": i} for i, b in enumerate(body.barcodes)],
        )
    after = get_product(conn, actor, sku)
    compare = ({**before, "updated_at": None} if before else None), {**after, "updated_at": None}
    if compare[0] != compare[1]:
        record_audit(
            conn,
            actor,
            now,
            entity="products",
            key=sku,
            action="create" if before is None else "update",
            before=before,
            after=after,
        )
    return after


def get_product(conn: Connection, actor: Actor, sku: str) -> dict[str, Any]:
    """One product with its barcodes.

    Raises:
        NotFoundError: no such product.
    """
    require(actor, Action.CATALOG)
    row = current_row(conn, "products", sku)
    if row is None:
        raise NotFoundError(f"no product {sku!r}")
    return _shown(conn, row)


def list_products(
    conn: Connection,
    actor: Actor,
    *,
    search: str | None = None,
    category: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Products by SKU: those after ``after``, in ``category``, whose SKU, name or barcode
    contains ``search``."""
    require(actor, Action.CATALOG)
    query = select(products).order_by(products.c.sku).limit(limit)
    if after:
        query = query.where(products.c.sku > after)
    if category:
        query = query.where(products.c.category == category)
    if search:
        like = f"%{search.lower()}%"
        coded = select(product_barcodes.c.sku).where(product_barcodes.c.barcode.like(like))
        query = query.where(
            products.c.sku.ilike(like)
            | products.c.name.ilike(like)
            | products.c.names.ilike(like)
            | products.c.sku.in_(coded)
        )
    return [_shown(conn, dict(r._mapping)) for r in conn.execute(query)]

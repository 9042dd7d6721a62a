"""Products: SKU, barcodes, names with translations, category, list price, flags.

A product may carry several barcodes (table ``product_barcodes``); lanes get
the first as ``products.barcode`` (the wire carries one), and one barcode
belongs to one product. The product's rules (list price, category known,
check digits, text) are :class:`clubcore.records.ProductRecord`'s. Every
change publishes the rule set (:mod:`club_server.upserts`). The importer
writes the same tables (:mod:`club_server.imports.products`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import current_row, record_audit
from club_server.admin.models import ProductIn
from club_server.clock import iso
from club_server.known import category_codes
from club_server.schema import product_barcodes, products
from club_server.translations import read_translations, translations_json
from club_server.upserts import upsert
from clubcore.errors import NotFoundError, RequestRefusedError
from clubcore.records import Known, ProductRecord, barcode_digits, validate

__all__ = [
    "barcode_owners",
    "get_product",
    "list_products",
    "product_record",
    "product_row",
    "put_product",
    "replace_barcodes",
    "taken",
]


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
        "names": read_translations(row["names"]),
        "category": row["category"],
        "list_price": row["list_price"],
        "member_only": bool(row["member_only"]),
        "active": bool(row["active"]),
        "barcodes": _barcodes(conn, row["sku"]),
        "updated_at": row["updated_at"],
    }


def barcode_owners(conn: Connection, barcodes: Collection[str]) -> dict[str, str]:
    """Barcode -> the SKU that has it, for those of ``barcodes`` some product has."""
    owners: dict[str, str] = {}
    chosen = list(barcodes)
    for start in range(0, len(chosen), 5_000):
        query = select(product_barcodes.c.barcode, product_barcodes.c.sku).where(
            product_barcodes.c.barcode.in_(chosen[start : start + 5_000])
        )
        owners.update((str(b), str(s)) for b, s in conn.execute(query))
    return owners


def taken(barcode: str, owner: str) -> str:
    """What is wrong with a barcode another product has."""
    return f"barcode {barcode} belongs to {owner}"


def _check_barcodes(conn: Connection, sku: str, barcodes: list[str]) -> None:
    for barcode, owner in barcode_owners(conn, barcodes).items():
        if owner != sku:
            raise RequestRefusedError(409, "conflict", taken(barcode, owner))


def put_product(
    conn: Connection, actor: Actor, now: datetime, sku: str, body: ProductIn
) -> dict[str, Any]:
    """Add or change a product (its barcodes replace the ones it had).

    Raises:
        RequestRefusedError: 403 forbidden; 409 conflict, a barcode of another product.
        RecordError: the product breaks a rule (:mod:`clubcore.records`).
    """
    require(actor, Action.CATALOG)
    record = product_record(sku, body)
    validate(record, Known(categories=category_codes(conn)))
    _check_barcodes(conn, sku, list(record.barcodes))
    before = get_product(conn, actor, sku) if current_row(conn, "products", sku) else None
    upsert(conn, "products", {**product_row(record), "updated_at": iso(now)})
    replace_barcodes(conn, [(sku, record.barcodes)])
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


def product_record(sku: str, body: ProductIn) -> ProductRecord:
    """The record of a request (barcodes in their digits; the rules check them)."""
    return ProductRecord(
        sku, body.name, body.category, body.list_price,
        tuple(barcode_digits(b) for b in body.barcodes), body.member_only, body.active,
        tuple(sorted(body.names.items())),
    )  # fmt: skip


def product_row(record: ProductRecord) -> dict[str, Any]:
    """The ``products`` row of a checked record (without ``updated_at``)."""
    return {
        "sku": record.sku,
        "barcode": record.barcodes[0] if record.barcodes else None,
        "name": record.name,
        "names": None if record.names is None else translations_json(dict(record.names)),
        "category": record.category,
        "list_price": record.list_price,
        "member_only": int(record.member_only),
        "active": int(record.active),
    }


def replace_barcodes(conn: Connection, found: list[tuple[str, tuple[str, ...]]]) -> None:
    """Give each (sku, barcodes) exactly those barcodes, in order (the first is the lanes')."""
    skus = [sku for sku, _ in found]
    for start in range(0, len(skus), 5_000):
        chunk = skus[start : start + 5_000]
        conn.execute(product_barcodes.delete().where(product_barcodes.c.sku.in_(chunk)))
    rows = [{"barcode": b, "sku": sku, "position": i}
            for sku, codes in found for i, b in enumerate(codes)]  # fmt: skip
    if rows:
        conn.execute(product_barcodes.insert(), rows)


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

"""The ``products`` format: one product a row, keyed by SKU.

Columns: ``sku``, ``name``, ``category``, ``list_price`` (required);
``barcode`` (EAN-13, EAN-8 or UPC-A), ``member_only``, ``active`` (yes/no,
``active`` defaults to yes). ``name_fa`` / ``name_en`` are read and ignored
with a warning: product name translations are planned, not stored yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, select

from club_server.clock import iso
from club_server.imports.formats import Cells, Column, Context, Header, Kind, money_text
from club_server.schema import categories, products
from clubcore.records import Known, ProductRecord, Record, parse_barcode, parse_flag, parse_text

__all__ = ["Products"]


class Products(Kind):
    name = "products"
    entity = "products"
    table = products
    key = ("sku",)
    columns = (
        Column("sku", True),
        Column("name", True),
        Column("category", True),
        Column("list_price", True, money=True),
        Column("barcode"),
        Column("member_only"),
        Column("active"),
    )
    written = ("sku", "barcode", "name", "category", "list_price", "member_only", "active")
    compared = written[1:]

    def accepts_extra(self, column: str) -> bool:
        return column.startswith("name_") and len(column) <= 10

    def header_warnings(self, header: Header) -> list[str]:
        return [
            f"column {c}: product name translations are planned, not stored yet; ignored"
            for c in header.extra
        ]

    def known(self, conn: Connection) -> Known:
        return Known(categories=frozenset(conn.execute(select(categories.c.code)).scalars()))

    def parse(self, cells: Cells) -> Record:
        sku = cells.get("sku", parse_text, required=True)
        name = cells.get("name", parse_text, required=True)
        category = cells.get("category", parse_text, required=True)
        price = cells.amount("list_price", required=True)
        barcode = cells.get("barcode", parse_barcode)
        member_only = cells.get("member_only", parse_flag) or False
        active = cells.get("active", parse_flag)
        return cells.done(
            lambda: ProductRecord(
                str(sku), str(name), str(category), int(price or 0),
                (barcode,) if barcode else (), member_only, True if active is None else active,
            )
        )  # fmt: skip

    def to_row(self, record: ProductRecord, context: Context) -> tuple[Any, ...]:
        barcode = record.barcodes[0] if record.barcodes else None
        return (record.sku, barcode, record.name, record.category, record.list_price,
                int(record.member_only), int(record.active))  # fmt: skip

    def stamp(self, context: Context) -> Mapping[str, Any]:
        return {"updated_at": iso(context.now)}

    def export_header(self, context: Context) -> list[str]:
        return ["sku", "name", "category", f"list_price_{context.unit_name}", "barcode",
                "member_only", "active"]  # fmt: skip

    def export_rows(self, conn: Connection, context: Context) -> Iterator[list[str]]:
        query = select(products.c.sku, products.c.name, products.c.category,
                       products.c.list_price, products.c.barcode, products.c.member_only,
                       products.c.active).order_by(products.c.sku)  # fmt: skip
        for sku, name, category, price, barcode, member_only, active in conn.execute(query):
            yield [sku, name, category, money_text(price, context.unit), barcode or "",
                   str(member_only), str(active)]  # fmt: skip

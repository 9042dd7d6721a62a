"""The ``products`` format: one product a row, keyed by SKU.

Columns: ``sku``, ``name``, ``category``, ``list_price`` (required);
``barcode`` (one or more EAN-13, EAN-8 or UPC-A barcodes separated by spaces,
``,`` or ``;``; the first is the one lanes get), ``member_only``, ``active``
(yes/no, ``active`` defaults to yes); ``name_fa``, ``name_en``, ... (any
two-letter language): the name's translations.

The rows are the admin API's (:func:`club_server.admin.products.product_row`):
the barcodes go to ``product_barcodes`` and one barcode belongs to one product
(twice in the file, or held by a product the file does not name, is an error
on that row); translations go to ``products.names``, where the admin API
keeps them. A file without ``name_XX`` columns leaves the stored translations
as they are; with them, the file's translations replace the stored ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Table, Text, select

from club_server.admin.products import barcode_owners, product_row, replace_barcodes, taken
from club_server.clock import iso
from club_server.imports.formats import Cells, Column, Context, Kind, money_text
from club_server.known import category_codes
from club_server.schema import product_barcodes, products
from club_server.translations import read_translations, same_translations
from clubcore.records import (
    Known,
    Problem,
    ProductRecord,
    Record,
    barcode_digits,
    parse_flag,
    parse_text,
)

__all__ = ["Products"]

_NAME = re.compile(r"name_([a-z]{2})")
_SPLIT = re.compile(r"[\s,;]+")


def _barcodes(text: str) -> tuple[str, ...]:
    return tuple(barcode_digits(part) for part in _SPLIT.split(text) if part)


def stored_barcodes(conn: Connection) -> dict[str, str]:
    """SKU -> its barcodes, space-separated in order (as the ``barcode`` cell holds them)."""
    query = select(product_barcodes.c.sku, product_barcodes.c.barcode).order_by(
        product_barcodes.c.sku, product_barcodes.c.position
    )
    found: dict[str, list[str]] = {}
    for sku, barcode in conn.execute(query):
        found.setdefault(str(sku), []).append(str(barcode))
    return {sku: " ".join(codes) for sku, codes in found.items()}


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
    written = ("sku", "barcode", "name", "names", "category", "list_price", "member_only",
               "active")  # fmt: skip
    compared = written[1:]
    kept = ("names",)
    insert_defaults = MappingProxyType({"names": "{}"})
    unique = "barcode"
    stage_columns = (("barcodes", Text()),)
    writes_more = True

    def accepts_extra(self, column: str) -> bool:
        return _NAME.fullmatch(column) is not None

    def known(self, conn: Connection) -> Known:
        return Known(categories=category_codes(conn))

    def prepare(self, conn: Connection) -> Mapping[str, Any]:
        """The stored ``names`` by SKU: the same translations written another way are
        no change."""
        return {"names": dict(conn.execute(select(products.c.sku, products.c.names)).all())}

    def _names(self, cells: Cells) -> tuple[tuple[str, str], ...] | None:
        columns = sorted(c for c in cells.header.extra if _NAME.fullmatch(c))
        if not columns:
            return None
        found = ((column[5:], cells.get(column, parse_text)) for column in columns)
        return tuple((lang, value) for lang, value in found if value)

    def parse(self, cells: Cells) -> Record:
        sku = cells.get("sku", parse_text, required=True)
        name = cells.get("name", parse_text, required=True)
        category = cells.get("category", parse_text, required=True)
        price = cells.amount("list_price", required=True)
        barcodes = cells.get("barcode", _barcodes) or ()
        member_only = cells.get("member_only", parse_flag) or False
        active = cells.get("active", parse_flag)
        names = self._names(cells)
        return cells.done(
            lambda: ProductRecord(
                str(sku), str(name), str(category), int(price or 0), barcodes, member_only,
                True if active is None else active, names,
            )
        )  # fmt: skip

    def unique_values(self, record: ProductRecord) -> tuple[str, ...]:
        return record.barcodes

    def to_row(self, record: ProductRecord, context: Context) -> tuple[Any, ...]:
        row = product_row(record)
        if record.names is not None:
            stored = context.extra.get("names", {}).get(record.sku)
            row["names"] = same_translations(stored, dict(record.names))
        return (*(row[c] for c in self.written), " ".join(record.barcodes))

    def stamp(self, context: Context) -> Mapping[str, Any]:
        return {"updated_at": iso(context.now)}

    def conflicts(self, conn: Connection, stage: Table) -> Iterator[tuple[int, Problem]]:
        """Rows with a barcode that a product the file does not name has."""
        staged = conn.execute(select(stage.c.row_no, stage.c.sku, stage.c.barcodes)).all()
        in_file = {str(sku) for _, sku, _ in staged}
        codes = {code for *_, text in staged for code in (text or "").split()}
        owners = barcode_owners(conn, codes)
        for row_no, sku, text in staged:
            for code in (text or "").split():
                owner = owners.get(code)
                if owner is not None and owner != sku and owner not in in_file:
                    yield row_no, Problem("barcode", taken(code, owner))
                    break

    def touched(self, conn: Connection, stage: Table) -> Iterator[int]:
        """Rows whose barcodes differ from the product's (the first is compared anyway)."""
        stored = stored_barcodes(conn)
        for row_no, sku, text in conn.execute(select(stage.c.row_no, stage.c.sku,
                                                     stage.c.barcodes)):  # fmt: skip
            if (text or "") != stored.get(str(sku), ""):
                yield row_no

    def after_write(self, conn: Connection, stage: Table, rows: list[int]) -> None:
        """Each written product gets exactly its row's barcodes."""
        found: list[tuple[str, tuple[str, ...]]] = []
        for start in range(0, len(rows), 5_000):
            query = select(stage.c.sku, stage.c.barcodes).where(
                stage.c.row_no.in_(rows[start : start + 5_000])
            )
            found += [(str(sku), tuple((text or "").split())) for sku, text in conn.execute(query)]
        replace_barcodes(conn, found)

    def _languages(self, conn: Connection) -> list[str]:
        found: set[str] = set()
        for text in conn.execute(select(products.c.names)).scalars():
            found.update(read_translations(text))
        return sorted(lang for lang in found if re.fullmatch(r"[a-z]{2}", lang))

    def export_table(
        self, conn: Connection, context: Context
    ) -> tuple[list[str], Iterator[list[str]]]:
        """Header and rows: the columns, then ``name_XX`` per language found."""
        languages = self._languages(conn)
        header = ["sku", "name", "category", f"list_price_{context.unit_name}", "barcode",
                  "member_only", "active", *(f"name_{lang}" for lang in languages)]  # fmt: skip
        return header, self._rows(conn, context, languages)

    def _rows(
        self, conn: Connection, context: Context, languages: list[str]
    ) -> Iterator[list[str]]:
        barcodes = stored_barcodes(conn)
        query = select(products.c.sku, products.c.name, products.c.category,
                       products.c.list_price, products.c.barcode, products.c.member_only,
                       products.c.active, products.c.names).order_by(products.c.sku)  # fmt: skip
        for sku, name, category, price, barcode, member_only, active, names in conn.execute(query):
            shown = read_translations(names)
            yield [sku, name, category, money_text(price, context.unit),
                   barcodes.get(sku, barcode or ""), str(member_only), str(active),
                   *(str(shown.get(lang, "")) for lang in languages)]  # fmt: skip

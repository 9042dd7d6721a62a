"""The ``member-prices`` and ``category-discounts`` formats.

``member-prices``: ``sku``, ``tier``, ``price`` (required), ``above_list``
(yes/no: the price may be above the product's list price). Keyed by
(sku, tier); the product must exist (import products first).

``category-discounts``: ``category``, ``tier``, ``percent`` (required,
``12.5`` or ``12.5%``). Keyed by (category, tier).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from club_server.imports.formats import Cells, Column, Context, Kind, money_text, percent_text
from club_server.known import category_codes, list_prices, tier_codes
from club_server.schema import category_discounts, member_prices, products
from clubcore.records import (
    CategoryDiscountRecord,
    Known,
    MemberPriceRecord,
    Record,
    parse_flag,
    parse_percent,
    parse_text,
)

__all__ = ["CategoryDiscounts", "MemberPrices"]


class MemberPrices(Kind):
    name = "member-prices"
    entity = "member_prices"
    table = member_prices
    key = ("sku", "tier")
    columns = (
        Column("sku", True),
        Column("tier", True),
        Column("price", True, money=True),
        Column("above_list"),
    )
    written = ("sku", "tier", "price")
    compared = ("price",)

    def known(self, conn: Connection) -> Known:
        return Known(tiers=tier_codes(conn), list_prices=list_prices(conn))

    def parse(self, cells: Cells) -> Record:
        sku = cells.get("sku", parse_text, required=True)
        tier = cells.get("tier", parse_text, required=True)
        price = cells.amount("price", required=True)
        above = cells.get("above_list", parse_flag) or False
        return cells.done(lambda: MemberPriceRecord(str(sku), str(tier), int(price or 0), above))

    def to_row(self, record: MemberPriceRecord, context: Context) -> tuple[Any, ...]:
        return (record.sku, record.tier, record.price)

    def export_header(self, context: Context) -> list[str]:
        return ["sku", "tier", f"price_{context.unit_name}", "above_list"]

    def export_rows(self, conn: Connection, context: Context) -> Iterator[list[str]]:
        query = (
            select(member_prices.c.sku, member_prices.c.tier, member_prices.c.price,
                   products.c.list_price)
            .join(products, products.c.sku == member_prices.c.sku, isouter=True)
            .order_by(member_prices.c.sku, member_prices.c.tier)
        )  # fmt: skip
        for sku, tier, price, list_price in conn.execute(query):
            above = list_price is not None and price > list_price
            yield [sku, tier, money_text(price, context.unit), "1" if above else "0"]


class CategoryDiscounts(Kind):
    name = "category-discounts"
    entity = "category_discounts"
    table = category_discounts
    key = ("category", "tier")
    columns = (Column("category", True), Column("tier", True), Column("percent", True))
    written = ("category", "tier", "percent_bp")
    compared = ("percent_bp",)

    def known(self, conn: Connection) -> Known:
        return Known(tiers=tier_codes(conn), categories=category_codes(conn))

    def parse(self, cells: Cells) -> Record:
        category = cells.get("category", parse_text, required=True)
        tier = cells.get("tier", parse_text, required=True)
        percent = cells.get("percent", parse_percent, required=True)
        return cells.done(
            lambda: CategoryDiscountRecord(str(category), str(tier), int(percent or 0))
        )

    def to_row(self, record: CategoryDiscountRecord, context: Context) -> tuple[Any, ...]:
        return (record.category, record.tier, record.percent_bp)

    def export_header(self, context: Context) -> list[str]:
        return ["category", "tier", "percent"]

    def export_rows(self, conn: Connection, context: Context) -> Iterator[list[str]]:
        query = select(category_discounts).order_by(
            category_discounts.c.category, category_discounts.c.tier
        )
        for category, tier, bp in conn.execute(query):
            yield [category, tier, percent_text(bp)]

"""The ``offers`` format: one offer a row, keyed by ``offer_id``.

Columns: ``offer_id``, ``title`` (required); ``message``; exactly one of
``unit_price`` (money) and ``percent``; what it covers: ``sku`` or
``category`` (neither: everything); at most one target: ``target_member``,
``target_segment`` or ``target_tier`` (none: every member); ``starts_at``,
``ends_at`` (a day, ISO or Jalali, optionally with ``HH:MM``, in the club's
time zone, or a timestamp with its offset; an end day without a time runs
through that day); ``stacks`` (yes/no). Translations: ``title_fa``,
``message_fa``, ``title_en``, ... (any two-letter language).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.offers import offer_row
from club_server.imports.formats import Cells, Column, Context, Kind, money_text, percent_text
from club_server.known import category_codes, tier_codes
from club_server.schema import offers, products
from club_server.translations import read_translations, same_translations
from clubcore.identity import parse_member_number
from clubcore.records import (
    MAX_MESSAGE,
    Known,
    OfferRecord,
    Record,
    parse_flag,
    parse_percent,
    parse_text,
    parse_when,
)

__all__ = ["Offers"]

_TEXT = re.compile(r"(title|message)_([a-z]{2})")


def _message(text: str) -> str:
    return parse_text(text, limit=MAX_MESSAGE)


class Offers(Kind):
    name = "offers"
    entity = "offers"
    table = offers
    key = ("offer_id",)
    columns = (
        Column("offer_id", True), Column("title", True), Column("message"),
        Column("unit_price", money=True), Column("percent"), Column("sku"), Column("category"),
        Column("target_member"), Column("target_segment"), Column("target_tier"),
        Column("starts_at"), Column("ends_at"), Column("stacks"),
    )  # fmt: skip
    written = ("offer_id", "title", "message", "unit_price", "percent_bp", "sku", "category",
               "target_member", "target_segment", "target_tier", "starts_at", "ends_at",
               "stacks", "texts")  # fmt: skip
    compared = written[1:]

    def accepts_extra(self, column: str) -> bool:
        return _TEXT.fullmatch(column) is not None

    def known(self, conn: Connection) -> Known:
        skus = {str(s): 0 for s in conn.execute(select(products.c.sku)).scalars()}
        return Known(tiers=tier_codes(conn), categories=category_codes(conn), list_prices=skus)

    def prepare(self, conn: Connection) -> Mapping[str, Any]:
        """The stored ``texts`` by offer, so that the same texts written another way (key
        order, spaces) are not a change."""
        return {"texts": dict(conn.execute(select(offers.c.offer_id, offers.c.texts)).all())}

    def _texts(self, cells: Cells) -> dict[str, dict[str, str]]:
        texts: dict[str, dict[str, str]] = {}
        for column in sorted(cells.header.extra):
            found = _TEXT.fullmatch(column)
            value = cells.get(column, _message)
            if found and value:
                texts.setdefault(found.group(2), {"title": "", "message": ""})
                texts[found.group(2)][found.group(1)] = value
        return texts

    def parse(self, cells: Cells) -> Record:
        zone = cells.context.zone

        def ends(text: str) -> datetime:
            return parse_when(text, zone, end=True)

        values: dict[str, Any] = {
            "offer_id": cells.get("offer_id", parse_text, required=True),
            "title": cells.get("title", parse_text, required=True),
            "message": cells.get("message", _message) or "",
            "unit_price": cells.amount("unit_price"),
            "percent_bp": cells.get("percent", parse_percent),
            "sku": cells.get("sku", parse_text),
            "category": cells.get("category", parse_text),
            "target_member": cells.get("target_member", parse_member_number),
            "target_segment": cells.get("target_segment", parse_text),
            "target_tier": cells.get("target_tier", parse_text),
            "starts_at": cells.get("starts_at", lambda t: parse_when(t, zone)),
            "ends_at": cells.get("ends_at", ends),
            "stacks": cells.get("stacks", parse_flag) or False,
            "texts": self._texts(cells),
        }
        return cells.done(lambda: OfferRecord(**values))

    def to_row(self, record: OfferRecord, context: Context) -> tuple[Any, ...]:
        row = offer_row(record)
        stored = context.extra.get("texts", {}).get(record.offer_id)
        row["texts"] = same_translations(stored, record.texts)
        return tuple(row[c] for c in self.written)

    def _languages(self, conn: Connection) -> list[str]:
        found: set[str] = set()
        for text in conn.execute(select(offers.c.texts)).scalars():
            found.update(read_translations(text))
        return sorted(lang for lang in found if re.fullmatch(r"[a-z]{2}", lang))

    def export_header(self, context: Context) -> list[str]:
        header = [c.name for c in self.columns]
        header[3] = f"unit_price_{context.unit_name}"
        return header

    def export_table(
        self, conn: Connection, context: Context
    ) -> tuple[list[str], Iterator[list[str]]]:
        """Header and rows: the columns, then ``title_XX``/``message_XX`` per language found."""
        languages = self._languages(conn)
        header = self.export_header(context)
        for lang in languages:
            header += [f"title_{lang}", f"message_{lang}"]
        return header, self._rows(conn, context, languages)

    def _rows(
        self, conn: Connection, context: Context, languages: list[str]
    ) -> Iterator[list[str]]:
        for row in conn.execute(select(offers).order_by(offers.c.offer_id)):
            percent = percent_text(row.percent_bp)
            cells = [row.offer_id, row.title, row.message,
                     money_text(row.unit_price, context.unit), percent, row.sku or "",
                     row.category or "", row.target_member or "", row.target_segment or "",
                     row.target_tier or "", row.starts_at or "", row.ends_at or "",
                     str(row.stacks)]  # fmt: skip
            texts = read_translations(row.texts)
            for lang in languages:
                entry = texts.get(lang) or {}
                cells += [entry.get("title", ""), entry.get("message", "")]
            yield cells

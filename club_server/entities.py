"""The cached entities of the sync protocol: their keys and wire columns.

One :class:`Entity` per row of the table in ``docs/sync-protocol.md``. The
wire columns are SQL expressions over the server's table (``points_base`` is
the ``points_balance`` column), so the snapshot and the deltas read the same
values. A key on the wire is text; a composite key is its parts joined with
``|``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, tuple_

from club_server import schema
from clubcore.errors import FormatError

__all__ = ["ENTITIES", "Entity", "entity"]


@dataclass(frozen=True)
class Entity:
    """A cached entity: its table, key columns and wire columns (in order)."""

    name: str
    table: Table
    key: tuple[str, ...]
    columns: tuple[str, ...]

    def source_columns(self) -> list[ColumnElement[Any]]:
        """The table columns in wire order (``points_base`` is ``points_balance``)."""
        renamed = {"points_base": "points_balance"}
        return [self.table.c[renamed.get(c, c)] for c in self.columns]

    def wire_columns(self) -> list[ColumnElement[Any]]:
        """The columns in wire order, labelled with their wire names."""
        return [c.label(n) for c, n in zip(self.source_columns(), self.columns, strict=True)]

    def key_columns(self) -> list[ColumnElement[Any]]:
        return [self.table.c[k] for k in self.key]

    def key_text(self, values: Sequence[Any]) -> str:
        """The wire key of a row from its key column values."""
        return "|".join(str(v) for v in values)

    def parse_key(self, key: str) -> tuple[Any, ...]:
        """The key column values of a wire key.

        Raises:
            FormatError: the wrong number of parts, or not a number for an integer key.
        """
        parts = key.split("|", len(self.key) - 1)
        if len(parts) != len(self.key):
            raise FormatError(f"{self.name} keys have {len(self.key)} parts joined with '|'")
        if self.name == "card_keys":
            try:
                return (int(parts[0]),)
            except ValueError:
                raise FormatError(f"card key id {key!r} is not a whole number") from None
        return tuple(parts)

    def after(self, key: str) -> ColumnElement[bool]:
        """``key columns > key`` in key order (keyset pagination).

        Raises:
            FormatError: a malformed key.
        """
        values = self.parse_key(key)
        cols = self.key_columns()
        if len(cols) == 1:
            single: ColumnElement[bool] = cols[0] > values[0]
            return single
        return tuple_(*cols) > tuple_(*values)

    def matches(self, key: str) -> ColumnElement[bool]:
        """``key columns == key``.

        Raises:
            FormatError: a malformed key.
        """
        values = self.parse_key(key)
        return and_(*(col == value for col, value in zip(self.key_columns(), values, strict=True)))


def _entity(name: str, key: str, columns: str) -> Entity:
    return Entity(name, schema.metadata.tables[name], tuple(key.split("|")), tuple(columns.split()))


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        _entity("settings", "key", "key value"),
        _entity("tiers", "code", "code name rank min_spend earn_multiplier_bp assignable benefits"),
        _entity("categories", "code", "code name parent"),
        _entity(
            "products", "sku", "sku barcode name category list_price member_only active updated_at"
        ),
        _entity("member_prices", "sku|tier", "sku tier price"),
        _entity("category_discounts", "category|tier", "category tier percent_bp"),
        _entity(
            "offers",
            "offer_id",
            "offer_id title message unit_price percent_bp sku category target_member "
            "target_segment target_tier starts_at ends_at stacks texts",
        ),
        _entity(
            "members",
            "member_no",
            "member_no display_name tier segments phone_hash points_base spend_12m "
            "status updated_at",
        ),
        _entity("cards", "serial", "serial uid member_no kind expires updated_at"),
        _entity("denylist", "serial", "serial uid reason listed_at"),
        _entity("card_keys", "key_id", "key_id public_key retired_at"),
    )
}


def entity(name: str) -> Entity:
    """The entity called ``name``.

    Raises:
        KeyError: no such entity.
    """
    return ENTITIES[name]

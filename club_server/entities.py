"""The cached entities of the sync protocol, bound to the server's tables.

One :class:`Entity` per :class:`clubcore.wire_rows.EntityShape` (the
protocol's one definition of names, keys and columns), bound to the server's
table of the same name. The wire columns are SQL expressions over that table
(``points_base`` is the ``points_balance`` column), so the snapshot and the
deltas read the same values. A key on the wire is text; a composite key is
its parts joined with ``|``.

A row the server keeps but lanes must not have (a disabled offer, a retired
tier) is left out by the entity's :meth:`Entity.on_wire` filter: the
snapshot does not send it and a change to it is a ``delete`` delta.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, tuple_

from club_server import schema
from clubcore.errors import FormatError
from clubcore.wire import MAX_POSITION
from clubcore.wire_rows import ENTITY_SHAPES, KEY_SEPARATOR, EntityShape

__all__ = ["ENTITIES", "Entity", "entity"]


@dataclass(frozen=True)
class Entity:
    """A cached entity: its table, key columns and wire columns (in order)."""

    name: str
    table: Table
    key: tuple[str, ...]
    columns: tuple[str, ...]
    int_key: bool = False

    def on_wire(self) -> ColumnElement[bool] | None:
        """The rows lanes get (None: all of them)."""
        if self.name == "offers":
            return self.table.c.enabled != 0
        if self.name == "tiers":
            return self.table.c.retired_at.is_(None)
        return None

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
        return KEY_SEPARATOR.join(str(v) for v in values)

    def parse_key(self, key: str) -> tuple[Any, ...]:
        """The key column values of a wire key.

        Raises:
            FormatError: the wrong number of parts, or not a number for an integer key.
        """
        parts = key.split(KEY_SEPARATOR, len(self.key) - 1)
        if len(parts) != len(self.key):
            raise FormatError(f"{self.name} keys have {len(self.key)} parts joined with '|'")
        if self.int_key:
            try:
                number = int(parts[0])
            except ValueError:
                raise FormatError(f"{self.name} key {key!r} is not a whole number") from None
            if not -MAX_POSITION <= number <= MAX_POSITION:
                raise FormatError(f"{self.name} key {key!r} is out of range")
            return (number,)
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


def _entity(shape: EntityShape) -> Entity:
    key_types = {shape.types[shape.columns.index(k)] for k in shape.key}
    table = schema.metadata.tables[shape.name]
    return Entity(shape.name, table, shape.key, shape.columns, key_types == {"int"})


ENTITIES: dict[str, Entity] = {name: _entity(shape) for name, shape in ENTITY_SHAPES.items()}


def entity(name: str) -> Entity:
    """The entity called ``name``.

    Raises:
        KeyError: no such entity.
    """
    return ENTITIES[name]

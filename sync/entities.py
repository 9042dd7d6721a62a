"""The entities the server sends the terminal (snapshot pages and deltas), as in the spec.

One :class:`Entity` per :class:`clubcore.wire_rows.EntityShape` (the
protocol's one definition): the terminal table of the same name, its key
columns and its columns in wire order. :meth:`Entity.row` checks and
converts one wire row for SQLite; :meth:`Entity.upsert_sql` and
:meth:`Entity.delete_sql` write it. Snapshot rows are checked only for
their width here (:meth:`Entity.rows`, the fast path of a million rows);
delta rows are typed by :class:`clubcore.wire.ChangesPage` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clubcore.errors import ProtocolError
from clubcore.wire_rows import ENTITY_SHAPES, KEY_SEPARATOR, EntityShape

__all__ = ["ENTITIES", "Entity", "entity"]

_SCALARS = (str, int, float, type(None))


@dataclass(frozen=True, slots=True)
class Entity:
    """One synced table."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    hex_columns: frozenset[str] = frozenset()

    def row(self, values: object) -> tuple[object, ...]:
        """One wire row, checked and converted for SQLite.

        Arguments:
            values: a JSON array in :attr:`columns` order.

        Returns:
            the values (hex columns as bytes, booleans as 0/1).

        Raises:
            ProtocolError: not an array of the right length, or a value that
                is not a JSON scalar (or not hex in a hex column).
        """
        if not isinstance(values, list) or len(values) != len(self.columns):
            raise ProtocolError(
                f"{self.name}: a row must be an array of {len(self.columns)} values: "
                f"{values!r:.200}"
            )
        out: list[object] = []
        for column, value in zip(self.columns, values, strict=True):
            if not isinstance(value, _SCALARS):
                raise ProtocolError(f"{self.name}.{column}: {value!r:.80} is not a scalar")
            if column in self.hex_columns and value is not None:
                try:
                    value = bytes.fromhex(str(value))
                except ValueError:
                    raise ProtocolError(f"{self.name}.{column}: {value!r:.80} is not hex") from None
            out.append(int(value) if isinstance(value, bool) else value)
        return tuple(out)

    def rows(self, items: list[Any]) -> list[Sequence[object]]:
        """Many wire rows for ``executemany``, checked quickly.

        Arrays of the right length pass as they are (SQLite itself refuses a
        value that is not a scalar); hex columns are converted.

        Raises:
            ProtocolError: an item that is not an array of the right length.
        """
        width = len(self.columns)
        if not all(type(item) is list and len(item) == width for item in items):
            bad = next(i for i in items if type(i) is not list or len(i) != width)
            raise ProtocolError(
                f"{self.name}: a row must be an array of {width} values: {bad!r:.200}"
            )
        if self.hex_columns:
            return [self.row(item) for item in items]
        return items

    def key_of(self, row: Sequence[object]) -> str:
        """The wire key of a wire row: key columns joined with ``|``."""
        return KEY_SEPARATOR.join(str(row[self.columns.index(k)]) for k in self.key)

    def split_key(self, key: object) -> list[str]:
        """A wire key's parts, one per key column.

        Raises:
            ProtocolError: not a string, or the wrong number of parts.
        """
        parts = str(key).split(KEY_SEPARATOR) if isinstance(key, str | int) else []
        if len(parts) != len(self.key):
            raise ProtocolError(f"{self.name}: {key!r:.80} is not a key of {'|'.join(self.key)}")
        return parts

    def insert_sql(self) -> str:
        """``INSERT`` of a whole row (for a fresh table)."""
        marks = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({marks})"

    def upsert_sql(self) -> str:
        """``INSERT ... ON CONFLICT (key) DO UPDATE`` of a whole row."""
        others = [c for c in self.columns if c not in self.key] or list(self.key)
        updates = ", ".join(f"{c} = excluded.{c}" for c in others)
        return f"{self.insert_sql()} ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"

    def delete_sql(self) -> str:
        """``DELETE`` by key."""
        return f"DELETE FROM {self.name} WHERE " + " AND ".join(f"{k} = ?" for k in self.key)


def _entity(shape: EntityShape) -> Entity:
    return Entity(shape.name, shape.key, shape.columns, shape.hex_columns)


#: the protocol's entities, in the order a snapshot loads them
ENTITIES: dict[str, Entity] = {name: _entity(shape) for name, shape in ENTITY_SHAPES.items()}


def entity(name: object) -> Entity:
    """The entity called ``name``.

    Raises:
        ProtocolError: the protocol has no such entity.
    """
    found = ENTITIES.get(name) if isinstance(name, str) else None
    if found is None:
        raise ProtocolError(f"unknown entity {name!r:.80}")
    return found

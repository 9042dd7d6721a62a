"""The synced entities on the wire: their keys, columns and row shapes, defined once.

One :class:`EntityShape` per row of the table in ``docs/sync-protocol.md``
("Snapshot"): the entity's name (the terminal's table of the same name), its
key columns and its columns in wire order, each with its JSON type. A row on
the wire is a JSON array of the column values in that order (snapshot pages
and deltas alike); a key is text, a composite key its parts joined with
``|``. The terminal (``sync/entities.py``) and the server
(``club_server/entities.py``) derive their entity tables from
:data:`ENTITY_SHAPES`; :mod:`clubcore.wire` builds the typed delta rows of
the OpenAPI document from it.

Column types: ``text`` and ``int`` (money, points, counts, 0/1 flags), and
either may be ``null`` where the column is nullable. ``hex`` is text holding
hex bytes (a public key), which the terminal stores as bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, StrictStr

__all__ = ["ENTITY_SHAPES", "KEY_SEPARATOR", "ColumnType", "EntityShape", "row_type"]

ColumnType = Literal["text", "int", "hex", "text?", "int?"]
KEY_SEPARATOR = "|"
_HEX = Annotated[StrictStr, Field(pattern=r"^([0-9a-fA-F]{2})*$")]
_PYDANTIC: dict[str, Any] = {
    "text": StrictStr,
    "int": StrictInt,
    "hex": _HEX,
    "text?": StrictStr | None,
    "int?": StrictInt | None,
}


@dataclass(frozen=True, slots=True)
class EntityShape:
    """One synced entity: name, key columns, and columns in wire order with their types."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    types: tuple[ColumnType, ...]

    @property
    def hex_columns(self) -> frozenset[str]:
        """The columns holding hex bytes."""
        return frozenset(c for c, t in zip(self.columns, self.types, strict=True) if t == "hex")


def _shape(name: str, key: str, spec: str) -> EntityShape:
    """``spec`` is ``column:type`` words, in wire order."""
    pairs = [word.split(":") for word in spec.split()]
    columns = tuple(column for column, _ in pairs)
    types: tuple[Any, ...] = tuple(kind for _, kind in pairs)
    return EntityShape(name, tuple(key.split(KEY_SEPARATOR)), columns, types)


#: the protocol's entities, in the order a snapshot loads them
ENTITY_SHAPES: dict[str, EntityShape] = {
    s.name: s
    for s in (
        _shape("settings", "key", "key:text value:text"),
        _shape(
            "tiers",
            "code",
            "code:text name:text rank:int min_spend:int earn_multiplier_bp:int "
            "assignable:int benefits:text",
        ),
        _shape("categories", "code", "code:text name:text parent:text?"),
        _shape(
            "products",
            "sku",
            "sku:text barcode:text? name:text category:text list_price:int member_only:int "
            "active:int updated_at:text",
        ),
        _shape("member_prices", "sku|tier", "sku:text tier:text price:int"),
        _shape("category_discounts", "category|tier", "category:text tier:text percent_bp:int"),
        _shape(
            "offers",
            "offer_id",
            "offer_id:text title:text message:text unit_price:int? percent_bp:int? sku:text? "
            "category:text? target_member:text? target_segment:text? target_tier:text? "
            "starts_at:text? ends_at:text? stacks:int texts:text",
        ),
        _shape(
            "members",
            "member_no",
            "member_no:text display_name:text tier:text segments:text phone_hash:text? "
            "points_base:int spend_12m:int status:text updated_at:text",
        ),
        _shape(
            "cards",
            "serial",
            "serial:text uid:text? member_no:text kind:text expires:text? updated_at:text",
        ),
        _shape("denylist", "serial", "serial:text uid:text? reason:text listed_at:text"),
        _shape("card_keys", "key_id", "key_id:int public_key:hex retired_at:text?"),
    )
}


def row_type(shape: EntityShape) -> Any:
    """The pydantic type of one wire row of ``shape``: a tuple of its column types."""
    return tuple.__class_getitem__(tuple(_PYDANTIC[t] for t in shape.types))

"""Writing cached entities: upsert and delete, each with its change-log entry.

Everything that changes a row terminals cache goes through :func:`upsert` or
:func:`delete` (or a bulk load followed by :func:`club_server.changes.record_all`),
so the change log cannot miss a mutation. A change to a row of the rule set
(tiers, products, prices, offers) publishes it (:func:`club_server.rulesets.publish`,
raising ``rules_version`` when the rule set differs from the one published).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from club_server.changes import record
from club_server.clock import utc_now
from club_server.entities import ENTITIES, Entity

__all__ = ["delete", "put_settings", "upsert"]


def _key_of(entity: Entity, row: Mapping[str, Any]) -> str:
    return entity.key_text([row[k] for k in entity.key])


def upsert(
    conn: Connection, entity_name: str, row: Mapping[str, Any], *, publish: bool = True
) -> int:
    """Insert or update one row of a cached entity (table column names); returns the change seq.

    ``publish=False`` leaves publishing the rule set to the caller (once, after a
    bulk change: :func:`club_server.rulesets.publish`).

    Raises:
        KeyError: an unknown entity, or the row lacks a key column.
    """
    entity = ENTITIES[entity_name]
    key = _key_of(entity, row)
    values = {k: v for k, v in row.items() if k not in entity.key}
    where = entity.matches(key)
    updated = conn.execute(entity.table.update().where(where).values(**values)) if values else None
    exists = updated is not None and updated.rowcount > 0
    if updated is None:
        exists = conn.execute(select(*entity.key_columns()).where(where)).first() is not None
    if not exists:
        conn.execute(entity.table.insert().values(**row))
    seq = record(conn, entity.name, key)
    return _published(conn, entity.name, seq) if publish else seq


def _published(conn: Connection, entity_name: str, seq: int) -> int:
    """Publish the rule set when ``entity_name`` is part of it (:mod:`club_server.rulesets`)."""
    from club_server.rulesets import PRICING_ENTITIES, publish  # (a cycle)

    if entity_name in PRICING_ENTITIES:
        publish(conn, utc_now())
    return seq


def delete(conn: Connection, entity_name: str, key: str, *, publish: bool = True) -> int | None:
    """Delete one row by its wire key; returns the change seq, None if there was no such row.

    ``publish``: as for :func:`upsert`.

    Raises:
        KeyError: an unknown entity.
        FormatError: a malformed key.
    """
    entity = ENTITIES[entity_name]
    gone = conn.execute(entity.table.delete().where(entity.matches(key)))
    if not gone.rowcount:
        return None
    seq = record(conn, entity.name, key)
    return _published(conn, entity.name, seq) if publish else seq


def put_settings(conn: Connection, values: Mapping[str, object]) -> None:
    """Set several club settings (each a change terminals receive)."""
    for key, value in values.items():
        upsert(conn, "settings", {"key": key, "value": str(value)})

"""The audit log: every admin change with who, when, what, before and after.

:func:`record_audit` appends one entry (caller's transaction, so an entry
exists exactly when its change commits). :func:`audited_upsert` and
:func:`audited_delete` change a cached row through :mod:`club_server.upserts`
(change log, rule set) and record it, with the whole row before and after
(server-only columns included) as JSON. Secrets (password hashes, token
hashes) are never recorded: :data:`REDACTED` columns show ``"***"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Actor
from club_server.clock import iso
from club_server.entities import ENTITIES
from club_server.schema import audit_log
from club_server.upserts import delete, upsert

__all__ = [
    "REDACTED",
    "audited_delete",
    "audited_upsert",
    "current_row",
    "list_audit",
    "record_audit",
]

REDACTED = frozenset({"password_hash", "token_hash", "credential_hash"})


def _json(row: Mapping[str, Any] | None) -> str | None:
    if row is None:
        return None
    shown = {k: ("***" if k in REDACTED and v is not None else v) for k, v in row.items()}
    return json.dumps(shown, ensure_ascii=False, sort_keys=True, default=str)


def record_audit(
    conn: Connection,
    actor: Actor,
    now: datetime,
    *,
    entity: str,
    key: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """Append one audit entry (``action``: create, update, delete, or a verb like merge)."""
    conn.execute(
        audit_log.insert().values(
            at=iso(now),
            actor=actor.label,
            entity=entity,
            key=key,
            action=action,
            before=_json(before),
            after=_json(after),
        )
    )


def current_row(conn: Connection, entity_name: str, key: str) -> dict[str, Any] | None:
    """The whole stored row of a cached entity by its wire key (None if there is none)."""
    entity = ENTITIES[entity_name]
    row = conn.execute(select(entity.table).where(entity.matches(key))).first()
    return None if row is None else dict(row._mapping)


def audited_upsert(
    conn: Connection,
    actor: Actor,
    now: datetime,
    entity_name: str,
    row: Mapping[str, Any],
    *,
    action: str | None = None,
    publish: bool = True,
) -> dict[str, Any]:
    """Upsert a cached row and audit it; returns the row as stored."""
    entity = ENTITIES[entity_name]
    key = entity.key_text([row[k] for k in entity.key])
    before = current_row(conn, entity_name, key)
    upsert(conn, entity_name, row, publish=publish)
    after = current_row(conn, entity_name, key)
    assert after is not None
    verb = action or ("create" if before is None else "update")
    if before != after or action is not None:
        record_audit(
            conn, actor, now, entity=entity_name, key=key, action=verb, before=before, after=after
        )
    return after


def audited_delete(
    conn: Connection,
    actor: Actor,
    now: datetime,
    entity_name: str,
    key: str,
    *,
    publish: bool = True,
) -> bool:
    """Delete a cached row and audit it; False if there was no such row."""
    before = current_row(conn, entity_name, key)
    if before is None:
        return False
    delete(conn, entity_name, key, publish=publish)
    record_audit(
        conn, actor, now, entity=entity_name, key=key, action="delete", before=before, after=None
    )
    return True


def list_audit(
    conn: Connection,
    *,
    since: datetime | None = None,
    entity: str | None = None,
    key: str | None = None,
    limit: int = 1_000,
) -> list[dict[str, Any]]:
    """Audit entries, oldest first (``before``/``after`` parsed from JSON)."""
    query = select(audit_log).order_by(audit_log.c.entry_id).limit(limit)
    if since is not None:
        query = query.where(audit_log.c.at >= iso(since))
    if entity is not None:
        query = query.where(audit_log.c.entity == entity)
    if key is not None:
        query = query.where(audit_log.c.key == key)
    entries = []
    for row in conn.execute(query):
        entry = dict(row._mapping)
        for side in ("before", "after"):
            entry[side] = json.loads(entry[side]) if entry[side] is not None else None
        entries.append(entry)
    return entries

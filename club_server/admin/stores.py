"""Stores: add, rename, and the time zone their business days are counted in.

A store's ``timezone`` (IANA name) is the server's; null means the club's
``timezone`` setting. Stores are not synced to lanes (a lane knows its own
store id from enrollment).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import record_audit
from club_server.admin.models import StoreIn
from club_server.clock import iso
from club_server.schema import stores
from clubcore.errors import FormatError, NotFoundError, RequestRefusedError

__all__ = ["add_store", "list_stores", "update_store"]


def _zone(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FormatError(f"unknown time zone {name!r} (an IANA name, e.g. Asia/Tehran)") from None
    return name


def _get(conn: Connection, store_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(stores).where(stores.c.store_id == store_id)).first()
    return None if row is None else dict(row._mapping)


def add_store(
    conn: Connection, actor: Actor, now: datetime, store_id: str, body: StoreIn
) -> dict[str, Any]:
    """Add a store (admins only).

    Raises:
        RequestRefusedError: 403 forbidden; 409 conflict, it exists.
        FormatError: an unknown time zone.
    """
    require(actor, Action.STORES)
    if _get(conn, store_id) is not None:
        raise RequestRefusedError(409, "conflict", f"store {store_id!r} exists already")
    row = {
        "store_id": store_id,
        "name": body.name or store_id,
        "timezone": _zone(body.timezone),
        "created_at": iso(now),
    }
    conn.execute(stores.insert().values(**row))
    record_audit(
        conn, actor, now, entity="stores", key=store_id, action="create", before=None, after=row
    )
    return row


def update_store(
    conn: Connection, actor: Actor, now: datetime, store_id: str, body: StoreIn
) -> dict[str, Any]:
    """Rename a store or set its time zone (admins only).

    Raises:
        RequestRefusedError: 403 forbidden.
        NotFoundError: no such store.
        FormatError: an unknown time zone.
    """
    require(actor, Action.STORES)
    before = _get(conn, store_id)
    if before is None:
        raise NotFoundError(f"no store {store_id!r}")
    after = {**before}
    if body.name is not None:
        after["name"] = body.name
    if body.timezone is not None:
        after["timezone"] = _zone(body.timezone)
    conn.execute(stores.update().where(stores.c.store_id == store_id).values(**after))
    record_audit(
        conn, actor, now, entity="stores", key=store_id, action="update", before=before, after=after
    )
    return after


def list_stores(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every store (a store manager sees their own)."""
    rows = [dict(r._mapping) for r in conn.execute(select(stores).order_by(stores.c.store_id))]
    if actor.may(Action.STORES):
        return rows
    require(actor, Action.REPORTS, next(iter(actor.stores), None))
    return [r for r in rows if r["store_id"] in actor.stores]

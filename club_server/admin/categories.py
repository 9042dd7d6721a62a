"""Categories with translations (a cached entity; not part of the rule set)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import audited_upsert
from club_server.admin.models import CategoryIn
from club_server.schema import categories
from club_server.translations import read_translations, translations_json
from clubcore.errors import FormatError, NotFoundError

__all__ = ["get_category", "list_categories", "put_category"]


def _shown(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "names": read_translations(row.names),
        "parent": row.parent,
    }


def put_category(
    conn: Connection, actor: Actor, now: datetime, code: str, body: CategoryIn
) -> dict[str, Any]:
    """Add or change a category.

    Raises:
        RequestRefusedError: 403 forbidden.
        FormatError: an unknown parent, or the category as its own parent.
    """
    require(actor, Action.CATALOG)
    if body.parent is not None:
        if body.parent == code:
            raise FormatError(f"category {code!r} cannot be its own parent")
        get_category(conn, actor, body.parent, missing=FormatError)
    row = {
        "code": code,
        "name": body.name,
        "parent": body.parent,
        "names": translations_json(body.names),
    }
    audited_upsert(conn, actor, now, "categories", row)
    return get_category(conn, actor, code)


def get_category(
    conn: Connection, actor: Actor, code: str, *, missing: type[Exception] = NotFoundError
) -> dict[str, Any]:
    """One category.

    Raises:
        NotFoundError: no such category (or ``missing``).
    """
    require(actor, Action.CATALOG)
    row = conn.execute(select(categories).where(categories.c.code == code)).first()
    if row is None:
        raise missing(f"unknown category {code!r}")
    return _shown(row)


def list_categories(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every category, by code."""
    require(actor, Action.CATALOG)
    return [_shown(r) for r in conn.execute(select(categories).order_by(categories.c.code))]

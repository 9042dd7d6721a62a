"""Offers: what they give, to whom, when, their texts in each language, stacking, enabled.

An offer gives a ``unit_price`` for one SKU or a ``percent_bp`` off a SKU, a
category or everything; it targets all members, one tier, one segment or one
member; it runs between ``starts_at`` and ``ends_at`` (either may be open).
A disabled offer stays on the server but leaves the lanes (a ``delete``
delta) and the rule set until it is enabled again.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import audited_upsert, current_row
from club_server.admin.categories import get_category
from club_server.admin.models import OfferIn, when
from club_server.admin.prices import tier_in_use
from club_server.schema import members, offers, products
from clubcore.errors import FormatError, NotFoundError

__all__ = ["get_offer", "list_offers", "put_offer", "set_offer_enabled"]

_TARGETS = {"tier": "target_tier", "segment": "target_segment", "member": "target_member"}


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    target, value = "all", None
    for name, column in _TARGETS.items():
        if row[column] is not None:
            target, value = name, row[column]
    keep = (
        "offer_id",
        "title",
        "message",
        "unit_price",
        "percent_bp",
        "sku",
        "category",
        "starts_at",
        "ends_at",
    )
    return {
        **{k: row[k] for k in keep},
        "texts": json.loads(row["texts"] or "{}"),
        "target": target,
        "target_value": value,
        "stacks": bool(row["stacks"]),
        "enabled": bool(row["enabled"]),
    }


def _check_refs(conn: Connection, actor: Actor, body: OfferIn) -> None:
    if body.sku is not None:
        found = conn.execute(select(products.c.sku).where(products.c.sku == body.sku)).first()
        if found is None:
            raise FormatError(f"unknown product {body.sku!r}")
    if body.category is not None:
        get_category(conn, actor, body.category, missing=FormatError)
    if body.target == "tier" and body.target_value is not None:
        tier_in_use(conn, body.target_value)
    if body.target == "member":
        query = select(members.c.member_no).where(members.c.member_no == body.target_value)
        if conn.execute(query).first() is None:
            raise FormatError(f"unknown member {body.target_value!r}")


def put_offer(
    conn: Connection, actor: Actor, now: datetime, offer_id: str, body: OfferIn
) -> dict[str, Any]:
    """Add or change an offer.

    Raises:
        RequestRefusedError: 403 forbidden.
        FormatError: an unknown product, category, tier or member.
    """
    require(actor, Action.CATALOG)
    _check_refs(conn, actor, body)
    texts = {lang: text.model_dump() for lang, text in body.texts.items()}
    row: dict[str, Any] = {
        "offer_id": offer_id,
        "title": body.title,
        "message": body.message,
        "unit_price": body.unit_price,
        "percent_bp": body.percent_bp,
        "sku": body.sku,
        "category": body.category,
        "starts_at": when(body.starts_at),
        "ends_at": when(body.ends_at),
        "stacks": int(body.stacks),
        "enabled": int(body.enabled),
        "texts": json.dumps(texts, ensure_ascii=False, sort_keys=True),
    }
    for name, column in _TARGETS.items():
        row[column] = body.target_value if body.target == name else None
    return _shown(audited_upsert(conn, actor, now, "offers", row))


def set_offer_enabled(
    conn: Connection, actor: Actor, now: datetime, offer_id: str, enabled: bool
) -> dict[str, Any]:
    """Enable or disable an offer.

    Raises:
        NotFoundError: no such offer.
    """
    row = _row(conn, actor, offer_id)
    changed = {**row, "enabled": int(enabled)}
    return _shown(
        audited_upsert(
            conn, actor, now, "offers", changed, action="enable" if enabled else "disable"
        )
    )


def _row(conn: Connection, actor: Actor, offer_id: str) -> dict[str, Any]:
    require(actor, Action.CATALOG)
    row = current_row(conn, "offers", offer_id)
    if row is None:
        raise NotFoundError(f"no offer {offer_id!r}")
    return row


def get_offer(conn: Connection, actor: Actor, offer_id: str) -> dict[str, Any]:
    """One offer.

    Raises:
        NotFoundError: no such offer.
    """
    return _shown(_row(conn, actor, offer_id))


def list_offers(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every offer, enabled or not."""
    require(actor, Action.CATALOG)
    query = select(offers).order_by(offers.c.offer_id)
    return [_shown(dict(r._mapping)) for r in conn.execute(query)]

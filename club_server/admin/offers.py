"""Offers: what they give, to whom, when, their texts in each language, stacking, enabled.

An offer gives a ``unit_price`` for one SKU or a ``percent_bp`` off a SKU, a
category or everything; it targets all members, one tier, one segment or one
member; it runs between ``starts_at`` and ``ends_at`` (either may be open).
A disabled offer stays on the server but leaves the lanes (a ``delete``
delta) and the rule set until it is enabled again. An offer's rules are
:class:`clubcore.records.OfferRecord`'s; an offer for one member also needs
that member to exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import audited_upsert, current_row
from club_server.admin.models import OfferIn
from club_server.clock import iso
from club_server.known import category_codes, list_prices, tier_codes
from club_server.schema import members, offers
from club_server.translations import read_translations, translations_json
from clubcore.errors import FormatError, NotFoundError
from clubcore.records import Known, OfferRecord, validate

__all__ = ["get_offer", "list_offers", "offer_row", "put_offer", "set_offer_enabled"]

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
        "texts": read_translations(row["texts"]),
        "target": target,
        "target_value": value,
        "stacks": bool(row["stacks"]),
        "enabled": bool(row["enabled"]),
    }


def _record(offer_id: str, body: OfferIn) -> OfferRecord:
    targets = {column: body.target_value if body.target == name else None
               for name, column in _TARGETS.items()}  # fmt: skip
    return OfferRecord(
        offer_id, body.title, body.message, body.unit_price, body.percent_bp, body.sku,
        body.category, starts_at=body.starts_at, ends_at=body.ends_at, stacks=body.stacks,
        texts={lang: text.model_dump() for lang, text in body.texts.items()}, **targets,
    )  # fmt: skip


def _check(conn: Connection, record: OfferRecord) -> None:
    skus = [record.sku] if record.sku is not None else []
    known = Known(tier_codes(conn), category_codes(conn), list_prices(conn, skus))
    validate(record, known)
    if record.target_member is not None:
        query = select(members.c.member_no).where(members.c.member_no == record.target_member)
        if conn.execute(query).first() is None:
            raise FormatError(f"unknown member {record.target_member!r}")


def offer_row(record: OfferRecord) -> dict[str, Any]:
    """The ``offers`` row of a checked record (``enabled`` aside)."""

    def when(moment: datetime | None) -> str | None:
        return iso(moment) if moment else None

    return {
        "offer_id": record.offer_id, "title": record.title, "message": record.message,
        "unit_price": record.unit_price, "percent_bp": record.percent_bp, "sku": record.sku,
        "category": record.category, "target_member": record.target_member,
        "target_segment": record.target_segment, "target_tier": record.target_tier,
        "starts_at": when(record.starts_at), "ends_at": when(record.ends_at),
        "stacks": int(record.stacks), "texts": translations_json(record.texts),
    }  # fmt: skip


def put_offer(
    conn: Connection, actor: Actor, now: datetime, offer_id: str, body: OfferIn
) -> dict[str, Any]:
    """Add or change an offer.

    Raises:
        RequestRefusedError: 403 forbidden.
        RecordError: the offer breaks a rule (:mod:`clubcore.records`).
        FormatError: an unknown member.
    """
    require(actor, Action.CATALOG)
    record = _record(offer_id, body)
    _check(conn, record)
    row = {**offer_row(record), "enabled": int(body.enabled)}
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

"""Members in the back office: search, update, merge, and a member's history.

One phone number belongs to one member: :func:`update_member` refuses a phone
another (unmerged) member has (409 ``phone-taken``); writers are serialised
(:meth:`club_server.db.Database.writing`), so the check cannot race.

:func:`merge_members` moves the absorbed member's points ledger, points in
suspense, cards and sales to the survivor (the survivor's balance is then
the ledger sum again, their 12-month spend the sum of both) and leaves the
absorbed record with status ``merged`` and ``merged_into``; lanes receive
both members and the moved cards in their next delta. A sale's stored body
keeps the member number it was rung up with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import audited_upsert, current_row, list_audit
from club_server.admin.models import MemberUpdate
from club_server.clock import iso
from club_server.known import tier_codes
from club_server.members import _phone_salt, phone_taken
from club_server.schema import cards, members, points_ledger, points_suspense, sales
from clubcore.errors import FormatError, RequestRefusedError, UnknownMemberError
from clubcore.identity import e164_lookup_key, is_phone, normalise_phone, parse_member_number
from clubcore.records import Known, MemberRecord, MemberStatus, validate

__all__ = ["get_member", "member_history", "merge_members", "search_members", "update_member"]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "member_no",
        "display_name",
        "full_name",
        "phone",
        "tier",
        "status",
        "points_balance",
        "spend_12m",
        "joined_at",
        "updated_at",
        "merged_into",
    )
    segments = [s for s in (row["segments"] or "").split(",") if s]
    return {**{k: row[k] for k in keep}, "segments": segments}


def member_record(row: dict[str, Any]) -> MemberRecord:
    """The record of a ``members`` row, to check it (:mod:`clubcore.records`)."""
    segments = tuple(s for s in (row["segments"] or "").split(",") if s)
    return MemberRecord(row["member_no"], row["display_name"], row["tier"], row["phone"],
                        segments, row["full_name"], row["status"])  # fmt: skip


def _row(conn: Connection, member_no: str) -> dict[str, Any]:
    number = parse_member_number(member_no)
    row = current_row(conn, "members", number)
    if row is None:
        raise UnknownMemberError(f"no member {number!r}")
    return row


def get_member(conn: Connection, actor: Actor, member_no: str) -> dict[str, Any]:
    """One member.

    Raises:
        FormatError: not a member number.
        UnknownMemberError: no such member.
    """
    require(actor, Action.MEMBERS)
    return _shown(_row(conn, member_no))


def search_members(
    conn: Connection, actor: Actor, text: str, *, limit: int = 50
) -> list[dict[str, Any]]:
    """Members whose number or phone is ``text``, or whose name contains it."""
    require(actor, Action.MEMBERS)
    text = text.strip()
    found: Sequence[Any] = []
    if is_phone(text):
        query = select(members).where(members.c.phone == normalise_phone(text))
        found = conn.execute(query.limit(limit)).all()
    if not found:
        try:
            number = parse_member_number(text)
        except FormatError:
            number = None
        if number:
            found = conn.execute(select(members).where(members.c.member_no == number)).all()
    if not found and text:
        like = f"%{text.lower()}%"
        query = select(members).where(
            or_(
                func.lower(members.c.display_name).like(like),
                func.lower(members.c.full_name).like(like),
            )
        )
        found = conn.execute(query.order_by(members.c.member_no).limit(limit)).all()
    return [_shown(dict(r._mapping)) for r in found]


def update_member(
    conn: Connection, actor: Actor, now: datetime, member_no: str, body: MemberUpdate
) -> dict[str, Any]:
    """Change a member's names, phone, tier, segments or status.

    A tier set here stays until spend moves the member (``club-server tiers
    recompute``) unless the tier is not assignable (then it is the club's to set).

    Raises:
        RequestRefusedError: 403 forbidden; 409 phone-taken.
        UnknownMemberError: no such member.
        FormatError: a malformed phone.
        RecordError: the member breaks a rule (:mod:`clubcore.records`): an unknown or
            retired tier, a status only a merge sets, ...
    """
    require(actor, Action.MEMBERS)
    row = _row(conn, member_no)
    if row["merged_into"] is not None:
        raise RequestRefusedError(409, "conflict", f"member {row['member_no']} was merged")
    changed = dict(row)
    for field in ("display_name", "full_name", "status"):
        if getattr(body, field) is not None:
            changed[field] = str(getattr(body, field))
    if body.tier is not None:
        changed["tier"] = body.tier
    if body.segments is not None:
        changed["segments"] = ",".join(dict.fromkeys(body.segments))
    if body.phone is not None:
        e164 = normalise_phone(body.phone) if body.phone.strip() else None
        if e164:
            phone_taken(conn, e164, row["member_no"])
        changed["phone"] = e164
        changed["phone_hash"] = e164_lookup_key(e164, _phone_salt(conn)) if e164 else None
    if changed != row:
        validate(member_record(changed), Known(tiers=tier_codes(conn)))
        changed["updated_at"] = iso(now)
        audited_upsert(conn, actor, now, "members", changed)
    return _shown(changed)


def merge_members(
    conn: Connection, actor: Actor, now: datetime, survivor: str, absorbed: str
) -> dict[str, Any]:
    """Merge ``absorbed`` into ``survivor``; returns the survivor.

    Raises:
        RequestRefusedError: 403 forbidden; 409 conflict, the same member or one merged.
        UnknownMemberError: either is unknown.
    """
    require(actor, Action.MEMBERS)
    keep, gone = _row(conn, survivor), _row(conn, absorbed)
    if keep["member_no"] == gone["member_no"] or keep["merged_into"] or gone["merged_into"]:
        raise RequestRefusedError(409, "conflict", "merge two different, unmerged members")
    old, new = gone["member_no"], keep["member_no"]
    for table in (points_ledger, points_suspense, sales):
        conn.execute(table.update().where(table.c.member_no == old).values(member_no=new))
    for card in conn.execute(select(cards).where(cards.c.member_no == old)).all():
        audited_upsert(
            conn, actor, now, "cards", {**card._mapping, "member_no": new, "updated_at": iso(now)}
        )
    total = select(func.coalesce(func.sum(points_ledger.c.points), 0)).where(
        points_ledger.c.member_no == new
    )
    balance = int(conn.execute(total).scalar() or 0)
    audited_upsert(
        conn,
        actor,
        now,
        "members",
        {
            **gone,
            "status": MemberStatus.MERGED.value,
            "merged_into": new,
            "points_balance": 0,
            "spend_12m": 0,
            "phone": None,
            "phone_hash": None,
            "updated_at": iso(now),
        },
        action="merge",
    )
    merged = {
        **keep,
        "points_balance": balance,
        "spend_12m": keep["spend_12m"] + gone["spend_12m"],
        "updated_at": iso(now),
    }
    if keep["phone"] is None and gone["phone"] is not None:
        merged["phone"], merged["phone_hash"] = gone["phone"], gone["phone_hash"]
    return _shown(audited_upsert(conn, actor, now, "members", merged, action="merge"))


def member_history(conn: Connection, actor: Actor, member_no: str) -> dict[str, Any]:
    """A member now, the audited changes to them, their ledger and their last 100 sales."""
    require(actor, Action.MEMBERS)
    row = _row(conn, member_no)
    number = row["member_no"]
    ledger = select(points_ledger).where(points_ledger.c.member_no == number)
    sold = (
        select(
            sales.c.sale_id,
            sales.c.kind,
            sales.c.store_id,
            sales.c.created_at,
            sales.c.total,
            sales.c.points_earned,
            sales.c.points_redeemed,
        )
        .where(sales.c.member_no == number)
        .order_by(sales.c.created_at.desc())
        .limit(100)
    )
    return {
        "member": _shown(row),
        "changes": list_audit(conn, entity="members", key=number),
        "ledger": [
            dict(r._mapping) for r in conn.execute(ledger.order_by(points_ledger.c.entry_id))
        ],
        "sales": [dict(r._mapping) for r in conn.execute(sold)],
    }

"""Adding, changing and retiring tiers.

A retired tier stays on the server (old sales name it) but leaves the lanes
and the rule set. Retiring moves its members to the tier the operator names,
removes its member prices and category percentages, disables the offers
that target it, and publishes the rule set once; each of those changes is
audited, the members' move as one entry (who moved is in the change log).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, literal, select

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import audited_delete, audited_upsert, current_row, record_audit
from club_server.admin.models import TierIn
from club_server.clock import iso
from club_server.known import tier_in_use
from club_server.rulesets import publish
from club_server.schema import category_discounts, changes, member_prices, members, offers, tiers
from club_server.translations import read_translations, translations_json
from clubcore.errors import NotFoundError, RequestRefusedError

__all__ = ["get_tier", "list_tiers", "put_tier", "retire_tier"]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{
            k: row[k]
            for k in ("code", "name", "rank", "min_spend", "earn_multiplier_bp", "retired_at")
        },
        "names": read_translations(row["names"]),
        "assignable": bool(row["assignable"]),
        "benefits": json.loads(row["benefits"] or "[]"),
    }


def put_tier(
    conn: Connection, actor: Actor, now: datetime, code: str, body: TierIn
) -> dict[str, Any]:
    """Add or change a tier (members are re-tiered by ``club-server tiers recompute``).

    Raises:
        RequestRefusedError: 403 forbidden; 409 conflict, a retired tier.
    """
    require(actor, Action.CATALOG)
    existing = current_row(conn, "tiers", code)
    if existing is not None and existing["retired_at"] is not None:
        raise RequestRefusedError(409, "conflict", f"tier {code!r} is retired")
    row = {
        "code": code,
        "name": body.name,
        "rank": body.rank,
        "min_spend": body.min_spend,
        "earn_multiplier_bp": body.earn_multiplier_bp,
        "assignable": int(body.assignable),
        "benefits": json.dumps(body.benefits, ensure_ascii=False),
        "names": translations_json(body.names),
    }
    return _shown(audited_upsert(conn, actor, now, "tiers", row))


def retire_tier(
    conn: Connection, actor: Actor, now: datetime, code: str, move_to: str
) -> dict[str, Any]:
    """Retire ``code``, moving its members to ``move_to``; returns what was done.

    Raises:
        RequestRefusedError: 403 forbidden; 409 conflict, already retired or moving to itself.
        NotFoundError: no such tier.
        FormatError: ``move_to`` is unknown or retired.
    """
    require(actor, Action.CATALOG)
    row = current_row(conn, "tiers", code)
    if row is None:
        raise NotFoundError(f"no tier {code!r}")
    if row["retired_at"] is not None or move_to == code:
        raise RequestRefusedError(409, "conflict", f"tier {code!r} is retired or is the target")
    tier_in_use(conn, move_to)
    moved = _move_members(conn, actor, now, code, move_to)
    for table, column, entity in (
        (member_prices, member_prices.c.sku, "member_prices"),
        (category_discounts, category_discounts.c.category, "category_discounts"),
    ):
        for (other,) in conn.execute(select(column).where(table.c.tier == code)).all():
            audited_delete(conn, actor, now, entity, f"{other}|{code}", publish=False)
    targeted = select(offers).where(offers.c.target_tier == code, offers.c.enabled != 0)
    for offer in conn.execute(targeted).all():
        audited_upsert(
            conn,
            actor,
            now,
            "offers",
            {**offer._mapping, "enabled": 0},
            action="disable",
            publish=False,
        )
    audited_upsert(
        conn, actor, now, "tiers", {**row, "retired_at": iso(now)}, action="retire", publish=False
    )
    publish(conn, now)
    return {"tier": code, "moved_to": move_to, "members_moved": moved}


def _move_members(conn: Connection, actor: Actor, now: datetime, code: str, move_to: str) -> int:
    numbers = select(literal("members"), members.c.member_no).where(members.c.tier == code)
    count = len(conn.execute(numbers).all())
    if not count:
        return 0
    conn.execute(changes.insert().from_select(["entity", "key"], numbers))
    conn.execute(
        members.update().where(members.c.tier == code).values(tier=move_to, updated_at=iso(now))
    )
    record_audit(
        conn,
        actor,
        now,
        entity="tiers",
        key=code,
        action="move-members",
        before={"tier": code, "members": count},
        after={"tier": move_to, "members": count},
    )
    return count


def get_tier(conn: Connection, actor: Actor, code: str) -> dict[str, Any]:
    """One tier (retired or not).

    Raises:
        NotFoundError: no such tier.
    """
    require(actor, Action.CATALOG)
    row = current_row(conn, "tiers", code)
    if row is None:
        raise NotFoundError(f"no tier {code!r}")
    return _shown(row)


def list_tiers(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every tier by rank, retired ones included."""
    require(actor, Action.CATALOG)
    query = select(tiers).order_by(tiers.c.rank, tiers.c.code)
    return [_shown(dict(r._mapping)) for r in conn.execute(query)]

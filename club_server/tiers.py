"""Member tiers from 12-month spend: kept current as sales arrive, recomputed on demand.

A member's ``spend_12m`` grows with every pushed sale (voids and refunds are
negative) and their tier follows it: the highest *assignable* tier whose
threshold the spend reaches (:func:`clubcore.tiers.tier_for_spend`), up or
down. Members in a tier the club assigns (not assignable, e.g. VIP) keep it.

``club-server tiers recompute`` re-derives every tier from the stored spend
(after thresholds change) and, with ``--rolling``, first rebuilds
``spend_12m`` from the last 365 days of sales on the server (meaningful once
the server holds a year of sales; demo members start with a seeded spend).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select

from club_server.changes import record
from club_server.clock import iso
from club_server.schema import members, sales, tiers
from clubcore.tiers import Tier, tier_for_spend

__all__ = ["apply_spend", "load_tiers", "recompute"]

_CHUNK = 500


def load_tiers(conn: Connection) -> dict[str, Tier]:
    """Every tier in use (not retired), by code."""
    return {
        row.code: Tier(
            row.code,
            row.name,
            row.rank,
            row.min_spend,
            row.earn_multiplier_bp,
            bool(row.assignable),
            tuple(json.loads(row.benefits)),
        )
        for row in conn.execute(select(tiers).where(tiers.c.retired_at.is_(None)))
    }


def _tier_for(known: Mapping[str, Tier], current: str, spend: int) -> str:
    tier = known.get(current)
    if tier is not None and not tier.assignable:
        return current  # assigned by the club
    try:
        return tier_for_spend(known.values(), spend).code
    except ValueError:  # no base tier defined: leave it
        return current


def _update(conn: Connection, rows: list[tuple[str, str, int]], now: datetime) -> list[str]:
    """Write (member_no, tier, spend) rows; returns the members whose tier changed."""
    if not rows:
        return []
    conn.execute(
        members.update()
        .where(members.c.member_no == bindparam("m_no"))
        .values(tier=bindparam("m_tier"), spend_12m=bindparam("m_spend"), updated_at=iso(now)),
        [{"m_no": m, "m_tier": t, "m_spend": s} for m, t, s in rows],
    )
    return [m for m, _, _ in rows]


def apply_spend(conn: Connection, deltas: Mapping[str, int], now: datetime) -> dict[str, str]:
    """Add spend to members (in the caller's transaction) and move their tiers.

    Returns:
        member number -> new tier, for members whose tier changed. The caller
        records the member changes (the sales push does, once per member).
    """
    known = load_tiers(conn)
    numbers = sorted(deltas)
    rows, moved = [], {}
    for start in range(0, len(numbers), _CHUNK):
        query = select(members.c.member_no, members.c.tier, members.c.spend_12m).where(
            members.c.member_no.in_(numbers[start : start + _CHUNK])
        )
        for member_no, tier, spend in conn.execute(query):
            new_spend = max(spend + deltas[member_no], 0)
            new_tier = _tier_for(known, tier, new_spend)
            rows.append((member_no, new_tier, new_spend))
            if new_tier != tier:
                moved[member_no] = new_tier
    _update(conn, rows, now)
    return moved


def _rolling_spend(conn: Connection, numbers: Iterable[str], now: datetime) -> dict[str, int]:
    since = (now - timedelta(days=365)).isoformat()
    wanted = list(numbers)
    spend: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = (
            select(sales.c.member_no, func.sum(sales.c.total))
            .where(sales.c.member_no.in_(wanted[start : start + _CHUNK]))
            .where(sales.c.created_at >= since)
            .group_by(sales.c.member_no)
        )
        spend.update((m, int(total or 0)) for m, total in conn.execute(query))
    return spend


def recompute(conn: Connection, now: datetime, *, rolling: bool = False) -> dict[str, int]:
    """Re-derive every member's tier (and with ``rolling`` their 12-month spend).

    Returns:
        counts: members checked, tiers changed.
    """
    known = load_tiers(conn)
    checked = changed = 0
    after = ""
    while True:
        page = conn.execute(
            select(members.c.member_no, members.c.tier, members.c.spend_12m)
            .where(members.c.member_no > after)
            .order_by(members.c.member_no)
            .limit(_CHUNK)
        ).all()
        if not page:
            return {"members": checked, "tiers_changed": changed}
        spend = _rolling_spend(conn, (r[0] for r in page), now) if rolling else {}
        rows = []
        for member_no, tier, stored in page:
            new_spend = spend.get(member_no, 0) if rolling else stored
            new_tier = _tier_for(known, tier, new_spend)
            if (new_tier, new_spend) != (tier, stored):
                rows.append((member_no, new_tier, new_spend))
                changed += new_tier != tier
        for member_no in _update(conn, rows, now):
            record(conn, "members", member_no)
        checked += len(page)
        after = page[-1][0]

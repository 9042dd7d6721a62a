"""Things the club must look at: odd balances, conflicting sales, unknown members, card velocity.

The server never drops what a terminal reports; when something does not add
up it keeps it and raises a flag here (``club-server flags``). Kinds:

======================  ======================================================
kind                    raised when
======================  ======================================================
``negative-balance``    a member's ledger sum went below zero (offline redemption)
``sale-conflict``       a different body was pushed for a known ``sale_id``
``unknown-member``      a sale names a member the club does not have
``velocity``            one member's card was used for more than
                        ``velocity.max_sales`` sales within
                        ``velocity.window_minutes``, across all stores
``store-hop``           one member's card was used in two stores within
                        ``velocity.store_hop_minutes``
``price-mismatch``      a sale does not re-price as the rules it names (or
                        names rules never published, or reverses a held
                        sale): stored, its points held
``points-limit``        a sale earns more than ``limits.points_per_sale``, or
                        its member more than ``limits.points_per_member_day``
                        on its business day: stored, its points held
``foreign-return``      a void or refund of another store's sale (rejected)
``sale-id-reused``      a terminal pushed a ``sale_id`` another terminal used
                        (stored as the pushing terminal's own sale: ids are
                        per terminal, so nothing is squatted); not counted
                        for incidents, as either of the two may be the copy
``incident``            a terminal has ``limits.incident_flags`` open flags of
                        the kinds above: one incident per terminal, listed
                        first by ``club-server flags``
======================  ======================================================

Velocity is judged on the sales' own ``created_at`` times (the lane's clock,
so a lane that was offline is judged when it pushes) and counts sales only
(not voids or refunds). The limits are club settings (``settings`` table);
a missing or malformed value takes the default, and 0 turns a check off.
One flag is raised per member and kind for a burst: not again while an
open flag of the same kind marks a sale of that member within the window.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select

from club_server.clock import iso
from club_server.schema import flags, sales, settings
from club_server.settings import SETTINGS
from clubcore.errors import NotFoundError
from clubcore.sale import Sale, SaleKind

__all__ = [
    "TRUST_KINDS",
    "VELOCITY_DEFAULTS",
    "VelocityLimits",
    "add_flag",
    "flag_velocity",
    "list_flags",
    "raise_incident",
    "resolve_flags",
]

#: the flags that say a lane recorded what an honest lane could not; enough open ones
#: from one terminal make an ``incident``
TRUST_KINDS = ("price-mismatch", "points-limit", "foreign-return")


def add_flag(
    conn: Connection,
    kind: str,
    subject: str,
    detail: str,
    now: datetime,
    *,
    sale_id: str | None = None,
    terminal_id: str | None = None,
    payload: str | None = None,
) -> None:
    """Raise a flag (in the caller's transaction); ``payload``: a refused body kept for review."""
    conn.execute(
        flags.insert().values(
            kind=kind,
            subject=subject,
            detail=detail,
            sale_id=sale_id,
            terminal_id=terminal_id,
            created_at=iso(now),
            payload=payload,
        )
    )


def raise_incident(conn: Connection, terminal_id: str, threshold: int, now: datetime) -> bool:
    """Raise one ``incident`` for ``terminal_id`` when it has ``threshold`` open trust flags.

    Not again while an incident of the terminal is open; ``threshold`` 0 never
    raises one. Returns whether one was raised.
    """
    if threshold <= 0:
        return False
    open_flags = flags.c.resolved_at.is_(None) & (flags.c.terminal_id == terminal_id)
    query = select(flags.c.kind, func.count()).where(open_flags).group_by(flags.c.kind)
    counts = {str(kind): int(n) for kind, n in conn.execute(query)}
    trust = sum(counts.get(kind, 0) for kind in TRUST_KINDS)
    if trust < threshold or counts.get("incident"):
        return False
    shown = ", ".join(f"{counts[k]} {k}" for k in TRUST_KINDS if counts.get(k))
    add_flag(
        conn,
        "incident",
        terminal_id,
        f"terminal {terminal_id} has {trust} open trust flags ({shown}): check its "
        "credential (club-server terminal revoke)",
        now,
        terminal_id=terminal_id,
    )
    return True


def list_flags(
    conn: Connection, *, include_resolved: bool = False, kind: str | None = None
) -> list[dict[str, Any]]:
    """Every open flag (and resolved ones if asked): incidents first, then oldest first.

    Only ``kind`` if given.
    """
    incident_first = case((flags.c.kind == "incident", 0), else_=1)
    query = select(flags).order_by(incident_first, flags.c.flag_id)
    if not include_resolved:
        query = query.where(flags.c.resolved_at.is_(None))
    if kind is not None:
        query = query.where(flags.c.kind == kind)
    return [dict(row._mapping) for row in conn.execute(query)]


def resolve_flags(conn: Connection, flag_ids: Sequence[int], now: datetime) -> int:
    """Mark open flags resolved (in the caller's transaction); all of them or none.

    Raises:
        NotFoundError: an id that is no flag, or a flag already resolved.
    """
    wanted = sorted(set(flag_ids))
    rows = conn.execute(
        select(flags.c.flag_id, flags.c.resolved_at).where(flags.c.flag_id.in_(wanted))
    ).all()
    found = {int(row.flag_id): row.resolved_at for row in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"no flag {', '.join(map(str, missing))}")
    done = [i for i in wanted if found[i] is not None]
    if done:
        raise NotFoundError(
            f"flag {', '.join(map(str, done))} is already resolved", hint="club-server flags --all"
        )
    conn.execute(flags.update().where(flags.c.flag_id.in_(wanted)).values(resolved_at=iso(now)))
    return len(wanted)


#: setting -> default: more than ``max_sales`` in ``window_minutes``; two stores within
#: ``store_hop_minutes``
VELOCITY_DEFAULTS = {
    "velocity.max_sales": 20,
    "velocity.window_minutes": 10,
    "velocity.store_hop_minutes": 5,
}


@dataclass(frozen=True, slots=True)
class VelocityLimits:
    """The velocity limits; a zero ``max_sales``, ``window`` or ``store_hop`` turns a check off."""

    max_sales: int = VELOCITY_DEFAULTS["velocity.max_sales"]
    window: timedelta = timedelta(minutes=VELOCITY_DEFAULTS["velocity.window_minutes"])
    store_hop: timedelta = timedelta(minutes=VELOCITY_DEFAULTS["velocity.store_hop_minutes"])

    @classmethod
    def load(cls, conn: Connection) -> VelocityLimits:
        """The limits from the club's settings, with defaults for missing or malformed ones."""
        query = select(settings.c.key, settings.c.value)
        rows = dict(conn.execute(query.where(settings.c.key.in_(VELOCITY_DEFAULTS))).all())
        values = {}
        for key, default in VELOCITY_DEFAULTS.items():
            parse = SETTINGS[key].parse  # what `club-server settings set` accepts
            assert parse is not None
            try:
                values[key] = int(parse(str(rows[key]))) if key in rows else default
            except ValueError:
                values[key] = default
        return cls(
            values["velocity.max_sales"],
            timedelta(minutes=values["velocity.window_minutes"]),
            timedelta(minutes=values["velocity.store_hop_minutes"]),
        )

    @property
    def counting(self) -> bool:
        return self.max_sales > 0 and self.window > timedelta(0)

    @property
    def span(self) -> timedelta:
        """How far from a sale another sale can matter."""
        return max(self.window if self.counting else timedelta(0), self.store_hop)


@dataclass(frozen=True, slots=True, order=True)
class _Use:
    """One use of a member's card: a sale, when and where."""

    at: datetime
    store_id: str
    sale_id: str


def flag_velocity(
    conn: Connection,
    new_sales: Sequence[Sale],
    terminal_id: str,
    now: datetime,
    limits: VelocityLimits | None = None,
) -> None:
    """Flag members whose cards ``new_sales`` (already stored) show used too fast.

    Arguments:
        new_sales: the sales just stored; only member sales count.
        terminal_id: the terminal that pushed them (recorded on the flag).
        limits: the limits; None reads them from the settings.
    """
    member_sales = [s for s in new_sales if s.member_no and s.kind is SaleKind.SALE]
    if not member_sales:
        return
    limits = limits or VelocityLimits.load(conn)
    if limits.span <= timedelta(0):
        return
    uses = _uses(conn, member_sales, limits.span)
    found: list[tuple[str, str, _Use, str]] = []
    for member_no in sorted(uses):
        fresh = {s.sale_id for s in member_sales if s.member_no == member_no}
        history = sorted(uses[member_no])
        if limits.counting:
            crowded = _crowded(history, fresh, limits)
            if crowded is not None:
                found.append(("velocity", member_no, *crowded))
        hop = _hop(history, fresh, limits.store_hop)
        if hop is not None:
            found.append(("store-hop", member_no, *hop))
    if found:
        _raise_new(conn, found, limits, terminal_id, now)


def _uses(conn: Connection, batch: list[Sale], span: timedelta) -> dict[str, list[_Use]]:
    """Every stored sale of the batch's members on the business days around the batch.

    Read through the member-and-day index; a sale's neighbours within ``span``
    are on its business day, or the day before/after when its local hour is
    near midnight (with an hour to spare for daylight saving).
    """
    margin = span + timedelta(hours=1)
    days: set[str] = set()
    for sale in batch:
        days.add(sale.business_date.isoformat())
        if timedelta(hours=sale.hour) < margin:
            days.add((sale.business_date - timedelta(days=1)).isoformat())
        if timedelta(hours=24 - (sale.hour + 1)) < margin:
            days.add((sale.business_date + timedelta(days=1)).isoformat())
    numbers = sorted({s.member_no for s in batch if s.member_no})
    uses: dict[str, list[_Use]] = defaultdict(list)
    for start in range(0, len(numbers), 500):
        query = select(sales.c.member_no, sales.c.created_at, sales.c.store_id, sales.c.sale_id)
        query = query.where(
            sales.c.business_date.in_(sorted(days)),
            sales.c.kind == str(SaleKind.SALE),
            sales.c.member_no.in_(numbers[start : start + 500]),
        )
        for member_no, created_at, store_id, sale_id in conn.execute(query):
            at = datetime.fromisoformat(created_at).astimezone(UTC)
            uses[str(member_no)].append(_Use(at, str(store_id), str(sale_id)))
    return uses


def _crowded(
    history: list[_Use], fresh: set[str], limits: VelocityLimits
) -> tuple[_Use, str] | None:
    """The first new sale inside a window holding more than ``max_sales``, and why."""
    times = [use.at for use in history]
    new_at = [n for n, use in enumerate(history) if use.sale_id in fresh]
    for i, first in enumerate(history):
        end = bisect.bisect_right(times, first.at + limits.window)
        if end - i <= limits.max_sales:
            continue
        k = bisect.bisect_left(new_at, i)
        if k < len(new_at) and new_at[k] < end:
            where = sorted({use.store_id for use in history[i:end]})
            minutes = limits.window.total_seconds() / 60
            return history[new_at[k]], (
                f"{end - i} sales within {minutes:g} minutes from {iso(first.at)} "
                f"(limit {limits.max_sales}), in {', '.join(where)}"
            )
    return None


def _hop(history: list[_Use], fresh: set[str], hop: timedelta) -> tuple[_Use, str] | None:
    """The first new sale with a sale in another store within ``hop``, and why."""
    by_store: dict[str, list[datetime]] = defaultdict(list)
    for use in history:
        by_store[use.store_id].append(use.at)
    if hop <= timedelta(0) or len(by_store) < 2:
        return None
    for use in history:
        if use.sale_id not in fresh:
            continue
        for store_id, times in sorted(by_store.items()):
            if store_id == use.store_id:
                continue
            i = bisect.bisect_left(times, use.at - hop)
            if i < len(times) and times[i] <= use.at + hop:
                gap = abs(times[i] - use.at).total_seconds() / 60
                return use, (
                    f"used in {use.store_id} and {store_id} {gap:.0f} minutes apart "
                    f"(limit {hop.total_seconds() / 60:g}), around {iso(use.at)}"
                )
    return None


def _raise_new(
    conn: Connection,
    found: list[tuple[str, str, _Use, str]],
    limits: VelocityLimits,
    terminal_id: str,
    now: datetime,
) -> None:
    """Raise the ``found`` flags, but not where an open one marks the same burst."""
    spans = {"velocity": limits.window, "store-hop": limits.store_hop}
    query = (
        select(flags.c.kind, flags.c.subject, sales.c.created_at)
        .join(sales, sales.c.sale_id == flags.c.sale_id)
        .where(
            flags.c.resolved_at.is_(None),
            flags.c.kind.in_(spans),
            flags.c.subject.in_(sorted({member for _, member, _, _ in found})),
        )
    )
    open_flags: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for kind, subject, created_at in conn.execute(query):
        open_flags[kind, subject].append(datetime.fromisoformat(created_at).astimezone(UTC))
    for kind, member_no, use, detail in found:
        if any(abs(at - use.at) <= spans[kind] for at in open_flags[kind, member_no]):
            continue
        add_flag(conn, kind, member_no, detail, now, sale_id=use.sale_id, terminal_id=terminal_id)

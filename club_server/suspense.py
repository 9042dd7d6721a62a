"""The points suspense account: points that are not (yet) a member's.

A sale whose points the club does not credit when it arrives (see
:mod:`club_server.sales`: a member the club does not have, a sale that does
not re-price as its rules, points over the club's limits, a return of such a
sale) is stored, and its ledger entries are parked here instead of in the
member's ``points_ledger``, with the reason. Nothing here counts in a
balance, and a member added later inherits nothing from it silently.

The operator decides, entry by entry (``club-server suspense list|release|
discard``): :func:`release` moves entries into the member's ledger (the
member must exist; the balance is recomputed as the ledger sum and the
member change reaches the lanes), :func:`discard` closes them without
crediting. Either is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.changes import record
from club_server.clock import iso
from club_server.schema import members, points_ledger, points_suspense
from clubcore.errors import NotFoundError, UnknownMemberError

__all__ = ["discard", "list_suspense", "release"]


def list_suspense(
    conn: Connection, *, member_no: str | None = None, include_resolved: bool = False
) -> list[dict[str, Any]]:
    """Suspense entries, oldest first: open ones (resolved too if asked); of one member if given."""
    query = select(points_suspense).order_by(points_suspense.c.entry_id)
    if not include_resolved:
        query = query.where(points_suspense.c.resolved_at.is_(None))
    if member_no is not None:
        query = query.where(points_suspense.c.member_no == member_no)
    return [dict(row._mapping) for row in conn.execute(query)]


def _open_entries(conn: Connection, entry_ids: Sequence[int]) -> list[Any]:
    """The open entries ``entry_ids``, all of them.

    Raises:
        NotFoundError: an id that is no entry, or an entry already released or discarded.
    """
    wanted = sorted(set(entry_ids))
    rows = conn.execute(select(points_suspense).where(points_suspense.c.entry_id.in_(wanted))).all()
    found = {int(row.entry_id): row for row in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"no suspense entry {', '.join(map(str, missing))}")
    done = [i for i in wanted if found[i].resolved_at is not None]
    if done:
        raise NotFoundError(
            f"suspense entry {', '.join(map(str, done))} is already {found[done[0]].resolution}",
            hint="club-server suspense list --all",
        )
    return [found[i] for i in wanted]


def release(conn: Connection, entry_ids: Sequence[int], now: datetime) -> int:
    """Credit open suspense entries to their members' ledgers (caller's transaction); all or none.

    Returns:
        how many entries were released.

    Raises:
        NotFoundError: an id that is no open entry.
        UnknownMemberError: an entry's member is not (yet) in the club.
    """
    rows = _open_entries(conn, entry_ids)
    numbers = sorted({str(row.member_no) for row in rows})
    have = set(
        conn.execute(select(members.c.member_no).where(members.c.member_no.in_(numbers))).scalars()
    )
    absent = [n for n in numbers if n not in have]
    if absent:
        raise UnknownMemberError(
            f"member {absent[0]} is not in the club", hint="add the member first, or discard"
        )
    stamp = iso(now)
    conn.execute(
        points_ledger.insert(),
        [
            {
                "member_no": row.member_no,
                "kind": row.kind,
                "points": row.points,
                "sale_id": row.sale_id,
                "created_at": stamp,
            }
            for row in rows
        ],
    )
    _close(conn, [int(row.entry_id) for row in rows], "released", stamp)
    from club_server.sales import ledger_balances  # (sales parks entries here)

    balances = ledger_balances(conn, numbers)
    for number in numbers:
        conn.execute(
            members.update()
            .where(members.c.member_no == number)
            .values(points_balance=balances.get(number, 0), updated_at=stamp)
        )
        record(conn, "members", number)
    return len(rows)


def discard(conn: Connection, entry_ids: Sequence[int], now: datetime) -> int:
    """Close open suspense entries without crediting them (caller's transaction); all or none.

    Raises:
        NotFoundError: an id that is no open entry.
    """
    rows = _open_entries(conn, entry_ids)
    _close(conn, [int(row.entry_id) for row in rows], "discarded", iso(now))
    return len(rows)


def _close(conn: Connection, ids: list[int], resolution: str, stamp: str) -> None:
    conn.execute(
        points_suspense.update()
        .where(points_suspense.c.entry_id.in_(ids))
        .values(resolved_at=stamp, resolution=resolution)
    )

"""Things the club must look at: negative balances, conflicting sales, unknown members.

The server never drops what a terminal reports; when something does not add
up it keeps it and raises a flag here (``club-server flags``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from club_server.clock import iso
from club_server.schema import flags

__all__ = ["add_flag", "list_flags"]


def add_flag(
    conn: Connection,
    kind: str,
    subject: str,
    detail: str,
    now: datetime,
    *,
    sale_id: str | None = None,
    terminal_id: str | None = None,
) -> None:
    """Raise a flag (in the caller's transaction)."""
    conn.execute(
        flags.insert().values(
            kind=kind,
            subject=subject,
            detail=detail,
            sale_id=sale_id,
            terminal_id=terminal_id,
            created_at=iso(now),
        )
    )


def list_flags(conn: Connection, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Every open flag (and resolved ones if asked), oldest first."""
    query = select(flags).order_by(flags.c.flag_id)
    if not include_resolved:
        query = query.where(flags.c.resolved_at.is_(None))
    return [dict(row._mapping) for row in conn.execute(query)]

"""Named counters for numbers the server hands out (card serials, member numbers)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select

from club_server.schema import counters

__all__ = ["next_value"]


def next_value(conn: Connection, name: str, initial: Callable[[], int]) -> int:
    """Take the next value of counter ``name`` (in the caller's write transaction).

    ``initial()`` gives the first value when the counter does not exist yet.
    """
    current = conn.execute(select(counters.c.value).where(counters.c.name == name)).scalar()
    if current is None:
        value = initial()
        conn.execute(counters.insert().values(name=name, value=value + 1))
        return value
    conn.execute(counters.update().where(counters.c.name == name).values(value=current + 1))
    return int(current)

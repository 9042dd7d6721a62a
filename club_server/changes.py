"""The change log: what terminals pull as deltas after their snapshot.

Every mutation of a cached entity calls :func:`record` (or
:func:`record_all`) in the same transaction. The log holds only ``(seq,
entity, key)``; a delta carries the row as it is when the delta is read, or
``delete`` when the row is gone (``docs/sync-protocol.md``, "Deltas").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Text, cast, func, literal, select, tuple_

from club_server.entities import ENTITIES, Entity
from club_server.schema import changes
from clubcore.points import POLICY_SETTINGS
from clubcore.wire import MAX_CHANGES

__all__ = ["current_cursor", "read_changes", "record", "record_all", "rows_by_key"]

_CHUNK = 500


def record(conn: Connection, entity: str, key: str) -> int:
    """Append one change; returns its ``seq``."""
    result = conn.execute(changes.insert(), {"entity": entity, "key": key})
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def record_all(conn: Connection, entity: Entity) -> None:
    """Append a change for every row of ``entity`` (after a bulk load), in key order."""
    keys = [cast(c, Text) for c in entity.key_columns()]
    key_text = keys[0] if len(keys) == 1 else keys[0] + literal("|") + keys[1]
    query = select(literal(entity.name), key_text).order_by(*entity.key_columns())
    conn.execute(changes.insert().from_select(["entity", "key"], query))


def current_cursor(conn: Connection) -> int:
    """The newest change-log position (0 when empty)."""
    return int(conn.execute(select(func.max(changes.c.seq))).scalar() or 0)


def rows_by_key(conn: Connection, entity: Entity, keys: Iterable[str]) -> dict[str, list[Any]]:
    """The current wire rows of ``entity`` for the wire ``keys`` that still exist.

    Raises:
        FormatError: a malformed key.
    """
    wanted = sorted(set(keys))
    found: dict[str, list[Any]] = {}
    width = len(entity.key)
    for start in range(0, len(wanted), _CHUNK):
        values = [entity.parse_key(k) for k in wanted[start : start + _CHUNK]]
        cols = entity.key_columns()
        where = (
            cols[0].in_([v[0] for v in values])
            if width == 1
            else tuple_(*cols).in_([tuple(v) for v in values])
        )
        query = select(*entity.key_columns(), *entity.wire_columns()).where(where)
        visible = entity.on_wire()
        if visible is not None:
            query = query.where(visible)
        for row in conn.execute(query):
            found[entity.key_text(row[:width])] = list(row[width:])
    return found


def read_changes(conn: Connection, after: int, limit: int) -> dict[str, Any]:
    """One page of deltas after ``after``: ``{"changes", "cursor", "more"}``."""
    query = (
        select(changes.c.seq, changes.c.entity, changes.c.key)
        .where(changes.c.seq > after)
        .order_by(changes.c.seq)
        .limit(limit + 1)
    )
    log = conn.execute(query).all()
    more = len(log) > limit
    log = log[:limit]
    log, more = _through_the_version(conn, log, more)
    current = _current_rows(conn, log)
    items = []
    for seq, name, key in log:
        row = current.get((name, key))
        items.append(
            {
                "seq": seq,
                "entity": name,
                "op": "upsert" if row is not None else "delete",
                "key": key,
                "row": row,
            }
        )
    cursor = max(after, log[-1][0]) if log else after
    return {"changes": items, "cursor": cursor, "more": more}


#: how far past ``limit`` a page may reach for the newest version (a bulk import publishes
#: once, at its end: beyond this its page ends anyway, and the lane's next pages bring the rest)
_VERSION_REACH = 5_000


def _is_rule_set(name: str, key: str) -> bool:
    """Whether the change ``(name, key)`` is part of the rule set lanes price with."""
    from club_server.rulesets import PRICING_ENTITIES  # (rulesets -> tiers -> changes)

    return name in PRICING_ENTITIES or (
        name == "settings" and (key == "rules_version" or key in POLICY_SETTINGS)
    )


def _through_the_version(
    conn: Connection, log: Sequence[Any], more: bool
) -> tuple[Sequence[Any], bool]:
    """``log`` extended through the newest ``rules_version`` change when it holds a rule-set change.

    A page carries the *current* rows, the ``rules_version`` row included: a
    pricing row in it is the newest rule set's, and so is the version. The lane
    holds one rule set only when it also has every other pricing change up to
    that version; a page that stopped short would leave it with a version its
    prices are not (or prices newer than its version), and a sale rung up
    before the next page would be held by the club as a price mismatch.
    Publishing records the version right after the rows it publishes, in their
    transaction, so the newest version change follows every pricing change.
    (The page is read in one transaction, :meth:`club_server.db.Database.reading`,
    so "current" is one moment for the log and the rows.)
    """
    if not more or not any(_is_rule_set(name, key) for _, name, key in log):
        return log, more
    newest = conn.execute(
        select(func.max(changes.c.seq)).where(
            changes.c.entity == "settings", changes.c.key == "rules_version"
        )
    ).scalar()
    end = log[-1][0]
    reach = min(_VERSION_REACH, MAX_CHANGES - len(log))  # a page stays within the protocol's
    if newest is None or newest <= end or newest > end + reach:
        return log, more
    rest = conn.execute(
        select(changes.c.seq, changes.c.entity, changes.c.key)
        .where(changes.c.seq > end, changes.c.seq <= newest)
        .order_by(changes.c.seq)
    ).all()
    extended = [*log, *rest]
    after = select(changes.c.seq).where(changes.c.seq > newest).limit(1)
    return extended, conn.execute(after).first() is not None


def _current_rows(conn: Connection, log: Sequence[Any]) -> dict[tuple[str, str], list[Any]]:
    keys: dict[str, set[str]] = defaultdict(set)
    for _, name, key in log:
        if name in ENTITIES:
            keys[name].add(key)
    current: dict[tuple[str, str], list[Any]] = {}
    for name, wanted in keys.items():
        for key, row in rows_by_key(conn, ENTITIES[name], wanted).items():
            current[(name, key)] = row
    return current

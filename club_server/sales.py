"""Pushed sales: per-item idempotency, the points ledger and member balances.

Each item of ``POST /v1/sales`` is answered on its own (``created``,
``duplicate``, ``conflict`` or ``rejected``, see ``docs/sync-protocol.md``);
the whole request is one transaction. The idempotency key is ``sale_id``; a
replay is recognised by the SHA-256 of the sale's canonical body (its wire
form re-serialised with sorted keys), so formatting differences do not count
as a different body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from club_server.changes import record
from club_server.clock import iso
from club_server.flags import add_flag
from club_server.schema import members, points_ledger, sales
from club_server.terminals import TerminalRecord
from clubcore.errors import FormatError
from clubcore.points import LedgerKind
from clubcore.sale import Sale

__all__ = ["MAX_SALES", "push_sales"]

MAX_SALES = 500
MAX_LINES = 1_000
_LIMIT = 10**15
_INTS = (
    "hour",
    "rules_version",
    "subtotal_list",
    "member_discount",
    "subtotal",
    "points_redeemed",
    "points_discount",
    "total",
    "points_earned",
)
_TEXTS = (
    "sale_id",
    "terminal_id",
    "store_id",
    "currency",
    "kind",
    "tender",
    "created_at",
    "business_date",
)
_OPTIONAL = ("member_no", "tier", "id_method", "ref_sale_id", "staff_id", "reason")
_LINE_INTS = ("line_no", "quantity", "list_unit", "unit_price")
_LINE_TEXTS = ("sku", "name", "category", "source")
_LINE_OPTIONAL = ("offer_id", "stacked_offer_id")


@dataclass(frozen=True, slots=True)
class _Parsed:
    sale: Sale
    canonical: str
    body_hash: str


def _check_types(
    data: Mapping[str, Any],
    ints: Sequence[str],
    texts: Sequence[str],
    optional: Sequence[str],
    where: str,
) -> None:
    for name in ints:
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > _LIMIT:
            raise FormatError(f"{where}{name} must be a whole number")
    for name in texts:
        if not isinstance(data.get(name), str) or not 0 < len(data[name]) <= 200:
            raise FormatError(f"{where}{name} must be a non-empty text")
    for name in optional:
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 500):
            raise FormatError(f"{where}{name} must be a text or null")


def parse_sale(item: Any) -> _Parsed:
    """Validate one wire sale and compute its canonical body and hash.

    Raises:
        FormatError: not a well-formed sale (types, ranges, fields, lines).
    """
    if not isinstance(item, dict):
        raise FormatError("a sale must be a JSON object")
    _check_types(item, _INTS, _TEXTS, _OPTIONAL, "")
    lines = item.get("lines")
    if not isinstance(lines, list) or len(lines) > MAX_LINES:
        raise FormatError(f"lines must be a list of at most {MAX_LINES} lines")
    for n, line in enumerate(lines):
        if not isinstance(line, dict):
            raise FormatError(f"line {n} must be a JSON object")
        _check_types(line, _LINE_INTS, _LINE_TEXTS, _LINE_OPTIONAL, f"line {n}: ")
    sale = Sale.from_wire(item)
    if sale.created_at.tzinfo is None or not 0 <= sale.hour <= 23:
        raise FormatError("created_at needs a UTC offset and hour must be 0..23")
    if sale.member_no is None and (sale.points_earned or sale.points_redeemed):
        raise FormatError("points earned or redeemed on a sale without a member")
    canonical = json.dumps(
        sale.to_wire(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return _Parsed(sale, canonical, hashlib.sha256(canonical.encode("utf-8")).hexdigest())


def _sale_id_of(item: Any) -> str | None:
    value = item.get("sale_id") if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def push_sales(
    conn: Connection, terminal: TerminalRecord, items: Sequence[Any], now: datetime
) -> list[dict[str, Any]]:
    """Store pushed sales (in the caller's transaction); one result per item, in order."""
    parsed: list[_Parsed | str] = []
    for item in items:
        try:
            parsed.append(_own(parse_sale(item), terminal))
        except FormatError as exc:
            parsed.append(str(exc))
    known = _known(conn, [p.sale.sale_id for p in parsed if isinstance(p, _Parsed)])
    results = []
    for item, entry in zip(items, parsed, strict=True):
        if isinstance(entry, str):
            results.append({"sale_id": _sale_id_of(item), "status": "rejected", "error": entry})
            continue
        results.append(_one(conn, terminal, entry, known, now))
    return results


def _own(parsed: _Parsed, terminal: TerminalRecord) -> _Parsed:
    if parsed.sale.store_id != terminal.store_id:
        raise FormatError("store_id is not this terminal's store")
    if parsed.sale.terminal_id != terminal.terminal_id:
        raise FormatError("terminal_id is not this terminal's id")
    return parsed


def _known(conn: Connection, sale_ids: list[str]) -> dict[str, tuple[str, int | None]]:
    known: dict[str, tuple[str, int | None]] = {}
    for start in range(0, len(sale_ids), 500):
        chunk = sale_ids[start : start + 500]
        query = select(sales.c.sale_id, sales.c.body_hash, sales.c.change_seq)
        for sale_id, body_hash, seq in conn.execute(query.where(sales.c.sale_id.in_(chunk))):
            known[sale_id] = (body_hash, seq)
    return known


def _one(
    conn: Connection,
    terminal: TerminalRecord,
    entry: _Parsed,
    known: dict[str, tuple[str, int | None]],
    now: datetime,
) -> dict[str, Any]:
    sale_id = entry.sale.sale_id
    if sale_id in known:
        body_hash, seq = known[sale_id]
        if body_hash == entry.body_hash:
            return {"sale_id": sale_id, "status": "duplicate", "change_seq": seq}
        add_flag(
            conn,
            "sale-conflict",
            sale_id,
            "a different body was pushed for a known sale_id",
            now,
            sale_id=sale_id,
            terminal_id=terminal.terminal_id,
        )
        return {
            "sale_id": sale_id,
            "status": "conflict",
            "error": "different body for a known sale_id",
        }
    seq = _store(conn, terminal, entry, now)
    known[sale_id] = (entry.body_hash, seq)
    return {"sale_id": sale_id, "status": "created", "change_seq": seq}


def _store(conn: Connection, terminal: TerminalRecord, entry: _Parsed, now: datetime) -> int | None:
    sale = entry.sale
    seq = _apply_points(conn, terminal, sale, now) if sale.member_no else None
    conn.execute(
        sales.insert().values(
            sale_id=sale.sale_id,
            terminal_id=sale.terminal_id,
            store_id=sale.store_id,
            body_hash=entry.body_hash,
            payload=entry.canonical,
            kind=str(sale.kind),
            created_at=sale.created_at.isoformat(),
            business_date=sale.business_date.isoformat(),
            hour=sale.hour,
            member_no=sale.member_no,
            tier=sale.tier,
            subtotal_list=sale.subtotal_list,
            member_discount=sale.member_discount,
            points_discount=sale.points_discount,
            total=sale.total,
            points_earned=sale.points_earned,
            points_redeemed=sale.points_redeemed,
            received_at=iso(now),
            change_seq=seq,
        )
    )
    return seq


def _apply_points(
    conn: Connection, terminal: TerminalRecord, sale: Sale, now: datetime
) -> int | None:
    """Ledger entries for a member sale; the member's new balance; its change seq."""
    member_no = sale.member_no
    assert member_no is not None
    entries = [(LedgerKind.EARN, sale.points_earned), (LedgerKind.REDEEM, -sale.points_redeemed)]
    for kind, points in entries:
        if points:
            conn.execute(
                points_ledger.insert().values(
                    member_no=member_no,
                    kind=str(kind),
                    points=points,
                    sale_id=sale.sale_id,
                    created_at=iso(now),
                )
            )
    balance = ledger_balance(conn, member_no)
    updated = conn.execute(
        members.update()
        .where(members.c.member_no == member_no)
        .values(points_balance=balance, updated_at=iso(now))
    )
    if updated.rowcount == 0:
        add_flag(
            conn,
            "unknown-member",
            member_no,
            f"sale {sale.sale_id} names an unknown member",
            now,
            sale_id=sale.sale_id,
            terminal_id=terminal.terminal_id,
        )
        return None
    if balance < 0:
        add_flag(
            conn,
            "negative-balance",
            member_no,
            f"balance {balance} after sale {sale.sale_id} (offline redemption)",
            now,
            sale_id=sale.sale_id,
            terminal_id=terminal.terminal_id,
        )
    return record(conn, "members", member_no)


def ledger_balance(conn: Connection, member_no: str) -> int:
    """A member's points balance: the sum of their ledger."""
    query = select(func.coalesce(func.sum(points_ledger.c.points), 0))
    return int(conn.execute(query.where(points_ledger.c.member_no == member_no)).scalar() or 0)

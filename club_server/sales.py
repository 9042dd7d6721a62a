"""Pushed sales: per-item idempotency, the points ledger and member balances.

Each item of ``POST /v1/sales`` is answered on its own (``created``,
``duplicate``, ``conflict`` or ``rejected``, see ``docs/sync-protocol.md``);
the whole request is one transaction. The idempotency key is ``sale_id``; a
replay is recognised by the SHA-256 of the sale's canonical body (its wire
form, :class:`clubcore.wire.WireSale`, re-serialised with sorted keys by
:func:`clubcore.wire.canonical_sale`), so formatting differences do not
count as a different body.

A new sale must also add up before it is stored (a replay is answered as
before, unchecked): :func:`clubcore.sale.check_arithmetic` on its own;
:func:`clubcore.sale.check_points` against the club's points settings and
tiers when it was priced under the server's current ``rules_version`` (an
older version's rules are not kept, so that check is skipped); and a void or
refund with :func:`clubcore.sale.check_return` against the sale it reverses
and that sale's earlier returns (stored, or earlier in the same request). A
sale that fails is ``rejected`` with the reasons and changes nothing. Sales
that are stored are then looked at for card velocity
(:func:`club_server.flags.flag_velocity`), which flags but never refuses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from club_server.changes import record
from club_server.clock import iso
from club_server.flags import add_flag, flag_velocity
from club_server.schema import members, points_ledger, sales, settings, tiers
from club_server.terminals import TerminalRecord
from club_server.tiers import apply_spend
from clubcore.errors import ConfigError, FormatError
from clubcore.money import BP_ONE
from clubcore.points import POLICY_SETTINGS, LedgerKind, PointsPolicy, policy_from_settings
from clubcore.sale import Sale, SaleKind, check_arithmetic, check_points, check_return
from clubcore.wire import MAX_SALES, canonical_sale, clean_text, parse_wire_sale, sale_from_wire

__all__ = ["MAX_SALES", "push_sales"]


@dataclass(frozen=True, slots=True)
class _Parsed:
    sale: Sale
    canonical: str
    body_hash: str


def parse_sale(item: Any) -> _Parsed:
    """Validate one wire sale (:class:`clubcore.wire.WireSale`); its canonical body and hash.

    Raises:
        FormatError: not a well-formed sale (types, ranges, fields, lines).
    """
    parsed = parse_wire_sale(item)
    canonical = canonical_sale(parsed)
    return _Parsed(parsed.to_sale(), canonical, hashlib.sha256(canonical.encode()).hexdigest())


def _sale_id_of(item: Any) -> str | None:
    value = item.get("sale_id") if isinstance(item, dict) else None
    return value if isinstance(value, str) and clean_text(value) and len(value) <= 200 else None


def push_sales(
    conn: Connection, terminal: TerminalRecord, items: Sequence[Any], now: datetime
) -> list[dict[str, Any]]:
    """Store pushed sales (in the caller's transaction); one result per item, in order.

    Work is batched: one statement each for the ledger entries, the sales and
    the member balances of the whole request, and one change per member.
    """
    parsed: list[_Parsed | str] = []
    for item in items:
        try:
            parsed.append(_own(parse_sale(item), terminal))
        except FormatError as exc:
            parsed.append(str(exc))
    known = _known(conn, [p.sale.sale_id for p in parsed if isinstance(p, _Parsed)])
    checker = _Checker.load(
        conn, [p.sale for p in parsed if isinstance(p, _Parsed) and p.sale.sale_id not in known]
    )
    results: list[dict[str, Any]] = []
    fresh: dict[str, _Parsed] = {}
    for item, entry in zip(items, parsed, strict=True):
        if isinstance(entry, str):
            results.append({"sale_id": _sale_id_of(item), "status": "rejected", "error": entry})
        elif entry.sale.sale_id in fresh:  # the same sale twice in one request
            same = fresh[entry.sale.sale_id].body_hash == entry.body_hash
            results.append(_replay(conn, terminal, entry, same, None, now))
        elif entry.sale.sale_id in known:
            body_hash, seq = known[entry.sale.sale_id]
            results.append(_replay(conn, terminal, entry, body_hash == entry.body_hash, seq, now))
        elif problems := checker.problems(entry.sale):
            results.append(_rejected(entry.sale.sale_id, problems))
        else:
            checker.accepted(entry.sale)
            fresh[entry.sale.sale_id] = entry
            results.append({"sale_id": entry.sale.sale_id, "status": "created"})
    seqs = _store(conn, terminal, list(fresh.values()), now)
    flag_velocity(conn, [e.sale for e in fresh.values()], terminal.terminal_id, now)
    for result in results:
        first_in_request = result["status"] == "duplicate" and result["change_seq"] is None
        if result["status"] == "created" or first_in_request:
            result["change_seq"] = seqs.get(result["sale_id"])
    return results


def _rejected(sale_id: str, problems: list[str]) -> dict[str, Any]:
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if problems[5:] else "")
    return {"sale_id": sale_id, "status": "rejected", "error": f"does not add up: {shown}"}


@dataclass(slots=True)
class _Checker:
    """What one request's new sales are checked against (see the module docstring).

    Attributes:
        version, policy: the server's current ``rules_version`` and points
            policy; None when the settings are malformed (not checked then).
        multipliers: tier code -> earn multiplier (bp).
        originals: sale id -> the sale, for the returns of this request
            (stored ones, then this request's accepted sales).
        returns: original sale id -> its returns so far.
    """

    version: int | None
    policy: PointsPolicy | None
    multipliers: dict[str, int]
    originals: dict[str, Sale]
    returns: dict[str, list[Sale]]

    @classmethod
    def load(cls, conn: Connection, candidates: list[Sale]) -> _Checker:
        query = select(settings.c.key, settings.c.value).where(settings.c.key.in_(_RULE_KEYS))
        rows = conn.execute(query).all()
        version, policy = _rules({str(key): str(value) for key, value in rows})
        query = select(tiers.c.code, tiers.c.earn_multiplier_bp)
        multipliers = {str(code): int(bp) for code, bp in conn.execute(query)}
        refs = {s.ref_sale_id for s in candidates if s.kind is not SaleKind.SALE and s.ref_sale_id}
        originals = _stored_sales(conn, sorted(refs))
        return cls(version, policy, multipliers, originals, _stored_returns(conn, originals))

    def problems(self, sale: Sale) -> list[str]:
        """Why ``sale`` cannot be stored; empty when it adds up."""
        problems = check_arithmetic(sale)
        if problems:
            return problems
        if sale.kind is SaleKind.SALE:
            if self.policy is None or sale.rules_version != self.version:
                return []  # priced under other rules, which the server no longer has
            multiplier = self.multipliers.get(sale.tier or "", BP_ONE)
            return check_points(sale, self.policy, multiplier)
        original = self.originals.get(sale.ref_sale_id or "")
        if original is None:
            return [f"the sale it reverses ({sale.ref_sale_id!r:.60}) is not known to the club"]
        return check_return(sale, original, self.returns.get(original.sale_id, ()))

    def accepted(self, sale: Sale) -> None:
        """Count ``sale`` in for the sales after it in the request."""
        if sale.kind is SaleKind.SALE:
            self.originals[sale.sale_id] = sale
        elif sale.ref_sale_id is not None:
            self.returns.setdefault(sale.ref_sale_id, []).append(sale)


_RULE_KEYS = ("rules_version", *POLICY_SETTINGS)


def _rules(values: Mapping[str, str]) -> tuple[int | None, PointsPolicy | None]:
    """The rules version and points policy, with the lane's defaults for missing settings."""
    try:
        return int(values.get("rules_version", 0)), policy_from_settings(values)
    except (ValueError, ConfigError):
        return None, None  # a lane refuses such settings too: no sale can be priced under them


def _stored_sales(conn: Connection, sale_ids: list[str]) -> dict[str, Sale]:
    found: dict[str, Sale] = {}
    for start in range(0, len(sale_ids), 500):
        chunk = sale_ids[start : start + 500]
        query = select(sales.c.sale_id, sales.c.payload).where(sales.c.sale_id.in_(chunk))
        for sale_id, payload in conn.execute(query):
            found[str(sale_id)] = sale_from_wire(json.loads(payload))
    return found


def _stored_returns(conn: Connection, originals: Mapping[str, Sale]) -> dict[str, list[Sale]]:
    """The stored voids and refunds of ``originals`` (by the ``sales_ref`` index)."""
    found: dict[str, list[Sale]] = {}
    ids = sorted(originals)
    for start in range(0, len(ids), 500):
        query = select(sales.c.payload).where(sales.c.ref_sale_id.in_(ids[start : start + 500]))
        for (payload,) in conn.execute(query):
            sale = sale_from_wire(json.loads(payload))
            if sale.ref_sale_id is not None:
                found.setdefault(sale.ref_sale_id, []).append(sale)
    return found


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


def _replay(
    conn: Connection,
    terminal: TerminalRecord,
    entry: _Parsed,
    same_body: bool,
    seq: int | None,
    now: datetime,
) -> dict[str, Any]:
    sale_id = entry.sale.sale_id
    if same_body:
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
    return {"sale_id": sale_id, "status": "conflict", "error": "different body for a known sale_id"}


def _store(
    conn: Connection, terminal: TerminalRecord, entries: list[_Parsed], now: datetime
) -> dict[str, int | None]:
    """Insert new sales with their ledger entries; the change seq of each sale's member."""
    if not entries:
        return {}
    member_seq = _apply_points(conn, terminal, [e.sale for e in entries], now)
    stamp = iso(now)
    conn.execute(
        sales.insert(),
        [
            {
                "sale_id": e.sale.sale_id,
                "terminal_id": e.sale.terminal_id,
                "store_id": e.sale.store_id,
                "body_hash": e.body_hash,
                "payload": e.canonical,
                "kind": str(e.sale.kind),
                "created_at": e.sale.created_at.isoformat(),
                "business_date": e.sale.business_date.isoformat(),
                "hour": e.sale.hour,
                "member_no": e.sale.member_no,
                "tier": e.sale.tier,
                "subtotal_list": e.sale.subtotal_list,
                "member_discount": e.sale.member_discount,
                "points_discount": e.sale.points_discount,
                "total": e.sale.total,
                "points_earned": e.sale.points_earned,
                "points_redeemed": e.sale.points_redeemed,
                "received_at": stamp,
                "change_seq": member_seq.get(e.sale.member_no or ""),
                "ref_sale_id": e.sale.ref_sale_id,
            }
            for e in entries
        ],
    )
    return {e.sale.sale_id: member_seq.get(e.sale.member_no or "") for e in entries}


def _apply_points(
    conn: Connection, terminal: TerminalRecord, batch: list[Sale], now: datetime
) -> dict[str, int]:
    """Ledger entries for the member sales of a batch; new balances; a change per member.

    Returns the change seq of each known member's update (unknown members are
    flagged and get none).
    """
    stamp = iso(now)
    member_sales = [s for s in batch if s.member_no]
    ledger = [
        {
            "member_no": s.member_no,
            "kind": str(kind),
            "points": points,
            "sale_id": s.sale_id,
            "created_at": stamp,
        }
        for s in member_sales
        for kind, points in (
            (LedgerKind.EARN, s.points_earned),
            (LedgerKind.REDEEM, -s.points_redeemed),
        )
        if points
    ]
    if ledger:
        conn.execute(points_ledger.insert(), ledger)
    numbers = sorted({s.member_no for s in member_sales if s.member_no})
    balances = ledger_balances(conn, numbers)
    existing = _existing_members(conn, numbers)
    for sale in member_sales:
        if sale.member_no not in existing:
            add_flag(
                conn,
                "unknown-member",
                sale.member_no or "",
                f"sale {sale.sale_id} names an unknown member",
                now,
                sale_id=sale.sale_id,
                terminal_id=terminal.terminal_id,
            )
    known = [m for m in numbers if m in existing]
    if known:
        conn.execute(
            members.update()
            .where(members.c.member_no == bindparam("m_no"))
            .values(points_balance=bindparam("m_balance"), updated_at=stamp),
            [{"m_no": m, "m_balance": balances.get(m, 0)} for m in known],
        )
    spend: dict[str, int] = {}
    for sale in member_sales:
        if sale.member_no in existing:
            spend[sale.member_no] = spend.get(sale.member_no, 0) + sale.total
    apply_spend(conn, spend, now)  # 12-month spend and tier, carried by the member change
    for member_no in known:
        if balances.get(member_no, 0) < 0:
            add_flag(
                conn,
                "negative-balance",
                member_no,
                f"balance {balances[member_no]} after offline redemption",
                now,
                terminal_id=terminal.terminal_id,
            )
    return {member_no: record(conn, "members", member_no) for member_no in known}


def _existing_members(conn: Connection, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        query = select(members.c.member_no).where(members.c.member_no.in_(chunk))
        found.update(row[0] for row in conn.execute(query))
    return found


def ledger_balances(conn: Connection, numbers: list[str]) -> dict[str, int]:
    """Points balances (ledger sums) of ``numbers``; members without entries are left out."""
    balances: dict[str, int] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        query = (
            select(points_ledger.c.member_no, func.sum(points_ledger.c.points))
            .where(points_ledger.c.member_no.in_(chunk))
            .group_by(points_ledger.c.member_no)
        )
        balances.update((m, int(total or 0)) for m, total in conn.execute(query))
    return balances

"""Pushed sales: per-item idempotency, re-pricing, the points ledger and member balances.

Each item of ``POST /v1/sales`` is answered on its own (``created``,
``held``, ``duplicate``, ``conflict`` or ``rejected``, see
``docs/sync-protocol.md``); the whole request is one transaction. The
idempotency key is the terminal and ``sale_id``; a replay is recognised by the SHA-256 of the
sale's canonical body (its wire form, :class:`clubcore.wire.WireSale`,
re-serialised with sorted keys by :func:`clubcore.wire.canonical_sale`), so
formatting differences do not count as a different body.

**No lane is trusted.** A stolen lane credential can at worst record what an
honest lane could:

1. *It must add up*, or it is ``rejected`` and changes nothing:
   :func:`clubcore.sale.check_arithmetic` on its own, and a void or refund
   with :func:`clubcore.sale.check_return` against the sale it reverses,
   which must be a sale **of the same store** (a return of another store's
   sale is rejected and flagged ``foreign-return``).
2. *It must price as the club priced it*: the sale is re-priced with the
   rule set it names (:mod:`club_server.rulesets`,
   :func:`clubcore.repricing.reprice`, the lane's own engine), for the member
   as the club knows them (their segments; the sale's tier unless it ranks
   above the member's). An unknown version, a price, discount or points
   that differ, or points beyond ``limits.points_per_sale`` or
   ``limits.points_per_member_day``: the sale is **stored** (it happened),
   answered ``held`` with the reason, flagged (``price-mismatch``,
   ``points-limit``), and its points go to the suspense account
   (``points_suspense``), not the member's ledger. The same for a sale
   naming a member the club does not have (``unknown-member``) and for a
   return of a held sale. The operator releases or discards suspense
   entries (:mod:`club_server.suspense`). Points credited are always those
   of the club's own computation (which matched the lane's).
3. *A sale id is its terminal's*: the idempotency key is (terminal, ``sale_id``)
   (the primary key of ``sales``), so a lane cannot squat another lane's sale
   ids: whichever arrives first, each terminal's sale is its own, answered
   and replayed on its own. A ``sale_id`` another terminal already used is
   flagged ``sale-id-reused`` (ids are random, so a reuse is a copy) but
   never refused for it. A void or refund names the sale it reverses by id
   within its store: the pushing terminal's own sale of that id first, else
   the store's earliest; a sale of that id only in another store is refused
   as above.

Repeated trust flags from one terminal (``limits.incident_flags`` open ones)
raise one ``incident`` flag (:func:`club_server.flags.raise_incident`),
listed first. Stored member sales are then looked at for card velocity
(:func:`club_server.flags.flag_velocity`), which flags but never refuses.
A member's balance is always their ledger sum (:func:`ledger_mismatches`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from club_server.changes import record
from club_server.clock import iso
from club_server.flags import add_flag, flag_velocity, raise_incident
from club_server.rulesets import snapshots
from club_server.schema import members, points_ledger, points_suspense, sales, settings, tiers
from club_server.terminals import TerminalRecord
from club_server.tiers import apply_spend
from clubcore import settings as core_settings
from clubcore.errors import FormatError
from clubcore.points import LedgerKind
from clubcore.pricing import Customer
from clubcore.repricing import PricingSnapshot, reprice
from clubcore.sale import Sale, SaleKind, check_arithmetic, check_return
from clubcore.wire import MAX_SALES, canonical_sale, clean_text, parse_wire_sale, sale_from_wire

__all__ = ["MAX_SALES", "ledger_balances", "ledger_mismatches", "push_sales"]


@dataclass(frozen=True, slots=True)
class _Parsed:
    sale: Sale
    canonical: str
    body_hash: str
    held: str | None = None  # why its points are held, once decided


@dataclass(frozen=True, slots=True)
class _Known:
    """A stored sale, as a replay is answered from it."""

    body_hash: str
    change_seq: int | None
    held: str | None


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
    ids = [p.sale.sale_id for p in parsed if isinstance(p, _Parsed)]
    known, reused = _known(conn, terminal.terminal_id, ids)
    checker = _Checker.load(
        conn,
        terminal,
        [p.sale for p in parsed if isinstance(p, _Parsed) and p.sale.sale_id not in known],
        now,
    )
    results: list[dict[str, Any]] = []
    fresh: dict[str, _Parsed] = {}
    for item, entry in zip(items, parsed, strict=True):
        if isinstance(entry, str):
            results.append({"sale_id": _sale_id_of(item), "status": "rejected", "error": entry})
        elif entry.sale.sale_id in fresh:  # the same sale twice in one request
            first = fresh[entry.sale.sale_id]
            seen = _Known(first.body_hash, None, first.held)
            results.append(_replay(conn, terminal, entry, seen, now))
        elif entry.sale.sale_id in known:
            results.append(_replay(conn, terminal, entry, known[entry.sale.sale_id], now))
        else:
            if entry.sale.sale_id in reused:
                why = f"sale_id also used by terminal {reused[entry.sale.sale_id]:.60}"
                _trust_flag(conn, "sale-id-reused", terminal, entry.sale, why, now)
            results.append(_new(conn, terminal, checker, entry, fresh, now))
    seqs = _store(conn, terminal, list(fresh.values()), now)
    flag_velocity(conn, [e.sale for e in fresh.values()], terminal.terminal_id, now)
    raise_incident(conn, terminal.terminal_id, checker.incident_flags, now)
    for result in results:
        first_in_request = result["status"] == "duplicate" and result["change_seq"] is None
        held_now = result["status"] == "held" and result["sale_id"] in seqs
        if result["status"] == "created" or first_in_request or held_now:
            result["change_seq"] = seqs.get(result["sale_id"])
    return results


def _new(
    conn: Connection,
    terminal: TerminalRecord,
    checker: _Checker,
    entry: _Parsed,
    fresh: dict[str, _Parsed],
    now: datetime,
) -> dict[str, Any]:
    """Check a sale the club has not stored: rejected, or stored (created or held)."""
    sale = entry.sale
    foreign = checker.foreign_return(sale)
    if foreign is not None:
        _trust_flag(conn, "foreign-return", terminal, sale, foreign, now, entry.canonical)
        return {"sale_id": sale.sale_id, "status": "rejected", "error": foreign}
    problems = checker.problems(sale)
    if problems:
        return _rejected(sale.sale_id, problems)
    held = checker.hold(sale)
    checker.accepted(sale, held)
    if held is None:
        fresh[sale.sale_id] = entry
        return {"sale_id": sale.sale_id, "status": "created"}
    kind, reason = held
    fresh[sale.sale_id] = _Parsed(sale, entry.canonical, entry.body_hash, reason)
    if kind != "unknown-member":  # flagged as the points are parked
        _trust_flag(conn, kind, terminal, sale, reason, now)
    return _held(sale.sale_id, reason)


def _held(sale_id: str, reason: str) -> dict[str, Any]:
    return {"sale_id": sale_id, "status": "held", "error": reason, "change_seq": None}


def _trust_flag(
    conn: Connection,
    kind: str,
    terminal: TerminalRecord,
    sale: Sale,
    detail: str,
    now: datetime,
    payload: str | None = None,
) -> None:
    add_flag(
        conn,
        kind,
        sale.member_no or sale.sale_id,
        detail[:1000],
        now,
        sale_id=sale.sale_id,
        terminal_id=terminal.terminal_id,
        payload=payload,
    )


def _rejected(sale_id: str, problems: list[str]) -> dict[str, Any]:
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if problems[5:] else "")
    return {"sale_id": sale_id, "status": "rejected", "error": f"does not add up: {shown}"}


@dataclass(frozen=True, slots=True)
class _Member:
    tier: str
    segments: frozenset[str]


@dataclass(slots=True)
class _Checker:
    """What one request's new sales are checked against (see the module docstring).

    Attributes:
        rule_sets: the published rule sets the request's sales name, by version.
        ranks: tier code -> rank (the club's current tiers).
        people: the request's members the club has, by number.
        limits: points per sale and per member and day (0: no limit), incident flags.
        earned: (member, business date) -> points credited so far.
        originals: sale id -> the sale, for the returns of this request
            (stored ones, then this request's accepted sales).
        held: sale ids (of ``originals``) whose points are held.
        returns: original sale id -> its returns so far.
    """

    rule_sets: dict[int, PricingSnapshot]
    ranks: dict[str, int]
    people: dict[str, _Member]
    limits: tuple[int, int, int]
    earned: dict[tuple[str, str], int]
    originals: dict[str, Sale]
    held: set[str]
    returns: dict[str, list[Sale]] = field(default_factory=dict)

    @classmethod
    def load(
        cls, conn: Connection, terminal: TerminalRecord, candidates: list[Sale], now: datetime
    ) -> _Checker:
        versions = {s.rules_version for s in candidates if s.kind is SaleKind.SALE}
        ranks = {str(c): int(r) for c, r in conn.execute(select(tiers.c.code, tiers.c.rank))}
        numbers = sorted({s.member_no for s in candidates if s.member_no})
        refs = {s.ref_sale_id for s in candidates if s.kind is not SaleKind.SALE and s.ref_sale_id}
        originals, held = _stored_sales(conn, terminal, sorted(refs))
        checker = cls(
            snapshots(conn, versions, now),
            ranks,
            _people(conn, numbers),
            _limits(conn),
            _earned(conn, candidates),
            originals,
            held,
        )
        checker.returns = _stored_returns(conn, originals)
        return checker

    @property
    def incident_flags(self) -> int:
        return self.limits[2]

    def foreign_return(self, sale: Sale) -> str | None:
        """Why ``sale`` (a void or refund) may not reverse the sale it names; None if it may."""
        original = self.originals.get(sale.ref_sale_id or "")
        if sale.kind is SaleKind.SALE or original is None or original.store_id == sale.store_id:
            return None
        return f"the sale it reverses ({original.sale_id:.60}) is another store's"

    def problems(self, sale: Sale) -> list[str]:
        """Why ``sale`` cannot be stored; empty when it adds up."""
        problems = check_arithmetic(sale)
        if problems or sale.kind is SaleKind.SALE:
            return problems
        original = self.originals.get(sale.ref_sale_id or "")
        if original is None:
            return [f"the sale it reverses ({sale.ref_sale_id!r:.60}) is not known to the club"]
        return check_return(sale, original, self.returns.get(original.sale_id, ()))

    def hold(self, sale: Sale) -> tuple[str, str] | None:
        """(flag kind, reason) when the points of ``sale`` (which adds up) must be held."""
        if sale.member_no is not None and sale.member_no not in self.people:
            return "unknown-member", f"member {sale.member_no:.40} is not known to the club"
        if sale.kind is not SaleKind.SALE:
            if sale.ref_sale_id in self.held:
                return "price-mismatch", "it reverses a sale whose points are held"
            return None
        snapshot = self.rule_sets.get(sale.rules_version)
        if snapshot is None:
            return "price-mismatch", f"rules_version {sale.rules_version} was never published"
        customer, why = self._customer(sale)
        differences = [why] if why else reprice(sale, snapshot, customer)
        if differences:
            return "price-mismatch", "re-priced: " + "; ".join(differences[:5])
        return self._over_limit(sale)

    def _customer(self, sale: Sale) -> tuple[Customer | None, str | None]:
        if sale.member_no is None:
            return None, None
        member = self.people[sale.member_no]
        tier = sale.tier or member.tier
        if self.ranks.get(tier, 1 << 30) > self.ranks.get(member.tier, -1):
            return None, f"tier {tier:.40} is above the member's ({member.tier})"
        return Customer(sale.member_no, tier, member.segments), None

    def _over_limit(self, sale: Sale) -> tuple[str, str] | None:
        per_sale, per_day, _ = self.limits
        if per_sale and sale.points_earned > per_sale:
            return "points-limit", f"{sale.points_earned} points earned, over {per_sale} a sale"
        day = (sale.member_no or "", sale.business_date.isoformat())
        if per_day and sale.member_no and self.earned.get(day, 0) + sale.points_earned > per_day:
            return "points-limit", (
                f"{self.earned.get(day, 0) + sale.points_earned} points earned by "
                f"{sale.member_no:.40} on {day[1]}, over {per_day} a day"
            )
        return None

    def accepted(self, sale: Sale, held: tuple[str, str] | None) -> None:
        """Count ``sale`` in for the sales after it in the request."""
        if sale.kind is SaleKind.SALE:
            self.originals[sale.sale_id] = sale
            if held is not None:
                self.held.add(sale.sale_id)
            elif sale.member_no:
                day = (sale.member_no, sale.business_date.isoformat())
                self.earned[day] = self.earned.get(day, 0) + sale.points_earned
        elif sale.ref_sale_id is not None:
            self.returns.setdefault(sale.ref_sale_id, []).append(sale)


def _people(conn: Connection, numbers: list[str]) -> dict[str, _Member]:
    found: dict[str, _Member] = {}
    for start in range(0, len(numbers), 500):
        query = select(members.c.member_no, members.c.tier, members.c.segments).where(
            members.c.member_no.in_(numbers[start : start + 500])
        )
        for number, tier, segments in conn.execute(query):
            parts = frozenset(s for s in str(segments or "").split(",") if s)
            found[str(number)] = _Member(str(tier), parts)
    return found


def _limits(conn: Connection) -> tuple[int, int, int]:
    """Points per sale, per member and day, and flags per incident (defaults when malformed)."""
    specs = (
        core_settings.POINTS_PER_SALE,
        core_settings.POINTS_PER_MEMBER_DAY,
        core_settings.INCIDENT_FLAGS,
    )
    query = select(settings.c.key, settings.c.value).where(
        settings.c.key.in_([s.key for s in specs])
    )
    stored = {str(k): str(v) for k, v in conn.execute(query)}
    values = []
    for spec in specs:
        try:
            values.append(spec.parse(stored[spec.key]) if spec.key in stored else spec.default)
        except ValueError:
            values.append(spec.default)
    return values[0], values[1], values[2]


def _earned(conn: Connection, candidates: list[Sale]) -> dict[tuple[str, str], int]:
    """Points credited to the candidates' members on their business days (not held ones)."""
    numbers = sorted({s.member_no for s in candidates if s.member_no})
    days = sorted({s.business_date.isoformat() for s in candidates if s.member_no})
    earned: dict[tuple[str, str], int] = {}
    for start in range(0, len(numbers), 500):
        query = (
            select(sales.c.member_no, sales.c.business_date, func.sum(sales.c.points_earned))
            .where(
                sales.c.member_no.in_(numbers[start : start + 500]),
                sales.c.business_date.in_(days),
                sales.c.held.is_(None),
                sales.c.kind == str(SaleKind.SALE),
            )
            .group_by(sales.c.member_no, sales.c.business_date)
        )
        for member_no, day, total in conn.execute(query):
            earned[str(member_no), str(day)] = int(total or 0)
    return earned


def _stored_sales(
    conn: Connection, terminal: TerminalRecord, sale_ids: list[str]
) -> tuple[dict[str, Sale], set[str]]:
    """The stored sales ``sale_ids`` name for ``terminal``, and which of them are held.

    Of the sales with one id, the terminal's own wins, then its store's earliest
    received, then (so that it can be refused as another store's) any other.
    """
    best: dict[str, tuple[tuple[int, str], Sale, bool]] = {}
    for start in range(0, len(sale_ids), 500):
        chunk = sale_ids[start : start + 500]
        query = select(
            sales.c.sale_id,
            sales.c.terminal_id,
            sales.c.store_id,
            sales.c.received_at,
            sales.c.payload,
            sales.c.held,
        ).where(sales.c.sale_id.in_(chunk))
        for sale_id, owner, store, received, payload, reason in conn.execute(query):
            rank = 0 if owner == terminal.terminal_id else 1 if store == terminal.store_id else 2
            order = (rank, str(received))
            if sale_id not in best or order < best[sale_id][0]:
                best[str(sale_id)] = (
                    order,
                    sale_from_wire(json.loads(payload)),
                    reason is not None,
                )
    found = {sale_id: sale for sale_id, (_, sale, _) in best.items()}
    return found, {sale_id for sale_id, (_, _, held) in best.items() if held}


def _stored_returns(conn: Connection, originals: Mapping[str, Sale]) -> dict[str, list[Sale]]:
    """The stored voids and refunds of ``originals`` (by the ``sales_ref`` index).

    Returns are of their own store's sales only, so those of another store's
    sale with the same id are not counted.
    """
    found: dict[str, list[Sale]] = {}
    ids = sorted(originals)
    for start in range(0, len(ids), 500):
        query = select(sales.c.store_id, sales.c.payload).where(
            sales.c.ref_sale_id.in_(ids[start : start + 500])
        )
        for store, payload in conn.execute(query):
            sale = sale_from_wire(json.loads(payload))
            original = originals.get(sale.ref_sale_id or "")
            if original is not None and store == original.store_id:
                found.setdefault(original.sale_id, []).append(sale)
    return found


def _own(parsed: _Parsed, terminal: TerminalRecord) -> _Parsed:
    if parsed.sale.store_id != terminal.store_id:
        raise FormatError("store_id is not this terminal's store")
    if parsed.sale.terminal_id != terminal.terminal_id:
        raise FormatError("terminal_id is not this terminal's id")
    return parsed


def _known(
    conn: Connection, terminal_id: str, sale_ids: list[str]
) -> tuple[dict[str, _Known], dict[str, str]]:
    """The terminal's stored sales of ``sale_ids``; and the others' ids: id -> a terminal."""
    known: dict[str, _Known] = {}
    reused: dict[str, str] = {}
    for start in range(0, len(sale_ids), 500):
        chunk = sale_ids[start : start + 500]
        query = select(
            sales.c.sale_id,
            sales.c.terminal_id,
            sales.c.body_hash,
            sales.c.change_seq,
            sales.c.held,
        )
        for sale_id, owner, body_hash, seq, held in conn.execute(
            query.where(sales.c.sale_id.in_(chunk))
        ):
            if owner == terminal_id:
                known[str(sale_id)] = _Known(str(body_hash), seq, held)
            else:
                reused.setdefault(str(sale_id), str(owner))
    return known, reused


def _replay(
    conn: Connection, terminal: TerminalRecord, entry: _Parsed, known: _Known, now: datetime
) -> dict[str, Any]:
    """The answer to a ``sale_id`` this terminal pushed before: the first result, or a conflict."""
    sale_id = entry.sale.sale_id
    if known.body_hash == entry.body_hash:
        if known.held is not None:
            return {**_held(sale_id, known.held), "change_seq": known.change_seq}
        return {"sale_id": sale_id, "status": "duplicate", "change_seq": known.change_seq}
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
    """Insert new sales with their ledger or suspense entries; each sale's member change seq."""
    if not entries:
        return {}
    credited = [e.sale for e in entries if e.held is None]
    member_seq = _apply_points(conn, terminal, credited, now)
    debited = _suspend(conn, terminal, [e for e in entries if e.held is not None], now)
    seqs = {e.sale.sale_id: member_seq.get(e.sale.member_no or "") for e in entries if not e.held}
    for entry in entries:  # a held sale's answer: the member change of its debit, if any
        if entry.held and entry.sale.points_redeemed > 0:
            seqs[entry.sale.sale_id] = debited.get(entry.sale.member_no or "")
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
                "change_seq": seqs.get(e.sale.sale_id),
                "ref_sale_id": e.sale.ref_sale_id,
                "held": e.held,
            }
            for e in entries
        ],
    )
    return seqs


def _ledger_rows(batch: Sequence[Sale], stamp: str) -> list[dict[str, Any]]:
    return [
        {
            "member_no": s.member_no,
            "kind": str(kind),
            "points": points,
            "sale_id": s.sale_id,
            "created_at": stamp,
        }
        for s in batch
        if s.member_no
        for kind, points in (
            (LedgerKind.EARN, s.points_earned),
            (LedgerKind.REDEEM, -s.points_redeemed),
        )
        if points
    ]


def _suspend(
    conn: Connection, terminal: TerminalRecord, entries: list[_Parsed], now: datetime
) -> dict[str, int]:
    """Park the credits of held sales in the suspense account (and flag unknown members).

    Their debits (points a member redeemed at the till) are the member's at once, as
    the discount was given: a held sale never leaves the member richer. Those of a
    member the club does not have are parked too, with nobody to debit.

    Returns:
        the change seq of each debited member's update.
    """
    rows = []
    debits: list[Sale] = []
    for entry in entries:
        sale = entry.sale
        unknown = (entry.held or "").startswith(f"member {(sale.member_no or '')[:40]} is not")
        for row in _ledger_rows([sale], iso(now)):
            if row["points"] > 0 or unknown:
                rows.append({**row, "reason": (entry.held or "")[:1000]})
        if not unknown and sale.member_no and sale.points_redeemed > 0:
            debits.append(dataclasses.replace(sale, points_earned=0, total=0))
        if sale.member_no and unknown:
            add_flag(
                conn,
                "unknown-member",
                sale.member_no,
                f"sale {sale.sale_id} names an unknown member",
                now,
                sale_id=sale.sale_id,
                terminal_id=sale.terminal_id,
            )
    if rows:
        conn.execute(points_suspense.insert(), rows)
    return _apply_points(conn, terminal, debits, now) if debits else {}


def _apply_points(
    conn: Connection, terminal: TerminalRecord, batch: list[Sale], now: datetime
) -> dict[str, int]:
    """Ledger entries for the credited member sales of a batch; new balances; a change per member.

    Every member here is known (sales of unknown members are held). Returns
    the change seq of each member's update.
    """
    stamp = iso(now)
    member_sales = [s for s in batch if s.member_no]
    ledger = _ledger_rows(member_sales, stamp)
    if ledger:
        conn.execute(points_ledger.insert(), ledger)
    known = sorted({s.member_no for s in member_sales if s.member_no})
    balances = ledger_balances(conn, known)
    if known:
        conn.execute(
            members.update()
            .where(members.c.member_no == bindparam("m_no"))
            .values(points_balance=bindparam("m_balance"), updated_at=stamp),
            [{"m_no": m, "m_balance": balances.get(m, 0)} for m in known],
        )
    spend: dict[str, int] = {}
    for sale in member_sales:
        if sale.member_no:
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


def ledger_mismatches(conn: Connection) -> list[tuple[str, int, int]]:
    """Every (member, stored balance, ledger sum) that differ, and ledger entries of no member.

    An entry of a number the club has no member for is reported as
    ``(number, 0, its sum)``. The invariant: this is always empty.
    """
    sums = {
        str(m): int(t or 0)
        for m, t in conn.execute(
            select(points_ledger.c.member_no, func.sum(points_ledger.c.points)).group_by(
                points_ledger.c.member_no
            )
        )
    }
    found: list[tuple[str, int, int]] = []
    seen: set[str] = set()
    for number, balance in conn.execute(select(members.c.member_no, members.c.points_balance)):
        seen.add(str(number))
        if int(balance) != sums.get(str(number), 0):
            found.append((str(number), int(balance), sums.get(str(number), 0)))
    found += [(m, 0, total) for m, total in sorted(sums.items()) if m not in seen]
    return found

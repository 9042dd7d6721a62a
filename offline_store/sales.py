"""Recording sales, voids and refunds: one transaction each, with the outbox entry.

:func:`record_sale` writes the sale, its lines, its points-ledger entries and
its outbox entry in one SQLite transaction; when it returns, the sale is
durable (WAL, ``synchronous=FULL``) and will be pushed. When it raises,
nothing was written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import sqlite_utils

from clubcore.errors import UnknownSaleError
from clubcore.points import LedgerKind
from clubcore.sale import LINE_FIELDS, SALE_FIELDS, Payment, Sale, SaleKind, SaleLine, Tender
from clubcore.wire import sale_to_wire
from offline_store.db import store_error

__all__ = [
    "DaySale",
    "get_sale",
    "last_sale",
    "next_sale_no",
    "record_sale",
    "refunded_quantities",
    "sales_of_day",
]

_SALE_COLUMNS = SALE_FIELDS
_LINE_COLUMNS = LINE_FIELDS

#: test seam: called inside the transaction just before COMMIT (crash tests)
before_commit: Callable[[Sale], None] | None = None


def _sale_row(sale: Sale) -> list[object]:
    values: list[object] = []
    for column in _SALE_COLUMNS:
        value = getattr(sale, column)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        values.append(value)
    return values


def record_sale(db: sqlite_utils.Database, sale: Sale) -> None:
    """Durably record ``sale`` with its ledger entries and its outbox entry.

    Raises:
        sqlite3.IntegrityError: the sale id exists already (nothing written).
        StoreError: the write failed (nothing written).
    """
    try:
        _write_sale(db, sale)
    except sqlite3.IntegrityError:
        raise
    except sqlite3.OperationalError as exc:  # full disk, read-only file: rolled back whole
        raise store_error(exc, _db_path(db)) from exc


def _db_path(db: sqlite_utils.Database) -> str | None:
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else None


def _write_sale(db: sqlite_utils.Database, sale: Sale) -> None:
    created = sale.created_at.isoformat()
    with db.atomic():
        db.execute(
            f"INSERT INTO sales ({', '.join(_SALE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_SALE_COLUMNS))})",
            _sale_row(sale),
        )
        db.conn.executemany(
            f"INSERT INTO sale_lines (sale_id, {', '.join(_LINE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(_LINE_COLUMNS) + 1))})",
            [(sale.sale_id, *line.values()) for line in sale.lines],
        )
        db.conn.executemany(
            "INSERT INTO sale_payments (sale_id, seq, tender, amount, tendered, reference) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (sale.sale_id, seq, str(p.tender), p.amount, p.tendered, p.reference)
                for seq, p in enumerate(sale.payments, 1)
            ],
        )
        if sale.member_no is not None:
            entries = [
                (LedgerKind.EARN, sale.points_earned),
                (LedgerKind.REDEEM, -sale.points_redeemed),
            ]
            db.conn.executemany(
                "INSERT INTO points_ledger (member_no, kind, points, sale_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (sale.member_no, str(kind), points, sale.sale_id, created)
                    for kind, points in entries
                    if points
                ],
            )
        db.execute(
            "INSERT INTO outbox (idempotency_key, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            [sale.sale_id, "sale", json.dumps(sale_to_wire(sale), sort_keys=True), created],
        )
        if before_commit is not None:
            before_commit(sale)


def get_sale(db: sqlite_utils.Database, sale_id: str) -> Sale:
    """The recorded sale with this id, with its lines.

    Raises:
        UnknownSaleError: no such sale.
    """
    row = db.execute(
        f"SELECT {', '.join(_SALE_COLUMNS)} FROM sales WHERE sale_id = ?", [sale_id]
    ).fetchone()
    if row is None:
        raise UnknownSaleError(f"no sale with id {sale_id}")
    data = dict(zip(_SALE_COLUMNS, row, strict=True))
    lines = tuple(
        SaleLine(*line)
        for line in db.execute(
            f"SELECT {', '.join(_LINE_COLUMNS)} FROM sale_lines WHERE sale_id = ? ORDER BY line_no",
            [sale_id],
        )
    )
    payments = tuple(
        Payment(Tender(tender), amount, tendered, reference)
        for tender, amount, tendered, reference in db.execute(
            "SELECT tender, amount, tendered, reference FROM sale_payments "
            "WHERE sale_id = ? ORDER BY seq",
            [sale_id],
        )
    )
    data["payments"] = payments
    data["kind"] = SaleKind(data["kind"])
    data["tender"] = Tender(data["tender"])
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["business_date"] = date.fromisoformat(data["business_date"])
    return Sale(lines=lines, **data)


def next_sale_no(db: sqlite_utils.Database, business_date: date) -> int:
    """The number the next record of ``business_date`` gets on this lane (1 for the first).

    Sales, voids and refunds share one sequence per business day; call it in
    the thread that records the sale (one thread owns the database), and a
    unique index refuses a number given twice.
    """
    row = db.execute(
        "SELECT MAX(sale_no) FROM sales WHERE business_date = ?", [business_date.isoformat()]
    ).fetchone()
    return int(row[0] or 0) + 1


def last_sale(db: sqlite_utils.Database) -> Sale | None:
    """The most recently recorded sale, void or refund of this lane, or None."""
    row = db.execute("SELECT sale_id FROM sales ORDER BY created_at DESC LIMIT 1").fetchone()
    return None if row is None else get_sale(db, str(row[0]))


def refunded_quantities(db: sqlite_utils.Database, sale_id: str) -> dict[int, int]:
    """Quantity already voided or refunded per line number of ``sale_id`` (positive)."""
    rows = db.execute(
        "SELECT l.line_no, -SUM(l.quantity) FROM sale_lines l JOIN sales s USING (sale_id) "
        "WHERE s.ref_sale_id = ? GROUP BY l.line_no",
        [sale_id],
    )
    return {int(line_no): int(qty) for line_no, qty in rows}


@dataclass(frozen=True, slots=True)
class DaySale:
    """One record of a business day, for the manager's list."""

    sale_id: str
    kind: str
    created_at: datetime
    total: int
    member_no: str | None
    returned: bool  # a void or refund refers to it
    sale_no: int | None = None
    cashier_id: str | None = None


def sales_of_day(db: sqlite_utils.Database, day: date, limit: int = 40) -> list[DaySale]:
    """The day's records (sales, voids, refunds), newest first."""
    rows = db.execute(
        "SELECT s.sale_id, s.kind, s.created_at, s.total, s.member_no, "
        "EXISTS (SELECT 1 FROM sales r WHERE r.ref_sale_id = s.sale_id), s.sale_no, "
        "s.cashier_id FROM sales s WHERE s.business_date = ? ORDER BY s.created_at DESC LIMIT ?",
        [day.isoformat(), limit],
    ).fetchall()
    return [
        DaySale(
            str(sid),
            str(kind),
            datetime.fromisoformat(created),
            int(total),
            member,
            bool(r),
            number,
            cashier,
        )
        for sid, kind, created, total, member, r, number, cashier in rows
    ]

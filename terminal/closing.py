"""Closing the day: the cash counted against what the day's records say should be there.

For a business day on this lane, from the records alone:

- **cash expected** in the drawer = the opening floats of the shifts that
  started that day + the cash part of every sale (what it paid, not what was
  handed over: the change went back) + the cash given back by voids and
  refunds (negative). A sale recorded before payments were kept counts its
  whole total under its tender; a void or refund pays back by its tender
  (a split sale's refund is paid back in cash, :mod:`clubcore.tender`);
- **card** = the card part of every sale, less card refunds;
- the same per cashier (the cashier signed in when each record was made;
  records made with nobody signed in are grouped as such).

:func:`close_day` takes the cash counted, works out the difference
(counted - expected: negative is short, positive is over), and records the
closing with its whole report in ``day_closings``. A day may be closed again
(a recount); each closing is kept. The closing says who counted: a cashier
or manager signing with their staff number and PIN.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import sqlite_utils

from clubcore.errors import AuthorizationError
from terminal.pins import authorize
from terminal.shifts import TILL_ROLES, shifts_of_day

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from terminal.bootstrap import Terminal

__all__ = ["CashierFigures", "DayClose", "close_day", "closings_of_day", "day_figures"]


@dataclass
class CashierFigures:
    """One cashier's day (or the records made with nobody signed in: ``staff_id`` None)."""

    staff_id: str | None
    name: str
    sales: int = 0
    sales_total: int = 0
    cash: int = 0
    card: int = 0
    voids: int = 0
    refunds: int = 0
    returned: int = 0  # given back by voids and refunds (positive)
    opening_float: int = 0

    @property
    def expected_cash(self) -> int:
        return self.opening_float + self.cash


@dataclass
class DayClose:
    """The day's figures on this lane; with the count once counted."""

    business_date: date
    cashiers: list[CashierFigures] = field(default_factory=list)
    counted_cash: int | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None

    def _sum(self, name: str) -> int:
        return sum(int(getattr(c, name)) for c in self.cashiers)

    @property
    def expected_cash(self) -> int:
        return self._sum("expected_cash")

    @property
    def card(self) -> int:
        return self._sum("card")

    @property
    def difference(self) -> int | None:
        """Counted - expected: negative when the drawer is short."""
        return None if self.counted_cash is None else self.counted_cash - self.expected_cash

    def as_dict(self) -> dict[str, Any]:
        return {
            "business_date": self.business_date.isoformat(),
            "expected_cash": self.expected_cash,
            "counted_cash": self.counted_cash,
            "difference": self.difference,
            "card": self.card,
            "sales": self._sum("sales"),
            "sales_total": self._sum("sales_total"),
            "voids": self._sum("voids"),
            "refunds": self._sum("refunds"),
            "returned": self._sum("returned"),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
            "cashiers": [{**asdict(c), "expected_cash": c.expected_cash} for c in self.cashiers],
        }


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


def _names(db: sqlite_utils.Database) -> dict[str, str]:
    return {str(k): str(v) for k, v in db.execute("SELECT staff_id, name FROM staff")}


def day_figures(db: sqlite_utils.Database, day: date, tz: ZoneInfo) -> DayClose:
    """The figures of business day ``day`` (local, in ``tz``) from this lane's records."""
    names = _names(db)
    by_cashier: dict[str | None, CashierFigures] = {}

    def of(staff_id: str | None) -> CashierFigures:
        if staff_id not in by_cashier:
            name = names.get(staff_id, staff_id) if staff_id else "(nobody signed in)"
            by_cashier[staff_id] = CashierFigures(staff_id, name)
        return by_cashier[staff_id]

    for shift in shifts_of_day(db, *_day_bounds(day, tz)):
        of(shift.staff_id).opening_float += shift.opening_float
    rows = db.execute(
        "SELECT s.sale_id, s.kind, s.total, s.tender, s.cashier_id, "
        "(SELECT COUNT(*) FROM sale_payments p WHERE p.sale_id = s.sale_id) "
        "FROM sales s WHERE s.business_date = ? ORDER BY s.created_at",
        [day.isoformat()],
    ).fetchall()
    for sale_id, kind, total, tender, cashier, paid_in_parts in rows:
        figures = of(cashier)
        _count(figures, str(kind), int(total))
        if paid_in_parts:
            _count_payments(db, figures, str(sale_id))
        elif str(tender) == "card":  # a return, or a sale recorded before payments were kept
            figures.card += int(total)
        else:  # cash, and a split sale's return (paid back in cash)
            figures.cash += int(total)
    return DayClose(day, sorted(by_cashier.values(), key=lambda c: (c.staff_id is None, c.name)))


def _count(figures: CashierFigures, kind: str, total: int) -> None:
    if kind == "sale":
        figures.sales += 1
        figures.sales_total += total
    else:
        figures.voids += kind == "void"
        figures.refunds += kind == "refund"
        figures.returned -= total


def _count_payments(db: sqlite_utils.Database, figures: CashierFigures, sale_id: str) -> None:
    for tender, amount in db.execute(
        "SELECT tender, amount FROM sale_payments WHERE sale_id = ?", [sale_id]
    ):
        if tender == "cash":
            figures.cash += int(amount)
        else:
            figures.card += int(amount)


def close_day(
    terminal: Terminal,
    counted_cash: int,
    staff_id: str,
    pin: str,
    day: date | None = None,
) -> DayClose:
    """Record the closing of ``day`` (today, local) with the cash counted.

    Raises:
        AuthorizationError: not a cashier or manager, or a wrong PIN.
        ValueError: a negative count.
    """
    if counted_cash < 0:
        raise ValueError("the cash counted cannot be negative")
    db, now = terminal.db, terminal.clock()
    row = db.execute("SELECT role FROM staff WHERE staff_id = ?", [staff_id]).fetchone()
    role = str(row[0]) if row else "cashier"
    if role not in TILL_ROLES:
        raise AuthorizationError(f"{staff_id} is a {role}: a cashier or manager closes the day")
    authorize(db, pin, role, now, staff_id=staff_id)
    day = day or terminal.local_now().date()
    figures = day_figures(db, day, terminal.timezone)
    figures.counted_cash, figures.closed_at, figures.closed_by = counted_cash, now, staff_id
    report = figures.as_dict()
    with db.atomic():
        db.execute(
            "INSERT INTO day_closings (closing_id, business_date, closed_at, staff_id, "
            "expected_cash, counted_cash, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [str(uuid.uuid4()), day.isoformat(), now.isoformat(), staff_id,
             figures.expected_cash, counted_cash, json.dumps(report, sort_keys=True)],
        )  # fmt: skip
    return figures


def closings_of_day(db: sqlite_utils.Database, day: date) -> list[dict[str, Any]]:
    """The recorded closings of ``day``, oldest first (each its report as recorded)."""
    rows = db.execute(
        "SELECT report FROM day_closings WHERE business_date = ? ORDER BY closed_at",
        [day.isoformat()],
    )
    return [json.loads(report) for (report,) in rows]

"""A cashier's shift on this lane: sign in with staff number and PIN, sign out at the end.

At most one shift is open on a lane at a time (a unique index says so). Every
sale completed while a shift is open records its cashier
(:attr:`clubcore.sale.Sale.cashier_id`); the day's closing groups by cashier
(:mod:`terminal.closing`). A cashier or a manager may open a shift; a
second person cannot sign in over an open shift until it is signed out (a
manager may sign it out: :func:`sign_out` with ``force``).

Signing in checks the person's own PIN with their own lockout
(:func:`terminal.pins.authorize` with the staff number), so wrong tries at
one cashier's sign-in never lock another person out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlite_utils

from clubcore.errors import AuthorizationError, SaleStateError, TenderError
from terminal.pins import authorize

if TYPE_CHECKING:
    from terminal.bootstrap import Terminal

__all__ = ["Shift", "current_shift", "shifts_of_day", "sign_in", "sign_out"]

#: who may open a shift at the till
TILL_ROLES = ("cashier", "manager")


@dataclass(frozen=True, slots=True)
class Shift:
    """One cashier's shift: who, from when to when, and the cash float they started with."""

    shift_id: int
    staff_id: str
    name: str
    role: str
    started_at: datetime
    ended_at: datetime | None
    opening_float: int

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


_SELECT = (
    "SELECT s.shift_id, s.staff_id, COALESCE(t.name, s.staff_id), COALESCE(t.role, '?'), "
    "s.started_at, s.ended_at, s.opening_float FROM shifts s "
    "LEFT JOIN staff t ON t.staff_id = s.staff_id"
)


def _shift(row: tuple[object, ...]) -> Shift:
    shift_id, staff_id, name, role, started, ended, opening = row
    return Shift(
        int(str(shift_id)),
        str(staff_id),
        str(name),
        str(role),
        datetime.fromisoformat(str(started)),
        datetime.fromisoformat(str(ended)) if ended else None,
        int(str(opening)),
    )


def current_shift(db: sqlite_utils.Database) -> Shift | None:
    """The open shift on this lane, or None when nobody is signed in."""
    row = db.execute(f"{_SELECT} WHERE s.ended_at IS NULL").fetchone()
    return None if row is None else _shift(row)


def shifts_of_day(db: sqlite_utils.Database, start: datetime, end: datetime) -> list[Shift]:
    """Shifts that started in ``[start, end)`` (aware datetimes), oldest first."""
    rows = db.execute(
        f"{_SELECT} WHERE s.started_at >= ? AND s.started_at < ? ORDER BY s.started_at",
        [start.isoformat(), end.isoformat()],
    ).fetchall()
    return [_shift(row) for row in rows]


def _role_of(db: sqlite_utils.Database, staff_id: str) -> str | None:
    row = db.execute("SELECT role FROM staff WHERE staff_id = ?", [staff_id]).fetchone()
    return None if row is None else str(row[0])


def sign_in(terminal: Terminal, staff_id: str, pin: str, opening_float: int = 0) -> Shift:
    """Open a shift for ``staff_id`` (the same open shift if they are signed in already).

    Arguments:
        opening_float: the cash in the drawer at the start (minor units).

    Raises:
        AuthorizationError: unknown staff number, not a cashier or manager,
            wrong PIN or locked (the message says how many tries are left).
        SaleStateError: someone else is signed in on this lane.
        TenderError: a negative float.
    """
    db, now = terminal.db, terminal.clock()
    if opening_float < 0:
        raise TenderError("the opening float cannot be negative")
    role = _role_of(db, staff_id) or "cashier"
    if role not in TILL_ROLES:
        raise AuthorizationError(f"{staff_id} is a {role}, not a cashier or manager")
    authorize(db, pin, role, now, staff_id=staff_id)
    open_shift = current_shift(db)
    if open_shift is not None:
        if open_shift.staff_id == staff_id:
            return open_shift
        raise SaleStateError(
            f"{open_shift.name} ({open_shift.staff_id}) is still signed in",
            hint="they sign out first, or a manager signs their shift out",
        )
    with db.atomic():
        db.execute(
            "INSERT INTO shifts (staff_id, started_at, opening_float) VALUES (?, ?, ?)",
            [staff_id, now.isoformat(), opening_float],
        )
    shift = current_shift(db)
    assert shift is not None
    return shift


def sign_out(terminal: Terminal, *, force: bool = False, pin: str | None = None) -> Shift:
    """Close the open shift; ``force`` with a manager ``pin`` closes someone else's.

    Raises:
        SaleStateError: nobody is signed in.
        AuthorizationError: ``force`` without a right manager PIN.
    """
    db, now = terminal.db, terminal.clock()
    shift = current_shift(db)
    if shift is None:
        raise SaleStateError("nobody is signed in on this lane")
    if force:
        authorize(db, pin, "manager", now)
    with db.atomic():
        db.execute(
            "UPDATE shifts SET ended_at = ? WHERE shift_id = ?", [now.isoformat(), shift.shift_id]
        )
    return Shift(
        shift.shift_id,
        shift.staff_id,
        shift.name,
        shift.role,
        shift.started_at,
        now,
        shift.opening_float,
    )

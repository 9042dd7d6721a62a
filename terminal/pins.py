"""Cashier, manager and technician PINs: stored as scrypt hashes, checked with lockout.

A PIN hash reads ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``. Five wrong PINs
in a row lock PIN entry for five minutes, per staff member when the staff
number is given, else per role on this terminal; lockouts in a row double
(:func:`authorize` says exactly how).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import NoReturn

import sqlite_utils

from clubcore.errors import AuthorizationError, ConfigError
from offline_store.settings import read_settings

__all__ = ["MAX_ATTEMPTS", "ROLES", "authorize", "hash_pin", "set_pin", "verify_pin"]

MAX_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=5)
MAX_LOCKOUT = timedelta(hours=1)
ROLES = ("cashier", "manager", "technician")
_N, _R, _P = 2**14, 8, 1


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of ``pin``.

    Raises:
        ConfigError: the PIN is not 4 to 12 digits.
    """
    if not (pin.isdigit() and pin.isascii() and 4 <= len(pin) <= 12):
        raise ConfigError("pin", "a PIN is 4 to 12 digits")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate, bytes.fromhex(digest))


def set_pin(db: sqlite_utils.Database, staff_id: str, name: str, role: str, pin: str) -> None:
    """Create or replace a staff member's PIN.

    Raises:
        ConfigError: the PIN is not digits, or shorter than the terminal's
            ``pins.min_length`` setting (4 unless terminal.toml says more),
            or longer than 12.
    """
    least = read_settings(db).pin_min_length
    if pin.isdigit() and 4 <= len(pin) < least:  # (fewer than 4: hash_pin says why)
        raise ConfigError(
            "pin", f"this terminal's PINs are at least {least} digits (pins.min_length)"
        )
    with db.atomic():
        db.execute(
            "INSERT INTO staff (staff_id, name, role, pin_hash) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (staff_id) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "pin_hash = excluded.pin_hash",
            [staff_id, name, role, hash_pin(pin)],
        )
        db.execute("DELETE FROM pin_lockouts WHERE scope = ?", [f"staff:{staff_id}"])


def _scope_state(db: sqlite_utils.Database, scope: str) -> tuple[int, datetime | None, int]:
    row = db.execute(
        "SELECT failed_attempts, locked_until, lockouts FROM pin_lockouts WHERE scope = ?", [scope]
    ).fetchone()
    if row is None:
        return 0, None, 0
    return int(row[0]), datetime.fromisoformat(row[1]) if row[1] else None, int(row[2])


def _check_unlocked(db: sqlite_utils.Database, scope: str, now: datetime) -> int:
    """The wrong tries already counted in ``scope``; raises while it is locked."""
    failed, until, _ = _scope_state(db, scope)
    if until is not None and until > now:
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        raise AuthorizationError(
            f"PIN entry is locked for {minutes} more minute{'s' if minutes != 1 else ''}",
            hint="a manager can still sign in with their staff number",
        )
    return 0 if until is not None else failed  # a lockout that ended starts a fresh count


def _count_failure(db: sqlite_utils.Database, scope: str, now: datetime, label: str) -> NoReturn:
    failed, until, lockouts = _scope_state(db, scope)
    failed = (0 if until is not None and until <= now else failed) + 1
    locked_until = None
    if failed >= MAX_ATTEMPTS:
        locked_until = now + min(LOCKOUT * 2**lockouts, MAX_LOCKOUT)
        failed, lockouts = 0, lockouts + 1
    with db.atomic():
        db.execute(
            "INSERT INTO pin_lockouts (scope, failed_attempts, locked_until, lockouts) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET "
            "failed_attempts = excluded.failed_attempts, locked_until = excluded.locked_until, "
            "lockouts = excluded.lockouts",
            [scope, failed, locked_until.isoformat() if locked_until else None, lockouts],
        )
    if locked_until is not None:
        minutes = int((locked_until - now).total_seconds() // 60)
        raise AuthorizationError(
            f"wrong {label}: PIN entry is now locked for {minutes} minutes",
            hint="a manager can still sign in with their staff number",
        )
    left = MAX_ATTEMPTS - failed
    raise AuthorizationError(f"wrong {label} ({left} {'try' if left == 1 else 'tries'} left)")


def _clear(db: sqlite_utils.Database, scope: str) -> None:
    with db.atomic():
        db.execute("DELETE FROM pin_lockouts WHERE scope = ?", [scope])


def authorize(
    db: sqlite_utils.Database,
    pin: str | None,
    role: str,
    now: datetime,
    staff_id: str | None = None,
) -> str:
    """The id of the staff member with ``role`` whose PIN this is.

    With ``staff_id`` (a staff number typed with the PIN), only that person's
    PIN is tried and only their own lockout counts; without, the PIN is
    tried against everyone with ``role`` and wrong tries count for the lane
    (``role:<role>``), so a PIN typed at the till never locks a manager out
    of signing in with their number. :data:`MAX_ATTEMPTS` wrong tries in a
    row lock the scope for :data:`LOCKOUT`, doubling with each lockout in a
    row (at most :data:`MAX_LOCKOUT`); when a lockout ends the count starts
    again, and a right PIN clears it. Every refusal says how many tries are left.

    Raises:
        AuthorizationError: no PIN, no such PIN set on this terminal, a wrong
            PIN, or PIN entry locked.
    """
    if not pin:
        raise AuthorizationError(f"a {role} PIN is required")
    query = "SELECT staff_id, pin_hash FROM staff WHERE role = ?"
    args = [role]
    if staff_id is not None:
        query, args = query + " AND staff_id = ?", [role, staff_id]
    rows = db.execute(query, args).fetchall()
    if not rows and staff_id is None:
        raise AuthorizationError(
            f"no {role} PIN is set on this terminal",
            hint=f"the technician sets one: club-terminal pin set ID --name NAME --role {role}",
        )
    scope = f"staff:{staff_id}" if staff_id is not None else f"role:{role}"
    _check_unlocked(db, scope, now)
    for found, stored in rows:
        if verify_pin(pin, stored):
            _clear(db, scope)
            return str(found)
    label = f"{role} PIN" if staff_id is None else "staff number or PIN"
    _count_failure(db, scope, now, label)

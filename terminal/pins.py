"""Manager and technician PINs: stored as scrypt hashes, checked with lockout.

A PIN hash reads ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``. Five wrong PINs
in a row lock PIN entry for five minutes (on this terminal).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlite_utils

from clubcore.errors import AuthorizationError, ConfigError
from offline_store.settings import read_settings

__all__ = ["MAX_ATTEMPTS", "authorize", "hash_pin", "set_pin", "verify_pin"]

MAX_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=5)
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
            "pin_hash = excluded.pin_hash, failed_attempts = 0, locked_until = NULL",
            [staff_id, name, role, hash_pin(pin)],
        )


def authorize(db: sqlite_utils.Database, pin: str | None, role: str, now: datetime) -> str:
    """The id of the staff member with ``role`` whose PIN this is.

    Raises:
        AuthorizationError: no PIN, a wrong PIN, or PIN entry locked.
    """
    if not pin:
        raise AuthorizationError(f"a {role} PIN is required")
    rows = db.execute(
        "SELECT staff_id, pin_hash, failed_attempts, locked_until FROM staff WHERE role = ?",
        [role],
    ).fetchall()
    if any(locked and datetime.fromisoformat(locked) > now for *_, locked in rows):
        raise AuthorizationError("PIN entry is locked", hint="try again in a few minutes")
    for staff_id, stored, _, _ in rows:
        if verify_pin(pin, stored):
            with db.atomic():
                db.execute("UPDATE staff SET failed_attempts = 0 WHERE role = ?", [role])
            return str(staff_id)
    with db.atomic():
        db.execute(
            "UPDATE staff SET failed_attempts = failed_attempts + 1, locked_until = CASE "
            "WHEN failed_attempts + 1 >= ? THEN ? ELSE locked_until END WHERE role = ?",
            [MAX_ATTEMPTS, (now + LOCKOUT).isoformat(), role],
        )
    raise AuthorizationError(f"wrong {role} PIN")

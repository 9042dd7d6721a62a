"""Stores, terminals, one-time enrollment codes and terminal credentials.

A code is ``XXXX-XXXX-XXXX`` in RFC 4648 base32 (60 random bits); a
credential is ``<terminal_id>.<secret>``. The database keeps only SHA-256
digests of both. Refusals raise :class:`RequestRefusedError` with the status
and code of ``docs/sync-protocol.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from club_server.clock import iso
from club_server.schema import enrollment_codes, sales, stores, terminals
from clubcore.errors import NotFoundError, RequestRefusedError

__all__ = [
    "CODE_LIFETIME",
    "Enrollment",
    "TerminalRecord",
    "add_terminal",
    "authenticate",
    "enroll",
    "ensure_store",
    "list_terminals",
    "revoke_terminal",
]

CODE_LIFETIME = timedelta(hours=24)
_CODE = re.compile(r"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class TerminalRecord:
    """An enrolled terminal, as the API sees it after authentication."""

    terminal_id: str
    store_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Enrollment:
    """What ``terminal add`` prints: the id, the one-time code and its expiry."""

    terminal_id: str
    store_id: str
    code: str
    expires_at: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:12]
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def ensure_store(conn: Connection, store_id: str, now: datetime, name: str | None = None) -> None:
    """Create the store if it does not exist yet.

    Raises:
        RequestRefusedError: ``store_id`` is not 1-64 letters, digits, ``-`` or ``_``.
    """
    if not _ID.fullmatch(store_id):
        raise RequestRefusedError(400, "invalid-store", f"store id {store_id!r} is not valid")
    if conn.execute(select(stores.c.store_id).where(stores.c.store_id == store_id)).first():
        return
    conn.execute(
        stores.insert().values(store_id=store_id, name=name or store_id, created_at=iso(now))
    )


def add_terminal(conn: Connection, store_id: str, name: str | None, now: datetime) -> Enrollment:
    """Create a terminal of ``store_id`` (and the store) with a fresh enrollment code.

    Raises:
        RequestRefusedError: a malformed store id.
    """
    ensure_store(conn, store_id, now)
    terminal_id = "t-" + secrets.token_hex(5)
    code, expires = _new_code(), now + CODE_LIFETIME
    conn.execute(
        terminals.insert().values(
            terminal_id=terminal_id,
            store_id=store_id,
            name=name or terminal_id,
            created_at=iso(now),
        )
    )
    conn.execute(
        enrollment_codes.insert().values(
            code_hash=_digest(code),
            terminal_id=terminal_id,
            created_at=iso(now),
            expires_at=iso(expires),
        )
    )
    return Enrollment(terminal_id, store_id, code, iso(expires))


def enroll(conn: Connection, code: str, device: dict[str, Any], now: datetime) -> dict[str, str]:
    """Spend a one-time code: the terminal's id, store and new credential.

    Raises:
        RequestRefusedError: 400 invalid-code, 401 unknown-code, 410 code-used,
            410 code-expired, 403 terminal-revoked.
    """
    code = code.strip().upper()
    if not _CODE.fullmatch(code):
        raise RequestRefusedError(400, "invalid-code", "an enrollment code is XXXX-XXXX-XXXX")
    row = conn.execute(
        select(enrollment_codes, terminals.c.store_id, terminals.c.revoked_at)
        .join(terminals, terminals.c.terminal_id == enrollment_codes.c.terminal_id)
        .where(enrollment_codes.c.code_hash == _digest(code))
    ).first()
    if row is None:
        raise RequestRefusedError(401, "unknown-code", "no terminal has this enrollment code")
    if row.revoked_at is not None:
        raise RequestRefusedError(403, "terminal-revoked", "this terminal was revoked")
    if row.used_at is not None:
        raise RequestRefusedError(410, "code-used", "this enrollment code was already used")
    if row.expires_at <= iso(now):
        raise RequestRefusedError(410, "code-expired", f"this code expired at {row.expires_at}")
    used = conn.execute(
        enrollment_codes.update()
        .where(enrollment_codes.c.code_hash == row.code_hash, enrollment_codes.c.used_at.is_(None))
        .values(used_at=iso(now))
    )
    if used.rowcount != 1:
        raise RequestRefusedError(410, "code-used", "this enrollment code was already used")
    secret = secrets.token_urlsafe(32)
    conn.execute(
        terminals.update()
        .where(terminals.c.terminal_id == row.terminal_id)
        .values(
            credential_hash=_digest(secret),
            enrolled_at=iso(now),
            device=json.dumps(device, ensure_ascii=False)[:4000],
        )
    )
    return {
        "terminal_id": row.terminal_id,
        "store_id": row.store_id,
        "credential": f"{row.terminal_id}.{secret}",
        "server_time": iso(now),
    }


def authenticate(conn: Connection, authorization: str | None) -> TerminalRecord:
    """The terminal an ``Authorization: Bearer <terminal_id>.<secret>`` header names.

    Raises:
        RequestRefusedError: 401 unauthorized (missing, malformed or wrong),
            403 terminal-revoked.
    """
    scheme, _, token = (authorization or "").partition(" ")
    terminal_id, dot, secret = token.strip().partition(".")
    if scheme.lower() != "bearer" or not dot or not _ID.fullmatch(terminal_id) or not secret:
        raise RequestRefusedError(401, "unauthorized", "expected Authorization: Bearer ID.SECRET")
    row = conn.execute(select(terminals).where(terminals.c.terminal_id == terminal_id)).first()
    if row is None or row.credential_hash is None:
        raise RequestRefusedError(401, "unauthorized", "unknown terminal or wrong credential")
    if not hmac.compare_digest(row.credential_hash, _digest(secret)):
        raise RequestRefusedError(401, "unauthorized", "unknown terminal or wrong credential")
    if row.revoked_at is not None:
        raise RequestRefusedError(403, "terminal-revoked", "this terminal was revoked")
    return TerminalRecord(row.terminal_id, row.store_id, row.name)


def revoke_terminal(conn: Connection, terminal_id: str, now: datetime) -> None:
    """Revoke a terminal: its credential and any unused code stop working.

    Raises:
        NotFoundError: no such terminal.
    """
    done = conn.execute(
        terminals.update()
        .where(terminals.c.terminal_id == terminal_id, terminals.c.revoked_at.is_(None))
        .values(revoked_at=iso(now))
    )
    if done.rowcount == 0:
        exists = conn.execute(
            select(terminals.c.terminal_id).where(terminals.c.terminal_id == terminal_id)
        ).first()
        if exists is None:
            raise NotFoundError(f"no terminal {terminal_id!r}")


def list_terminals(conn: Connection, store_id: str | None = None) -> list[dict[str, Any]]:
    """Every terminal (of ``store_id``), by store then id: enrolled, revoked, the app
    version and host it enrolled with, its sales on the server and when it last pushed one.
    """
    pushed = (
        select(
            sales.c.terminal_id,
            func.count().label("sales"),
            func.max(sales.c.received_at).label("last_push_at"),
            func.max(sales.c.created_at).label("newest_sale_at"),
        )
        .group_by(sales.c.terminal_id)
        .subquery()
    )
    query = (
        select(terminals, pushed.c.sales, pushed.c.last_push_at, pushed.c.newest_sale_at)
        .outerjoin(pushed, pushed.c.terminal_id == terminals.c.terminal_id)
        .order_by(terminals.c.store_id, terminals.c.terminal_id)
    )
    if store_id is not None:
        query = query.where(terminals.c.store_id == store_id)
    return [_listed(row) for row in conn.execute(query)]


def _listed(row: Any) -> dict[str, Any]:
    try:
        device = json.loads(row.device) if row.device else {}
    except ValueError:
        device = {}
    if not isinstance(device, dict):
        device = {}
    return {
        "terminal_id": row.terminal_id,
        "store_id": row.store_id,
        "name": row.name,
        "enrolled_at": row.enrolled_at,
        "revoked": row.revoked_at is not None,
        "revoked_at": row.revoked_at,
        "version": device.get("version"),
        "hostname": device.get("hostname"),
        "sales": int(row.sales or 0),
        "last_push_at": row.last_push_at,
        "newest_sale_at": row.newest_sale_at,
    }

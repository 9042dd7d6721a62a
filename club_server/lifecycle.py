"""A terminal's credential rotation and decommissioning, on the server.

Rotation (``POST /v1/credential/rotate``) runs in two steps, so that a
terminal that crashes anywhere in between can finish it:

1. Called with the **current** credential, it issues a new secret and keeps
   it *pending* beside the current one (which stays valid for every call).
   A retry with the current credential returns the **same** pending secret
   (``"status": "pending"``): a terminal that crashed between the answer and
   saving its file simply asks again.
2. Called with the **pending** credential (its first use), it makes it the
   terminal's credential (``"status": "active"``): from then on the old
   secret gets ``401 unauthorized``. The first use of the pending credential
   on *any* endpoint activates it the same way
   (:func:`activate_on_first_use`): a terminal that crashed after saving the
   new credential but before confirming it just goes on working with it.

The database keeps only SHA-256 digests of secrets, as for enrollment; the
pending secret is kept *encrypted* under a key derived from the current
secret (AES-256-GCM, key by HKDF-SHA256), so it can be returned again only to a caller
who presents the current secret, and it is deleted when it becomes active.

The pending rotations live in a table of their own,
``terminal_credential_rotations`` (:data:`club_server.schema.credential_rotations`).

Decommissioning (``POST /v1/decommission``) revokes the calling terminal
(:func:`club_server.terminals.revoke_terminal`) and drops any pending
rotation; a revoked terminal gets ``403 terminal-revoked`` afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, delete, select

from club_server.clock import iso
from club_server.schema import credential_rotations, terminals
from club_server.terminals import TerminalRecord, authenticate, revoke_terminal
from clubcore.errors import RequestRefusedError

__all__ = [
    "activate_on_first_use",
    "credential_rotations",
    "decommission",
    "pending_matches",
    "rotate_credential",
]

_SECRET_BYTES = 32


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _aead(old_secret: str, terminal_id: str) -> AESGCM:
    """AES-256-GCM under a key derived (HKDF-SHA256) from the current secret."""
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"club-rotate|" + terminal_id.encode("utf-8"),
    ).derive(old_secret.encode("utf-8"))
    return AESGCM(key)


def _seal(raw: bytes, old_secret: str, terminal_id: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _aead(old_secret, terminal_id).encrypt(nonce, raw, terminal_id.encode("utf-8"))
    return base64.b64encode(nonce + sealed).decode("ascii")


def _unseal(sealed: str, old_secret: str, terminal_id: str) -> bytes:
    """The pending secret; raises ``cryptography.exceptions.InvalidTag`` for another secret."""
    data = base64.b64decode(sealed)
    return _aead(old_secret, terminal_id).decrypt(data[:12], data[12:], terminal_id.encode("utf-8"))


def _encode(raw: bytes) -> str:
    """The secret's text form (as ``secrets.token_urlsafe``)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _split(authorization: str | None) -> tuple[str, str]:
    """``(terminal_id, secret)`` of a well-formed Bearer header (401 otherwise)."""
    scheme, _, token = (authorization or "").partition(" ")
    terminal_id, dot, secret = token.strip().partition(".")
    if scheme.lower() != "bearer" or not dot or not terminal_id or not secret:
        raise RequestRefusedError(401, "unauthorized", "expected Authorization: Bearer ID.SECRET")
    return terminal_id, secret


def rotate_credential(conn: Connection, authorization: str | None, now: datetime) -> dict[str, Any]:
    """One step of a credential rotation, for the terminal the header names.

    Arguments:
        conn: a connection in a write transaction.
        authorization: the request's ``Authorization`` header.
        now: the server's time.

    Returns:
        ``{"status": "pending", "terminal_id", "credential", "created_at"}``
        when called with the current credential (the same pending credential
        on every retry), or ``{"status": "active", "terminal_id",
        "activated_at"}`` when called with the pending one.

    Raises:
        RequestRefusedError: 401 unauthorized (neither the current nor the
            pending credential), 403 terminal-revoked.
    """
    terminal_id, secret = _split(authorization)
    try:
        record = authenticate(conn, authorization)
    except RequestRefusedError as exc:
        if exc.status != 401:
            raise
        return _activate(conn, terminal_id, secret, now, exc)
    current_hash = _digest(secret)
    pending = conn.execute(
        select(credential_rotations).where(credential_rotations.c.terminal_id == terminal_id)
    ).first()
    if pending is not None and hmac.compare_digest(pending.old_hash, current_hash):
        raw = _unseal(pending.new_secret_sealed, secret, terminal_id)
        return _pending_answer(record, raw, pending.created_at)
    raw = secrets.token_bytes(_SECRET_BYTES)
    conn.execute(
        delete(credential_rotations).where(credential_rotations.c.terminal_id == terminal_id)
    )
    conn.execute(
        credential_rotations.insert().values(
            terminal_id=terminal_id,
            old_hash=current_hash,
            new_hash=_digest(_encode(raw)),
            new_secret_sealed=_seal(raw, secret, terminal_id),
            created_at=iso(now),
        )
    )
    return _pending_answer(record, raw, iso(now))


def pending_matches(conn: Connection, authorization: str | None) -> bool:
    """True when the header holds a terminal's *pending* rotated credential (read only)."""
    try:
        terminal_id, secret = _split(authorization)
    except RequestRefusedError:
        return False
    pending = conn.execute(
        select(credential_rotations.c.new_hash).where(
            credential_rotations.c.terminal_id == terminal_id
        )
    ).first()
    return pending is not None and hmac.compare_digest(pending.new_hash, _digest(secret))


def activate_on_first_use(
    conn: Connection, authorization: str | None, now: datetime, refusal: RequestRefusedError
) -> TerminalRecord:
    """The terminal, after making its pending credential active; else raise ``refusal``.

    Arguments:
        conn: a connection in a write transaction.
    """
    terminal_id, secret = _split(authorization)
    _activate(conn, terminal_id, secret, now, refusal)
    return authenticate(conn, authorization)


def _pending_answer(record: TerminalRecord, raw: bytes, created_at: str) -> dict[str, Any]:
    return {
        "status": "pending",
        "terminal_id": record.terminal_id,
        "credential": f"{record.terminal_id}.{_encode(raw)}",
        "created_at": created_at,
    }


def _activate(
    conn: Connection, terminal_id: str, secret: str, now: datetime, refusal: RequestRefusedError
) -> dict[str, Any]:
    """Make the pending credential the terminal's (its first use); else raise ``refusal``."""
    pending = conn.execute(
        select(credential_rotations).where(credential_rotations.c.terminal_id == terminal_id)
    ).first()
    if pending is None or not hmac.compare_digest(pending.new_hash, _digest(secret)):
        raise refusal
    row = conn.execute(
        select(terminals.c.credential_hash, terminals.c.revoked_at).where(
            terminals.c.terminal_id == terminal_id
        )
    ).first()
    if row is None or row.credential_hash != pending.old_hash:
        raise refusal  # stale: the credential changed some other way since
    if row.revoked_at is not None:
        raise RequestRefusedError(403, "terminal-revoked", "this terminal was revoked")
    conn.execute(
        terminals.update()
        .where(terminals.c.terminal_id == terminal_id)
        .values(credential_hash=pending.new_hash)
    )
    conn.execute(
        delete(credential_rotations).where(credential_rotations.c.terminal_id == terminal_id)
    )
    return {"status": "active", "terminal_id": terminal_id, "activated_at": iso(now)}


def decommission(conn: Connection, terminal: TerminalRecord, now: datetime) -> dict[str, Any]:
    """Revoke ``terminal`` (authenticated by the caller) and drop its pending rotation.

    Arguments:
        conn: a connection in a write transaction.
        terminal: the authenticated terminal.
        now: the server's time.

    Returns:
        ``{"terminal_id", "store_id", "revoked_at"}``.
    """
    revoke_terminal(conn, terminal.terminal_id, now)
    conn.execute(
        delete(credential_rotations).where(
            credential_rotations.c.terminal_id == terminal.terminal_id
        )
    )
    return {
        "terminal_id": terminal.terminal_id,
        "store_id": terminal.store_id,
        "revoked_at": iso(now),
    }

"""Operator accounts, their passwords and sessions, and API tokens for machines.

Passwords are hashed with scrypt (:func:`hash_password`: ``scrypt$n$r$p$salt$hash``,
2^14 / 8 / 1, a 16-byte salt). Signing in (:func:`login`) gives a session
token ``cs_…`` valid for :data:`SESSION_HOURS`; an API token ``ct_…``
(:func:`create_token`) has a scope (``import``), an optional expiry, and is
shown once: both are stored only as their SHA-256. :func:`authenticate` turns
an ``Authorization: Bearer`` header into an :class:`Actor`; a terminal's
credential (``<terminal_id>.<secret>``) is never one of ours, so it is refused
(401), and ours are refused by the terminal routes for the same reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from club_server.admin.access import Action, Actor, Role, require
from club_server.admin.audit import record_audit
from club_server.clock import iso
from club_server.schema import account_sessions, accounts, api_tokens, stores
from clubcore.errors import FormatError, NotFoundError, RequestRefusedError

__all__ = [
    "SESSION_HOURS",
    "NewToken",
    "authenticate",
    "create_account",
    "create_token",
    "hash_password",
    "list_accounts",
    "list_tokens",
    "login",
    "logout",
    "revoke_token",
    "update_account",
    "verify_password",
]

SESSION_HOURS = 12
SESSION_PREFIX, TOKEN_PREFIX = "cs_", "ct_"
TOKEN_SCOPES = frozenset({"import"})
MIN_PASSWORD = 10
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """The stored form of ``password``: ``scrypt$n$r$p$salt_hex$hash_hex``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash (constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


_DUMMY = hash_password(secrets.token_hex(8))


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _unauthorized(message: str = "a missing, wrong or expired sign-in") -> RequestRefusedError:
    return RequestRefusedError(401, "unauthorized", message)


def _public(row: Any) -> dict[str, Any]:
    return {
        "username": row.username,
        "role": row.role,
        "stores": json.loads(row.stores),
        "created_at": row.created_at,
        "disabled_at": row.disabled_at,
    }


def _account(conn: Connection, username: str) -> Any:
    row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
    if row is None:
        raise NotFoundError(f"no account {username!r}")
    return row


def _check(role: str, stores_: list[str], password: str | None, conn: Connection) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        raise FormatError(f"unknown role {role!r}") from None
    if parsed is Role.IMPORT:
        raise FormatError("'import' is an API token's scope, not an account's role")
    if parsed is Role.STORE_MANAGER and not stores_:
        raise FormatError("a store manager needs at least one store")
    for store in stores_:
        if (
            conn.execute(select(stores.c.store_id).where(stores.c.store_id == store)).first()
            is None
        ):
            raise FormatError(f"unknown store {store!r}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise FormatError(f"a password has at least {MIN_PASSWORD} characters")
    return parsed


def create_account(
    conn: Connection,
    actor: Actor,
    now: datetime,
    *,
    username: str,
    role: str,
    password: str,
    stores: list[str] | None = None,
) -> dict[str, Any]:
    """Add an account (admins only).

    Raises:
        RequestRefusedError: 403 forbidden; 409 conflict, the username is taken.
        FormatError: an unknown role or store, a short password.
    """
    require(actor, Action.ACCOUNTS)
    stores_ = sorted(set(stores or []))
    parsed = _check(role, stores_, password, conn)
    if conn.execute(select(accounts.c.username).where(accounts.c.username == username)).first():
        raise RequestRefusedError(409, "conflict", f"account {username!r} exists already")
    row = {
        "username": username,
        "role": parsed.value,
        "stores": json.dumps(stores_),
        "password_hash": hash_password(password),
        "created_at": iso(now),
        "disabled_at": None,
    }
    conn.execute(accounts.insert().values(**row))
    record_audit(
        conn, actor, now, entity="accounts", key=username, action="create", before=None, after=row
    )
    return _public(_account(conn, username))


def update_account(
    conn: Connection,
    actor: Actor,
    now: datetime,
    username: str,
    *,
    role: str | None = None,
    stores: list[str] | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> dict[str, Any]:
    """Change an account's role, stores, password, or disable/enable it (admins only).

    Disabling an account or changing its password ends its sessions.

    Raises:
        RequestRefusedError: 403 forbidden.
        NotFoundError: no such account.
        FormatError: as :func:`create_account`.
    """
    require(actor, Action.ACCOUNTS)
    before = dict(_account(conn, username)._mapping)
    new_role = role or before["role"]
    new_stores = sorted(set(stores)) if stores is not None else json.loads(before["stores"])
    _check(new_role, new_stores, password, conn)
    values: dict[str, Any] = {"role": new_role, "stores": json.dumps(new_stores)}
    if password is not None:
        values["password_hash"] = hash_password(password)
    if disabled is not None:
        values["disabled_at"] = (before["disabled_at"] or iso(now)) if disabled else None
    conn.execute(accounts.update().where(accounts.c.username == username).values(**values))
    if password is not None or disabled:
        conn.execute(
            account_sessions.update()
            .where(account_sessions.c.username == username, account_sessions.c.revoked_at.is_(None))
            .values(revoked_at=iso(now))
        )
    after = dict(_account(conn, username)._mapping)
    record_audit(
        conn,
        actor,
        now,
        entity="accounts",
        key=username,
        action="update",
        before=before,
        after=after,
    )
    return _public(_account(conn, username))


def list_accounts(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every account (admins only)."""
    require(actor, Action.ACCOUNTS)
    return [_public(r) for r in conn.execute(select(accounts).order_by(accounts.c.username))]


def login(
    conn: Connection, username: str, password: str, now: datetime, *, hours: int = SESSION_HOURS
) -> dict[str, str]:
    """Sign in: a new session token (shown once) and when it expires.

    Raises:
        RequestRefusedError: 401 unauthorized (unknown user, wrong password, disabled).
    """
    row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
    stored = row.password_hash if row is not None else _DUMMY
    if not verify_password(stored, password) or row is None or row.disabled_at is not None:
        raise _unauthorized("wrong username or password")
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = iso(now + timedelta(hours=hours))
    conn.execute(
        account_sessions.insert().values(
            token_hash=_sha256(token),
            username=username,
            created_at=iso(now),
            expires_at=expires,
        )
    )
    return {"token": token, "expires_at": expires, "username": username, "role": row.role}


def logout(conn: Connection, token: str, now: datetime) -> None:
    """End a session (a token that is not a live session is ignored)."""
    conn.execute(
        account_sessions.update()
        .where(account_sessions.c.token_hash == _sha256(token))
        .values(revoked_at=iso(now))
    )


@dataclass(frozen=True)
class NewToken:
    """An API token as created: the secret is shown here once, never again."""

    token_id: str
    token: str
    scope: str
    expires_at: str | None


def create_token(
    conn: Connection,
    actor: Actor,
    now: datetime,
    *,
    name: str,
    scope: str = "import",
    expires_at: datetime | None = None,
) -> NewToken:
    """A new API token (admins only); only its SHA-256 is stored.

    Raises:
        RequestRefusedError: 403 forbidden.
        FormatError: an unknown scope, an expiry in the past.
    """
    require(actor, Action.ACCOUNTS)
    if scope not in TOKEN_SCOPES:
        raise FormatError(
            f"unknown token scope {scope!r}; known: {', '.join(sorted(TOKEN_SCOPES))}"
        )
    if expires_at is not None and expires_at <= now:
        raise FormatError("the token's expiry is in the past")
    token_id = "t_" + secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    row = {
        "token_id": token_id,
        "name": name,
        "scope": scope,
        "token_hash": _sha256(token),
        "created_by": actor.label,
        "created_at": iso(now),
        "expires_at": iso(expires_at) if expires_at else None,
    }
    conn.execute(api_tokens.insert().values(**row))
    record_audit(
        conn, actor, now, entity="api_tokens", key=token_id, action="create", before=None, after=row
    )
    return NewToken(token_id, token, scope, row["expires_at"])


def list_tokens(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Every API token, without its secret (admins only)."""
    require(actor, Action.ACCOUNTS)
    query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.token_id)
    return [{k: v for k, v in r._mapping.items() if k != "token_hash"} for r in conn.execute(query)]


def revoke_token(conn: Connection, actor: Actor, now: datetime, token_id: str) -> None:
    """Revoke an API token: refused from now on (admins only).

    Raises:
        RequestRefusedError: 403 forbidden.
        NotFoundError: no such token.
    """
    require(actor, Action.ACCOUNTS)
    row = conn.execute(select(api_tokens).where(api_tokens.c.token_id == token_id)).first()
    if row is None:
        raise NotFoundError(f"no API token {token_id!r}")
    if row.revoked_at is None:
        conn.execute(
            api_tokens.update().where(api_tokens.c.token_id == token_id).values(revoked_at=iso(now))
        )
        before = dict(row._mapping)
        record_audit(
            conn,
            actor,
            now,
            entity="api_tokens",
            key=token_id,
            action="revoke",
            before=before,
            after={**before, "revoked_at": iso(now)},
        )


def authenticate(conn: Connection, token: str | None, now: datetime) -> Actor:
    """The actor behind a bearer token: a live session of an enabled account, or an API
    token neither revoked nor expired.

    Raises:
        RequestRefusedError: 401 unauthorized (a terminal's credential included).
    """
    if not token:
        raise _unauthorized("sign in first: Authorization: Bearer <session or API token>")
    digest = _sha256(token)
    if token.startswith(SESSION_PREFIX):
        row = conn.execute(
            select(accounts, account_sessions.c.expires_at, account_sessions.c.revoked_at)
            .join(account_sessions, account_sessions.c.username == accounts.c.username)
            .where(account_sessions.c.token_hash == digest)
        ).first()
        if row is None or row.revoked_at or row.disabled_at or row.expires_at <= iso(now):
            raise _unauthorized()
        return Actor("account", row.username, Role(row.role), frozenset(json.loads(row.stores)))
    if token.startswith(TOKEN_PREFIX):
        found = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == digest)).first()
        if found is None or found.revoked_at or (found.expires_at and found.expires_at <= iso(now)):
            raise _unauthorized()
        return Actor("token", found.token_id, Role(found.scope))
    raise _unauthorized("not an account's session or an API token")

"""Limits on what one caller may ask of the server: request rates, body time, enrollment.

Three kinds, configured by one :class:`ServerLimits` (``club-server serve``
options; the defaults hold 200 terminals pushing from one address):

=========================  =====================================================
limit                      what happens past it
=========================  =====================================================
per address, any request   ``429 rate-limited`` with ``Retry-After`` (in memory,
                           per server process: a token bucket per address)
per terminal               ``429 rate-limited`` (checked once the credential is)
per address, enrollment    ``429 rate-limited`` (a stricter bucket), and after
                           ``enroll_failures`` refused codes within
                           ``enroll_window`` the address is locked out of
                           enrollment for ``enroll_lockout``: ``429
                           enroll-locked`` even with a good code
a body that stops          ``408 timeout`` once no part of it arrived for
                           ``body_timeout`` seconds (:mod:`club_server.app`)
=========================  =====================================================

Lockouts are rows of ``enroll_lockouts`` in the database, so every server
process sharing it agrees, and an operator sees them (``club-server terminal
lockouts``) and lifts them (``--clear``). Lockout times come from the app's
clock; the buckets count on a monotonic clock (both injected in tests).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from club_server.clock import iso
from club_server.schema import enroll_lockouts
from clubcore.errors import RateLimitedError

__all__ = [
    "Buckets",
    "Monotonic",
    "ServerLimits",
    "check_lockout",
    "clear_lockouts",
    "client_address",
    "list_lockouts",
    "record_failure",
]

Monotonic = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How much one caller may ask; ``0`` for a rate turns that limit off.

    Attributes:
        address_rate: requests per second from one address, sustained.
        address_burst: requests from one address at once.
        terminal_rate: requests per second of one terminal, sustained.
        terminal_burst: requests of one terminal at once.
        enroll_rate: enrollment calls per second from one address, sustained.
        enroll_burst: enrollment calls from one address at once.
        enroll_failures: refused codes from one address within ``enroll_window``
            that lock it out.
        enroll_window: seconds refused codes are counted over.
        enroll_lockout: seconds an address stays locked out of enrollment.
        body_timeout: seconds to wait for the next part of a request body.
        import_body: bytes an import file sent over HTTP may have (``POST
            /admin/v1/import/...``; other bodies are limited to ``app.MAX_BODY``).
    """

    address_rate: float = 2_000.0
    address_burst: int = 4_000
    terminal_rate: float = 200.0
    terminal_burst: int = 1_000
    enroll_rate: float = 5.0
    enroll_burst: int = 300
    enroll_failures: int = 10
    enroll_window: int = 600
    enroll_lockout: int = 900
    body_timeout: float = 10.0
    import_body: int = 256 * 1024 * 1024


class Buckets:
    """Token buckets by key (an address, a terminal), in memory, safe across threads.

    Each key holds up to ``burst`` tokens and gains ``rate`` a second; a
    request takes one. At most ``max_keys`` keys are kept: past that, the
    full (idle) buckets are forgotten, which costs nobody anything.
    """

    def __init__(
        self, rate: float, burst: int, clock: Monotonic = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate, self.burst, self.clock, self.max_keys = rate, burst, clock, max_keys
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when granted, else the seconds until one is due."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, then = self._tokens.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens < 1:
                self._tokens[key] = (tokens, now)
                return (1 - tokens) / self.rate
            if key not in self._tokens and len(self._tokens) >= self.max_keys:
                self._forget_idle(now)
            self._tokens[key] = (tokens - 1, now)
            return 0.0

    def check(self, key: str, code: str = "rate-limited") -> None:
        """Take a token for ``key``.

        Raises:
            RateLimitedError: none left; ``retry_after`` says when one is due.
        """
        wait = self.take(key)
        if wait:
            raise RateLimitedError(code, "too many requests; slow down", math.ceil(wait))

    def _forget_idle(self, now: float) -> None:
        full = [k for k, (t, then) in self._tokens.items() if t + (now - then) * self.rate >= 1]
        for key in full or list(self._tokens)[: len(self._tokens) // 2]:
            del self._tokens[key]


def client_address(scope: Mapping[str, Any]) -> str:
    """The caller's address as the server sees it (``unknown`` when the server does not say)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def check_lockout(conn: Connection, address: str, now: datetime) -> None:
    """Refuse an address locked out of enrollment.

    Raises:
        RateLimitedError: 429 ``enroll-locked`` until the lockout ends.
    """
    until = conn.execute(
        select(enroll_lockouts.c.locked_until).where(enroll_lockouts.c.address == address)
    ).scalar()
    if until is not None and until > iso(now):
        wait = (datetime.fromisoformat(until) - now).total_seconds()
        raise RateLimitedError(
            "enroll-locked",
            f"too many wrong enrollment codes from this address; locked until {until}",
            math.ceil(wait),
        )


def record_failure(conn: Connection, address: str, now: datetime, limits: ServerLimits) -> bool:
    """Count a refused enrollment code from ``address``; True when it is now locked out."""
    row = conn.execute(select(enroll_lockouts).where(enroll_lockouts.c.address == address)).first()
    window_start = iso(now - timedelta(seconds=limits.enroll_window))
    if row is None or row.window_started_at <= window_start:
        values: dict[str, Any] = {"failures": 1, "window_started_at": iso(now)}
    else:
        values = {"failures": row.failures + 1}
    values["last_failure_at"] = iso(now)
    locked: bool = values["failures"] >= limits.enroll_failures > 0
    if locked:
        values["locked_until"] = iso(now + timedelta(seconds=limits.enroll_lockout))
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(enroll_lockouts.insert().values(address=address, **values))
        except IntegrityError:  # another process counted this address's first failure
            conn.execute(
                update(enroll_lockouts)
                .where(enroll_lockouts.c.address == address)
                .values(failures=enroll_lockouts.c.failures + 1, last_failure_at=iso(now))
            )
    else:
        conn.execute(
            update(enroll_lockouts).where(enroll_lockouts.c.address == address).values(**values)
        )
    return locked


def list_lockouts(
    conn: Connection, now: datetime, *, everything: bool = False
) -> list[dict[str, Any]]:
    """Addresses locked out of enrollment now (``everything``: every address with failures)."""
    query = select(enroll_lockouts).order_by(enroll_lockouts.c.address)
    if not everything:
        query = query.where(enroll_lockouts.c.locked_until > iso(now))
    return [dict(row._mapping) for row in conn.execute(query)]


def clear_lockouts(conn: Connection, addresses: list[str] | None = None) -> int:
    """Forget the failures and lockouts of ``addresses`` (all when None); how many rows went."""
    statement = delete(enroll_lockouts)
    if addresses is not None:
        statement = statement.where(enroll_lockouts.c.address.in_(addresses))
    return int(conn.execute(statement).rowcount)

"""Enrollment: a one-time code becomes this terminal's credential; server health.

``POST /v1/enroll`` is not idempotent (a code works once), so it is retried
only when the request surely never reached the server. The server's refusals
become :class:`~clubcore.errors.EnrollmentError` with a message a technician
can act on.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any

from clubcore.errors import (
    EnrollmentError,
    ProtocolError,
    ServerRejectedError,
    TerminalRevokedError,
)
from sync.credentials import Credential
from sync.http import SyncClient

__all__ = ["Health", "check_health", "device_info", "enroll", "normalize_code"]

_MESSAGES = {
    "invalid-code": "the enrollment code is malformed (expected XXXX-XXXX-XXXX)",
    "unknown-code": "the server does not know this enrollment code",
    "code-used": "this enrollment code was used already; a code works once",
    "code-expired": "this enrollment code has expired",
}
_HINT = "ask the club operator for a new code ('club-server terminal add --store STORE')"


@dataclass(frozen=True, slots=True)
class Health:
    """The server's ``/v1/health`` answer."""

    version: str
    server_time: datetime
    skew_seconds: float


def device_info() -> dict[str, str]:
    """What the terminal tells the server about itself at enrollment."""
    try:
        version = metadata.version("club-terminal")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"hostname": platform.node() or "unknown", "version": version}


def normalize_code(code: str) -> str:
    """The code as the server expects it: upper case, no spaces, dashes every 4 letters."""
    letters = re.sub(r"[\s-]", "", code).upper()
    if len(letters) == 12:
        return "-".join(letters[i : i + 4] for i in range(0, 12, 4))
    return code.strip().upper()


def _parse_time(value: object, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ProtocolError(f"{what}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ProtocolError(f"{what}: {value!r} has no UTC offset")
    return parsed


def check_health(client: SyncClient, now: datetime) -> Health:
    """Ask the server how it is, and measure the clock skew.

    Arguments:
        client: a client (no credential needed).
        now: this terminal's time (timezone-aware).

    Returns:
        the server's version, time and ``server - terminal`` skew in seconds.

    Raises:
        ServerUnreachableError, ProtocolError: as :meth:`SyncClient.request`.
    """
    data = client.get_json("/v1/health", deadline=30)
    if data.get("status") != "ok":
        raise ProtocolError(f"GET /v1/health: unexpected status {data.get('status')!r}")
    server_time = _parse_time(data.get("time"), "GET /v1/health time")
    return Health(
        version=str(data.get("version", "unknown")),
        server_time=server_time,
        skew_seconds=(server_time - now).total_seconds(),
    )


def enroll(client: SyncClient, code: str, device: dict[str, str] | None = None) -> Credential:
    """Exchange a one-time enrollment code for this terminal's credential.

    Arguments:
        client: a client without a credential.
        code: ``XXXX-XXXX-XXXX`` as the operator gave it (case and spaces do not matter).
        device: hostname and version [default: :func:`device_info`].

    Returns:
        the credential (not saved yet: see :func:`sync.credentials.save`).

    Raises:
        EnrollmentError: the code is malformed, unknown, used or expired.
        TerminalRevokedError: the terminal of this code was revoked.
        ServerUnreachableError: no answer; the code may or may not be used now.
        ProtocolError: the answer is not what the protocol says.
    """
    body = {"code": normalize_code(code), "device": device or device_info()}
    try:
        data = client.post_json("/v1/enroll", body, retry_post=False, deadline=60)
    except TerminalRevokedError:
        raise
    except ServerRejectedError as exc:
        message = _MESSAGES.get(exc.code)
        if message is None:
            raise
        raise EnrollmentError(message, code=exc.code, status=exc.status, hint=_HINT) from exc
    return _credential(client.base_url, data)


def _credential(server_url: str, data: dict[str, Any]) -> Credential:
    fields = {key: data.get(key) for key in ("terminal_id", "store_id", "credential")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise ProtocolError("POST /v1/enroll: the answer lacks terminal_id, store_id or credential")
    token = str(fields["credential"])
    if not token.startswith(f"{fields['terminal_id']}."):
        raise ProtocolError("POST /v1/enroll: the credential does not belong to the terminal id")
    return Credential(
        server_url=server_url,
        terminal_id=str(fields["terminal_id"]),
        store_id=str(fields["store_id"]),
        token=token,
    )

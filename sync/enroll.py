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

from clubcore import wire
from clubcore.errors import EnrollmentError, ServerRejectedError, TerminalRevokedError
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


def check_health(client: SyncClient, now: datetime) -> Health:
    """Ask the server how it is, and measure the clock skew.

    Arguments:
        client: a client (no credential needed).
        now: this terminal's time (timezone-aware).

    Returns:
        the server's version, time and ``server - terminal`` skew in seconds.

    Raises:
        ServerUnreachableError: as :meth:`SyncClient.request`.
        ProtocolError: the answer is not :class:`clubcore.wire.Health`.
    """
    answer = client.get_model("/v1/health", wire.Health, deadline=30)
    return Health(
        version=answer.version,
        server_time=answer.time,
        skew_seconds=(answer.time - now).total_seconds(),
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
    info: dict[str, Any] = dict(device or device_info())
    request = wire.EnrollRequest.model_construct(  # validated by the server (422)
        code=normalize_code(code), device=wire.DeviceInfo.model_construct(None, **info)
    )
    try:
        answer = client.post_model(
            "/v1/enroll", request.model_dump(), wire.EnrollResponse, retry_post=False, deadline=60
        )
    except TerminalRevokedError:
        raise
    except ServerRejectedError as exc:
        message = _MESSAGES.get(exc.code)
        if message is None:
            raise
        raise EnrollmentError(message, code=exc.code, status=exc.status, hint=_HINT) from exc
    return Credential(
        server_url=client.base_url,
        terminal_id=answer.terminal_id,
        store_id=answer.store_id,
        token=answer.credential,
    )

"""Provisioning a terminal in one call, and the client of a provisioned terminal.

:func:`provision` checks the server (health, protocol version, clock skew),
enrolls with a one-time code (the credential is saved at once, so a snapshot
that fails can be retried without a new code: call again with ``code=None``),
loads the snapshot and swaps it in with the terminal's identity in settings.

Policy for a terminal that already holds sales: re-provisioning keeps every
local record (see :mod:`sync.snapshot`), but is refused while outbox entries
wait to be pushed, unless ``force``: a new enrollment gives a new terminal id,
and the server accepts a sale only from the terminal that recorded it. Forced,
those entries are kept and later set aside (refused locally) and reported by
the relay, never lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from clubcore.errors import ConfigError, SyncError
from clubcore.settings import CA_BUNDLE, PROVISIONED_AT, SERVER_URL, STORE_ID, TERMINAL_ID
from offline_store.db import DB_FILENAME, open_db
from offline_store.settings import read_settings
from sync import credentials
from sync.credentials import Credential
from sync.enroll import Health, check_health, enroll
from sync.http import DEFAULT_POLICY, RetryPolicy, SyncClient
from sync.push import outbox_counts
from sync.snapshot import Progress, SnapshotResult, load_snapshot

__all__ = [
    "CA_BUNDLE_KEY",
    "SERVER_URL_KEY",
    "ProvisionResult",
    "open_client",
    "provision",
]

SERVER_URL_KEY = SERVER_URL.key
CA_BUNDLE_KEY = CA_BUNDLE.key


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    """What :func:`provision` did."""

    credential: Credential
    health: Health
    snapshot: SnapshotResult
    enrolled: bool


def _unsent(data_dir: Path) -> int:
    path = data_dir / DB_FILENAME
    if not path.exists():
        return 0
    db = open_db(path)
    try:
        return outbox_counts(db).pending
    finally:
        db.close()


def _credential(client: SyncClient, data_dir: Path, code: str | None) -> tuple[Credential, bool]:
    """Enroll with ``code`` and save the credential, or reuse the saved one."""
    if code is not None:
        credential = enroll(client, code)
        credentials.save(data_dir, credential)
        return credential, True
    credential = credentials.load_credential(data_dir)
    if credential.server_url != client.base_url:
        raise ConfigError(
            "server",
            f"this terminal is enrolled with {credential.server_url}, not {client.base_url}",
            hint="pass --code with a new enrollment code for that server",
        )
    return credential, False


def provision(
    data_dir: Path,
    server_url: str,
    code: str | None,
    *,
    ca_bundle: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    policy: RetryPolicy = DEFAULT_POLICY,
) -> ProvisionResult:
    """Enroll (or reuse the saved credential) and load the snapshot.

    Arguments:
        data_dir: the terminal's data directory (created if needed); no
            connection to its database may be open.
        server_url: ``https://host[:port]``.
        code: the one-time enrollment code; None reuses the saved credential.
        ca_bundle: a PEM file of CAs to trust for this server.
        force: re-provision although sales wait to be pushed (they are kept).
        progress: snapshot progress, (entity, done, total).
        clock: this terminal's clock (for the skew measurement).
        policy: the retry policy.

    Returns:
        the credential, the server's health, the snapshot loaded, and whether
        a code was used.

    Raises:
        SyncError: sales wait to be pushed and ``force`` is not set.
        EnrollmentError: the code is malformed, unknown, used or expired.
        ServerUnreachableError: no answer, or TLS failed.
        ConfigError: a bad URL or CA bundle, or no saved credential without a code.
        ProtocolError, ServerRejectedError, TerminalRevokedError, StoreError:
            as :func:`sync.snapshot.load_snapshot`.
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError("data_dir", f"cannot create {data_dir}: {exc.strerror}") from exc
    waiting = _unsent(data_dir)
    if waiting and not force:
        raise SyncError(
            f"{waiting} sale(s) on this terminal wait to be pushed to the club server",
            hint="run 'club-terminal sync --once' first, or pass --force to keep them aside",
        )
    bundle = ca_bundle.resolve() if ca_bundle is not None else None
    with SyncClient(server_url, ca_bundle=bundle, policy=policy) as client:
        health = check_health(client, clock())
        credential, enrolled = _credential(client, data_dir, code)
    settings: dict[str, object] = {
        TERMINAL_ID.key: credential.terminal_id,
        STORE_ID.key: credential.store_id,
        SERVER_URL_KEY: credential.server_url,
        PROVISIONED_AT.key: clock().isoformat(),
    }
    if bundle is not None:
        settings[CA_BUNDLE_KEY] = str(bundle)
    with SyncClient(
        server_url, credential=credential.token, ca_bundle=bundle, policy=policy
    ) as client:
        snapshot = load_snapshot(client, data_dir, settings=settings, progress=progress)
    return ProvisionResult(credential, health, snapshot, enrolled)


def open_client(
    db: sqlite_utils.Database, data_dir: Path, *, policy: RetryPolicy = DEFAULT_POLICY
) -> SyncClient:
    """A client for this provisioned terminal: server and CA bundle from settings, credential file.

    Raises:
        ConfigError: the terminal is not provisioned, or the credential file
            is missing, readable by others or malformed.
    """
    settings = read_settings(db)
    server = settings.server_url
    if not server:
        raise ConfigError(
            SERVER_URL_KEY,
            "this terminal is not provisioned with a club server",
            hint="run 'club-terminal provision --server URL --code CODE'",
        )
    credential = credentials.load_credential(data_dir)
    bundle = settings.ca_bundle
    return SyncClient(server, credential=credential.token, ca_bundle=bundle, policy=policy)

"""A provisioned terminal's lifecycle: rotating its credential, decommissioning it.

Re-provisioning is :func:`sync.provision.provision` (``club-terminal
provision`` without ``--code`` reuses the saved credential).

:func:`rotate_credential` asks the server for a new credential with the
current one (``POST /v1/credential/rotate``), writes it over the credential
file atomically (mode 0600, :func:`sync.credentials.save`), spends it once on
the same route (which makes it the terminal's only credential) and proves it
with an authenticated GET. Every step may be repeated: run it again after a
crash and it finishes the rotation (see ``docs/sync-protocol.md``,
"Lifecycle").

:func:`decommission` pushes the outbox, revokes the terminal on the server
(``POST /v1/decommission``) and removes the terminal's local files: the
database (with its WAL and any half-loaded snapshot), the credential and the
demo cards. It refuses while sales are left unpushed, unless ``force``. It
needs the server: a terminal that cannot reach it is not wiped (an operator
can revoke it with ``club-server terminal revoke``; then decommissioning
finds it revoked and wipes).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from clubcore.errors import (
    ProtocolError,
    ServerUnreachableError,
    SyncError,
    TerminalRevokedError,
)
from clubcore.wire import Decommissioned, Rotation, RotationActive, RotationPending
from offline_store.db import DB_FILENAME, open_db
from offline_store.settings import read_settings
from sync import credentials
from sync.credentials import CREDENTIAL_FILENAME, Credential
from sync.http import DEFAULT_POLICY, RetryPolicy, SyncClient
from sync.push import outbox_counts
from sync.worker import push_now

__all__ = [
    "DecommissionResult",
    "RotationResult",
    "decommission",
    "local_files",
    "rotate_credential",
]

#: ``terminal.demo_cards.DEMO_CARDS_FILE`` (not imported: sync sits below the terminal app)
DEMO_CARDS_FILE = "demo-cards.json"
ROTATE_PATH = "/v1/credential/rotate"
DECOMMISSION_PATH = "/v1/decommission"
#: files of the data directory that decommissioning removes (member data, secrets)
_WIPED = (
    DB_FILENAME,
    DB_FILENAME + "-wal",
    DB_FILENAME + "-shm",
    DB_FILENAME + "-journal",
    DB_FILENAME + ".provisioning",
    DB_FILENAME + ".provisioning-wal",
    DB_FILENAME + ".provisioning-shm",
    DB_FILENAME + ".provisioning-journal",
    CREDENTIAL_FILENAME,
    CREDENTIAL_FILENAME + ".tmp",
    DEMO_CARDS_FILE,
)


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What :func:`rotate_credential` did."""

    terminal_id: str
    path: Path
    #: True when this run only finished a rotation an earlier run had saved
    resumed: bool


@dataclass(frozen=True, slots=True)
class DecommissionResult:
    """What :func:`decommission` did."""

    terminal_id: str
    pushed: int
    #: sales left unpushed (only with ``force``)
    abandoned: int
    #: True when the server had revoked the terminal already
    already_revoked: bool
    removed: list[Path] = field(default_factory=list)
    #: other files left in the data directory (not ours; listed for the technician)
    left: list[Path] = field(default_factory=list)


def _server(data_dir: Path) -> tuple[str, str | None]:
    """The server URL and CA bundle from the terminal's settings (else the credential file)."""
    path = data_dir / DB_FILENAME
    if not path.exists():
        return credentials.load_credential(data_dir).server_url, None
    db = open_db(path)
    try:
        settings = read_settings(db)
        server = settings.server_url or credentials.load_credential(data_dir).server_url
        return server, settings.ca_bundle
    finally:
        db.close()


def _client(server: str, bundle: str | None, token: str, policy: RetryPolicy) -> SyncClient:
    return SyncClient(server, credential=token, ca_bundle=bundle, policy=policy)


def rotate_credential(data_dir: Path, *, policy: RetryPolicy = DEFAULT_POLICY) -> RotationResult:
    """Replace this terminal's credential with a new one from the server.

    Arguments:
        data_dir: the terminal's data directory (provisioned).
        policy: the retry policy of each call.

    Returns:
        the terminal id, the credential file, and whether an earlier run's
        saved credential was only activated now.

    Raises:
        ConfigError: not provisioned, or the credential file is unusable.
        ServerUnreachableError: no answer (nothing changed that a rerun does not finish).
        ServerRejectedError: 401, the credential is not accepted.
        TerminalRevokedError: the terminal was revoked.
        ProtocolError: the server's answer is not what the protocol says.
    """
    current = credentials.load_credential(data_dir)
    server, bundle = _server(data_dir)
    with _client(server, bundle, current.token, policy) as client:
        answer = client.post_model(ROTATE_PATH, {}, Rotation, retry_post=True).root
    resumed = isinstance(answer, RotationActive)  # the saved credential was the pending one
    if isinstance(answer, RotationPending):
        if not answer.credential.startswith(current.terminal_id + "."):
            raise ProtocolError(
                f"POST {ROTATE_PATH}: the answer holds no credential for this terminal"
            )
        new = Credential(
            current.server_url, current.terminal_id, current.store_id, answer.credential
        )
        credentials.save(data_dir, new)
        with _client(server, bundle, new.token, policy) as client:
            confirmed = client.post_model(ROTATE_PATH, {}, Rotation, retry_post=True).root
        if not isinstance(confirmed, RotationActive):
            raise ProtocolError(f"POST {ROTATE_PATH}: the new credential was not activated")
    saved = credentials.load_credential(data_dir)
    with _client(server, bundle, saved.token, policy) as client:
        client.get_json("/v1/changes", params={"after": 0, "limit": 1})
    return RotationResult(saved.terminal_id, data_dir / CREDENTIAL_FILENAME, resumed)


def local_files(data_dir: Path) -> list[Path]:
    """The files :func:`decommission` would remove now (those that exist)."""
    return [data_dir / name for name in _WIPED if (data_dir / name).exists()]


def _push(data_dir: Path, client: SyncClient) -> tuple[int, int, int]:
    """Push the outbox; ``(pushed, pending, set aside)`` after (server errors are swallowed).

    Held sales are not counted: the club stored them, decommissioning loses nothing.
    """
    path = data_dir / DB_FILENAME
    if not path.exists():
        return 0, 0, 0
    db = open_db(path)
    try:
        pushed = 0
        if outbox_counts(db).pending:
            with contextlib.suppress(SyncError):  # counted below as still pending
                result = push_now(client, db)
                pushed = result.created + result.held
        counts = outbox_counts(db)
        return pushed, counts.pending, counts.refused
    finally:
        db.close()


def decommission(
    data_dir: Path, *, force: bool = False, policy: RetryPolicy = DEFAULT_POLICY
) -> DecommissionResult:
    """Push the outbox, revoke this terminal on the server, and remove its local data.

    Arguments:
        data_dir: the terminal's data directory; no connection to its
            database may be open.
        force: go on although sales could not be pushed (they are lost to
            the club) or were set aside.
        policy: the retry policy of each call.

    Returns:
        what was pushed, abandoned and removed.

    Raises:
        ConfigError: not provisioned (no credential file).
        SyncError: sales are left unpushed or set aside and not ``force``
            (nothing is revoked or removed).
        ServerUnreachableError: the server did not answer (nothing is removed).
        ServerRejectedError: the server refused the credential (nothing is removed).
    """
    credential = credentials.load_credential(data_dir)
    server, bundle = _server(data_dir)
    with _client(server, bundle, credential.token, policy) as client:
        pushed, pending, refused = _push(data_dir, client)
        if (pending or refused) and not force:
            raise SyncError(
                f"{pending} sale(s) could not be pushed to the club server and "
                f"{refused} were set aside; decommissioning would lose them",
                hint="run 'club-terminal sync --once' and fix what it reports, "
                "or pass --force to lose them",
            )
        already = False
        try:
            client.post_model(DECOMMISSION_PATH, {}, Decommissioned, retry_post=True)
        except TerminalRevokedError:
            already = True  # revoked by an operator, or by an earlier run that crashed
        except ServerUnreachableError as exc:
            raise ServerUnreachableError(
                f"{exc.message}; the terminal was not revoked and nothing was removed",
                hint="decommissioning needs the club server; or ask the operator to run "
                f"'club-server terminal revoke {credential.terminal_id}', then run this again",
            ) from exc
    removed: list[Path] = []
    for path in local_files(data_dir):
        path.unlink(missing_ok=True)
        removed.append(path)
    left = sorted(p for p in data_dir.iterdir()) if data_dir.is_dir() else []
    return DecommissionResult(
        credential.terminal_id, pushed, pending + refused, already, removed, left
    )

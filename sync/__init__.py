"""The terminal's side of the sync protocol (docs/sync-protocol.md).

Modules, each usable on its own:

| module | what it does |
|---|---|
| :mod:`sync.http` | :class:`SyncClient`: timeouts, retries, deadlines, TLS, errors |
| :mod:`sync.credentials` | the terminal credential in a 0600 file in the data directory |
| :mod:`sync.enroll` | one-time code -> credential; server health and clock skew |
| :mod:`sync.entities` | the synced tables (from :mod:`clubcore.wire_rows`) as SQL |
| :mod:`sync.snapshot` | provisioning: streamed pages into a new database, swapped in |
| :mod:`sync.snapshot_pages` | the snapshot's page reader thread (gzip pages, resumed if cut) |
| :mod:`sync.provision` | enroll + snapshot in one call; the client of a provisioned terminal |
| :mod:`sync.pull` | the delta puller: pages of changes and the cursor in one transaction |
| :mod:`sync.push` | the outbox relay: sales pushed in batches, per-item results recorded |
| :mod:`sync.status` | the status the UI shows (online, backlog, last success, last error) |
| :mod:`sync.worker` | one round (:func:`sync_once`) and the background threads |

The messages are :mod:`clubcore.wire`'s models; every answer is checked with
its model (:func:`sync.http.parse_answer`: a ValidationError becomes a
ProtocolError). Nothing here imports Kivy; errors are those of
:mod:`clubcore.errors`.
"""

from __future__ import annotations

from sync.credentials import Credential, load_credential
from sync.enroll import Health, check_health, enroll
from sync.http import RetryPolicy, SyncClient, Timeouts
from sync.provision import ProvisionResult, open_client, provision
from sync.pull import PullResult, apply_page, get_cursor, pull_changes
from sync.push import PushResult, outbox_counts, push_outbox
from sync.snapshot import SnapshotResult, load_snapshot
from sync.status import StatusBoard, SyncStatus
from sync.worker import RoundResult, SyncWorker, push_now, sync_once

__all__ = [
    "Credential",
    "Health",
    "ProvisionResult",
    "PullResult",
    "PushResult",
    "RetryPolicy",
    "RoundResult",
    "SnapshotResult",
    "StatusBoard",
    "SyncClient",
    "SyncStatus",
    "SyncWorker",
    "Timeouts",
    "apply_page",
    "check_health",
    "enroll",
    "get_cursor",
    "load_credential",
    "load_snapshot",
    "open_client",
    "outbox_counts",
    "provision",
    "pull_changes",
    "push_now",
    "push_outbox",
    "sync_once",
]

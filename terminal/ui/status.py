"""What the status bar shows about sync and readers, as small immutable values.

The sync client publishes :class:`sync.status.SyncStatus`; the status bar
only needs the fields of :class:`SyncStatusView`, so any object with them
fits (the sync client's status, or :class:`LocalSyncStatus` built from the
local outbox when no sync client runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlite_utils

from offline_store.outbox import outbox_counts
from offline_store.settings import read_settings

__all__ = ["LocalSyncStatus", "SyncPanel", "SyncStatusView", "local_status"]

#: the setting a provisioned terminal holds (written by the sync client)


class SyncStatusView(Protocol):
    """The sync state the UI reads (``sync.status.SyncStatus`` satisfies it)."""

    @property
    def online(self) -> bool | None: ...  # None: not tried yet

    @property
    def pending(self) -> int: ...

    @property
    def refused(self) -> int: ...  # sales the server refused, kept aside

    @property
    def held(self) -> int: ...  # sales the server stored, their points held for review

    @property
    def last_success(self) -> datetime | None: ...

    @property
    def offline_since(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class LocalSyncStatus:
    """A status from the local store alone: no sync client is running."""

    online: bool | None = None
    pending: int = 0
    refused: int = 0
    held: int = 0
    last_success: datetime | None = None
    offline_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SyncPanel:
    """Everything the status bar and technician screen show about sync."""

    status: SyncStatusView
    provisioned: bool
    server_url: str
    terminal_id: str
    store_id: str


def local_status(db: sqlite_utils.Database) -> LocalSyncStatus:
    """The outbox backlog, with connectivity unknown."""
    counts = outbox_counts(db)
    return LocalSyncStatus(pending=counts.pending, refused=counts.refused, held=counts.held)


def provisioned_url(db: sqlite_utils.Database) -> str:
    """The club server this terminal was provisioned against, or ``""``."""
    return read_settings(db).server_url or ""

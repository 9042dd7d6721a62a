"""One terminal, one process of each kind: an exclusive lock per role on the data directory.

A kiosk runs the app (``club-terminal run``) and the sync service
(``club-terminal sync``) side by side on one data directory, and that is
right; a second app window or a second sync daemon on the same directory is
not (two relays pushing one outbox, two apps selling from one lane). Each
role takes ``<data_dir>/<role>.lock`` with ``flock`` for as long as the
process lives, and writes its pid, command and start time in it; a second
process of the same role is refused with a message naming the first. The
kernel drops the lock when the process ends, however it ends (``kill -9``
included), so a stale file never blocks anyone.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from clubcore.errors import AlreadyRunningError

__all__ = ["exclusive"]


@contextmanager
def exclusive(data_dir: Path, role: str) -> Iterator[None]:
    """Hold ``role``'s lock on ``data_dir`` for the block.

    Raises:
        AlreadyRunningError: another live process holds it (the message names it).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{role}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            unit = "club-terminal-sync" if role == "sync" else "club-terminal"
            raise AlreadyRunningError(
                f"{holder} is already using {data_dir} as the terminal's {role}",
                hint=f"one {role} per data directory: stop that one first (a kiosk runs it "
                f"as a service: 'systemctl status {unit}')",
            ) from None
        os.ftruncate(fd, 0)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        command = " ".join(["club-terminal", *sys.argv[1:]])[:200]
        os.pwrite(fd, f"pid {os.getpid()} ({command}, since {started})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock

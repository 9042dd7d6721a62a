"""``club-terminal doctor``: what is wrong with this terminal, in one command.

Each check looks at one thing and returns a :class:`Check`: its name, a status
(``ok``, ``warn``, ``fail`` or ``skip``), what it found, and a hint saying
how to fix it. The doctor never writes: the terminal's database is opened
read-only (``mode=ro``), the club server is only asked ``GET`` questions.

Checks, in order: the database's ``PRAGMA integrity_check``; pcscd and its
readers; nfcpy USB devices (permissions, kernel modules that claim them);
keyboard-wedge input devices; the club server (reachable, valid TLS, clock
skew under :data:`MAX_SKEW_SECONDS`); the credential (an authenticated
``GET /v1/changes``); the cached data's age against ``offline.max_age_hours``;
the outbox backlog; free disk space in the data directory.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import sqlite_utils

from clubcore.errors import (
    ConfigError,
    ProtocolError,
    ReaderUnavailableError,
    ServerRejectedError,
    ServerUnreachableError,
    SyncError,
    TerminalRevokedError,
)
from clubcore.settings import MAX_AGE_HOURS, READERS, Settings
from offline_store import outbox
from offline_store.db import DB_FILENAME, integrity_problems, not_writable
from offline_store.settings import read_settings
from sync.enroll import check_health
from sync.http import RetryPolicy
from sync.provision import open_client

__all__ = [
    "CHECKS",
    "MAX_SKEW_SECONDS",
    "Check",
    "Context",
    "Status",
    "run_checks",
]

Status = Literal["ok", "warn", "fail", "skip"]

#: the clock may differ from the server's by less than this
MAX_SKEW_SECONDS = 120.0
#: outbox entries waiting: warn above, fail above
OUTBOX_WARN, OUTBOX_FAIL = 500, 5000
#: free bytes in the data directory: fail below, warn below
DISK_FAIL, DISK_WARN = 200 * 1024**2, 1024**3
#: the doctor does not wait through the sync workers' long retries
DOCTOR_POLICY = RetryPolicy(attempts=2, base=0.2, cap=0.5, deadline=15.0)

_PROVISION_HINT = "run 'club-terminal provision --server URL --code CODE'"


@dataclass(frozen=True, slots=True)
class Check:
    """One check's finding."""

    name: str
    status: Status
    detail: str
    hint: str = ""

    @property
    def ok(self) -> bool:
        """False only for a failed check (warnings and skips are not failures)."""
        return self.status != "fail"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, with ``ok``."""
        return {**asdict(self), "ok": self.ok}


@dataclass(frozen=True, slots=True)
class Context:
    """What the checks look at."""

    data_dir: Path
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    policy: RetryPolicy = DOCTOR_POLICY

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME


@contextmanager
def _read_only(ctx: Context) -> Iterator[sqlite_utils.Database]:
    """The terminal database, opened read-only (the doctor never writes)."""
    conn = sqlite3.connect(f"file:{ctx.db_path}?mode=ro", uri=True, isolation_level=None)
    try:
        yield sqlite_utils.Database(conn)
    finally:
        conn.close()


def _settings(ctx: Context) -> Settings:
    """The terminal's settings; none at all when the database cannot be read."""
    if not ctx.db_path.is_file():
        return Settings({})
    try:
        with _read_only(ctx) as db:
            return read_settings(db)
    except sqlite3.DatabaseError:
        return Settings({})


# -- local checks ---------------------------------------------------------------------


def check_database(ctx: Context) -> Check:
    """``PRAGMA integrity_check`` on the terminal's database."""
    name = "database"
    if not ctx.db_path.is_file():
        return Check(name, "fail", f"{ctx.db_path} does not exist", _PROVISION_HINT)
    unwritable = not_writable(ctx.data_dir)
    if unwritable:
        return Check(
            name,
            "fail",
            f"{ctx.data_dir} is not writable ({unwritable}): the terminal cannot record sales",
            f"remount it read-write ('findmnt {ctx.data_dir}'), or give it back to the "
            "terminal's user ('chown -R clubterm: DIR', mode 0700); the data in it is intact",
        )
    hint = (
        "stop the terminal, keep a copy of the file, re-provision into an empty data "
        "directory; sales not yet pushed are in the copy's outbox"
    )
    try:
        with _read_only(ctx) as db:
            rows = integrity_problems(db)
    except sqlite3.DatabaseError as exc:
        return Check(name, "fail", f"{ctx.db_path} is damaged: {exc}", hint)
    if rows:
        return Check(name, "fail", f"{ctx.db_path} is damaged: {'; '.join(rows[:5])}", hint)
    return Check(name, "ok", f"{ctx.db_path}: integrity ok")


def _reader_paths(ctx: Context) -> list[str]:
    settings = _settings(ctx)
    return list(settings.readers) if settings.is_set(READERS.key) else []


def check_pcsc(ctx: Context) -> Check:
    """pcscd answers, and lists at least one reader."""
    name = "pcsc"
    paths = _reader_paths(ctx)
    if paths and not any(path.split(":")[0] == "pcsc" for path in paths):
        return Check(name, "skip", "no pcsc reader in the 'readers' setting")
    from terminal.readers.pcsc import list_readers

    try:
        readers = list_readers()
    except ReaderUnavailableError as exc:
        return Check(name, "fail", exc.message, exc.hint or "")
    if not readers:
        return Check(
            name, "warn", "pcscd runs but sees no reader", "plug the reader in; check 'lsusb'"
        )
    return Check(name, "ok", f"pcscd runs; readers: {', '.join(readers)}")


def check_nfc(ctx: Context) -> Check:
    """nfcpy USB readers: accessible, not claimed by a kernel module."""
    from terminal.readers.nfc import list_devices

    devices = list_devices(probe=False)
    broken = [device for device in devices if not device["usable"]]
    if broken:
        detail = "; ".join(f"{d['path']}: {d['problem']}" for d in broken)
        return Check("nfc", "fail", detail, broken[0]["hint"])
    if not devices:
        return Check("nfc", "ok", "no nfcpy USB reader plugged in")
    return Check("nfc", "ok", f"usable: {', '.join(d['path'] for d in devices)}")


def check_wedge(ctx: Context) -> Check:
    """Keyboard-wedge scanners: readable by this user."""
    from terminal.readers.wedge import list_devices

    try:
        devices = list_devices()
    except OSError as exc:
        return Check("wedge", "warn", f"cannot list input devices: {exc}")
    wanted = any(path.split(":")[0] == "wedge" for path in _reader_paths(ctx))
    blocked = [device for device in devices if device["problem"]]
    if blocked:
        status: Status = "fail" if wanted and len(blocked) == len(devices) else "warn"
        detail = "; ".join(f"{d['path']}: {d['problem']}" for d in blocked[:3])
        return Check("wedge", status, detail, blocked[0]["hint"])
    scanners = [device["path"] for device in devices if device["looks_like_scanner"]]
    if not devices:
        return Check("wedge", "warn" if wanted else "ok", "no keyboard-type input device")
    return Check("wedge", "ok", f"{len(devices)} input device(s); scanners: {scanners or 'none'}")


# -- the club server ------------------------------------------------------------------


def _not_provisioned(ctx: Context) -> bool:
    return not _settings(ctx).provisioned


def check_server(ctx: Context) -> Check:
    """The club server answers ``/v1/health`` over valid TLS, and the clocks agree."""
    name = "server"
    if _not_provisioned(ctx):
        return Check(name, "skip", "not provisioned: no club server configured", _PROVISION_HINT)
    try:
        with _read_only(ctx) as db, open_client(db, ctx.data_dir, policy=ctx.policy) as client:
            health = check_health(client, ctx.clock())
    except (ConfigError, SyncError) as exc:
        return Check(name, "fail", exc.message, exc.hint or "")
    except sqlite3.DatabaseError as exc:
        return Check(name, "fail", f"cannot read the settings: {exc}", "see the database check")
    skew = health.skew_seconds
    if abs(skew) >= MAX_SKEW_SECONDS:
        ahead = "behind" if skew > 0 else "ahead of"
        return Check(
            name,
            "fail",
            f"this terminal's clock is {abs(skew):.0f} s {ahead} the server's",
            "set the clock right: 'timedatectl set-ntp true' (NTP), then check 'timedatectl'",
        )
    return Check(
        name, "ok", f"{client.base_url} answers (version {health.version}, skew {skew:+.1f} s)"
    )


def check_credential(ctx: Context) -> Check:
    """The server accepts this terminal's credential (``GET /v1/changes``)."""
    name = "credential"
    if _not_provisioned(ctx):
        return Check(name, "skip", "not provisioned", _PROVISION_HINT)
    try:
        with _read_only(ctx) as db, open_client(db, ctx.data_dir, policy=ctx.policy) as client:
            cursor = _cursor(db)
            client.get_json("/v1/changes", {"after": cursor, "limit": 1}, deadline=15)
    except TerminalRevokedError as exc:
        return Check(name, "fail", exc.message, exc.hint or "")
    except ServerRejectedError as exc:
        hint = exc.hint or "re-provision with a new enrollment code"
        return Check(name, "fail", exc.message, hint)
    except (ServerUnreachableError, ProtocolError) as exc:
        return Check(name, "skip", f"cannot check: {exc.message}", "see the server check")
    except ConfigError as exc:
        return Check(name, "fail", exc.message, exc.hint or "")
    except sqlite3.DatabaseError as exc:
        return Check(name, "fail", f"cannot read the settings: {exc}", "see the database check")
    return Check(name, "ok", "the server accepts this terminal's credential")


def _cursor(db: sqlite_utils.Database) -> int:
    row = db.execute("SELECT cursor FROM sync_cursors WHERE stream = 'changes'").fetchone()
    return int(row[0]) if row else 0


# -- data age, outbox, disk ---------------------------------------------------------


def _max_age(ctx: Context) -> timedelta:
    try:
        hours = _settings(ctx).max_age_hours
    except ConfigError:  # the doctor reports, it does not stop on a bad setting
        hours = MAX_AGE_HOURS.default
    return timedelta(hours=hours)


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _last_refresh(db: sqlite_utils.Database) -> datetime | None:
    """The newest successful pull (``sync_cursors.updated_at``), else provisioning time."""
    row = db.execute("SELECT MAX(updated_at) FROM sync_cursors").fetchone()
    return _parse(row[0] if row else None) or _parse(read_settings(db).provisioned_at)


def check_cache_age(ctx: Context) -> Check:
    """The cached store data is younger than the offline policy's ``offline.max_age_hours``."""
    name = "cache age"
    if not ctx.db_path.is_file():
        return Check(name, "skip", "no database", "see the database check")
    try:
        with _read_only(ctx) as db:
            refreshed = _last_refresh(db)
    except sqlite3.DatabaseError as exc:
        return Check(name, "fail", f"cannot read the database: {exc}", "see the database check")
    if refreshed is None:
        return Check(name, "skip", "never synced with a club server", _PROVISION_HINT)
    age, limit = ctx.clock() - refreshed, _max_age(ctx)
    detail = f"data last refreshed {_hours(age)} ago (limit {_hours(limit)})"
    if age > limit:
        hint = "check the server and credential checks, then run 'club-terminal sync --once'"
        return Check(name, "fail", detail, hint)
    return Check(name, "ok", detail)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def check_outbox(ctx: Context) -> Check:
    """Sales waiting to be pushed: not too many, none older than the offline limit."""
    name = "outbox"
    if not ctx.db_path.is_file():
        return Check(name, "skip", "no database", "see the database check")
    try:
        with _read_only(ctx) as db:
            count, oldest = outbox.pending_summary(db)
    except sqlite3.DatabaseError as exc:
        return Check(name, "fail", f"cannot read the database: {exc}", "see the database check")
    hint = "check the server and credential checks, then run 'club-terminal sync --once'"
    detail = f"{count} entr{'y' if count == 1 else 'ies'} waiting to be pushed"
    since = _parse(oldest)
    if since is not None and ctx.clock() - since > _max_age(ctx):
        return Check(
            name, "fail", f"{detail}; the oldest since {_hours(ctx.clock() - since)}", hint
        )
    if count > OUTBOX_FAIL:
        return Check(name, "fail", f"{detail} (more than {OUTBOX_FAIL})", hint)
    if count > OUTBOX_WARN:
        return Check(name, "warn", f"{detail} (more than {OUTBOX_WARN})", hint)
    return Check(name, "ok", detail)


def check_disk(ctx: Context) -> Check:
    """Free space where the data directory is."""
    where = ctx.data_dir
    while not where.exists() and where.parent != where:  # not created yet: its file system
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError as exc:
        return Check("disk", "fail", f"cannot measure {ctx.data_dir}: {exc.strerror}")
    detail = f"{free / 1024**2:,.0f} MB free in {ctx.data_dir}"
    hint = "free space: old logs ('journalctl --vacuum-size=100M'), apt cache ('apt-get clean')"
    if free < DISK_FAIL:
        return Check("disk", "fail", detail, hint)
    if free < DISK_WARN:
        return Check("disk", "warn", detail, hint)
    return Check("disk", "ok", detail)


#: every check, in the order they run
CHECKS: tuple[Callable[[Context], Check], ...] = (
    check_database,
    check_pcsc,
    check_nfc,
    check_wedge,
    check_server,
    check_credential,
    check_cache_age,
    check_outbox,
    check_disk,
)


def run_checks(
    ctx: Context, checks: tuple[Callable[[Context], Check], ...] = CHECKS
) -> list[Check]:
    """Run ``checks``; one that raises unexpectedly becomes a failed check, not a crash."""
    results: list[Check] = []
    for check in checks:
        try:
            results.append(check(ctx))
        except Exception as exc:  # the doctor must report, not crash
            name = check.__name__.removeprefix("check_").replace("_", " ")
            results.append(Check(name, "fail", f"the check crashed: {exc!r}"))
    return results

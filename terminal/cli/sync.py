"""Talking to the club server from the command line: ``provision`` and ``sync``.

``provision`` enrolls the terminal with a one-time code and loads the
server's snapshot (a progress line on stderr); ``sync`` pushes the outbox and
pulls changes, once (``--once``) or until Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from clubcore.errors import TerminalRevokedError
from offline_store.db import DB_FILENAME
from sync.http import RetryPolicy, SyncClient
from sync.provision import open_client, provision
from sync.push import outbox_counts
from sync.status import SyncStatus
from sync.worker import SyncWorker, sync_once
from terminal.cli.base import cli, emit_json, handle_errors, opened
from terminal.instance_lock import exclusive

__all__ = ["provision_command", "sync_command"]


class _ProgressLine:
    """One line on stderr per entity, rewritten as rows arrive."""

    def __init__(self) -> None:
        self.entity = ""

    def __call__(self, entity: str, done: int, total: int) -> None:
        if entity != self.entity and self.entity:
            click.echo("", err=True)
        self.entity = entity
        percent = 100 * done // total if total else 100
        click.echo(f"\r  {entity:18} {done:>10,}/{total:,} ({percent}%)", nl=False, err=True)

    def finish(self) -> None:
        if self.entity:
            click.echo("", err=True)


@cli.command("provision")
@click.option(
    "--server", required=True, metavar="URL", help="The club server, https://host[:port]."
)
@click.option(
    "--code",
    metavar="CODE",
    help="The one-time enrollment code (club-server terminal add). "
    "Without it, the saved credential is used to load the data again.",
)
@click.option(
    "--ca-bundle",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A PEM file of CAs to trust for this server (default: the system's).",
)
@click.option("--force", is_flag=True, help="Re-provision although sales wait to be pushed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handle_errors
def provision_command(
    ctx: click.Context,
    server: str,
    code: str | None,
    ca_bundle: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Enroll this terminal with the club server and load the store's data.

    The credential goes to a file only this user can read, in the data
    directory. This lane's own sales are kept; re-provisioning is refused
    while sales wait to be pushed unless --force (they are kept aside).
    """
    progress = _ProgressLine()
    try:
        result = provision(
            ctx.obj["data_dir"], server, code, ca_bundle=ca_bundle, force=force, progress=progress
        )
    finally:
        progress.finish()
    snapshot = result.snapshot
    info = {
        "terminal_id": result.credential.terminal_id,
        "store_id": result.credential.store_id,
        "server": result.credential.server_url,
        "server_version": result.health.version,
        "clock_skew_seconds": round(result.health.skew_seconds, 1),
        "cursor": snapshot.cursor,
        "rows": snapshot.rows,
        "kept": snapshot.kept,
        "seconds": round(snapshot.seconds, 2),
    }
    if as_json:
        emit_json(info)
        return
    click.echo(
        f"provisioned terminal {info['terminal_id']} of store {info['store_id']} "
        f"from {info['server']}: {snapshot.rows['members']:,} members, "
        f"{snapshot.rows['products']:,} products ({snapshot.seconds:.1f} s)"
    )
    if abs(result.health.skew_seconds) > 60:
        click.echo(
            f"warning: this terminal's clock is {-result.health.skew_seconds:+.0f} s "
            "off the server's",
            err=True,
        )


def _round(ctx: click.Context, as_json: bool) -> None:
    with opened(ctx) as terminal, open_client(terminal.db, terminal.data_dir) as client:
        result = sync_once(client, terminal.db)
        counts = outbox_counts(terminal.db)
    info = {
        "pushed": result.push.created,
        "duplicates": result.push.duplicate,
        "refused": result.push.refused,
        "held": result.push.held,
        "changes": result.pull.changes,
        "cursor": result.pull.cursor,
        "pending": counts.pending,
        "refused_total": counts.refused,
        "held_total": counts.held,
    }
    if as_json:
        emit_json(info)
    else:
        click.echo(
            f"pushed {info['pushed']} sale(s) ({info['duplicates']} already known, "
            f"{info['held']} held, {info['refused']} refused); applied {info['changes']} "
            f"change(s), cursor {info['cursor']}; {counts.pending} waiting, "
            f"{counts.refused} set aside, {counts.held} held by the club"
        )


def _describe(status: SyncStatus) -> str:
    if status.revoked:
        state = "revoked"
    elif status.online is None:
        state = "starting"
    else:
        state = "online" if status.online else "offline"
    line = (
        f"{state}: {status.pending} waiting, {status.refused} set aside, "
        f"{status.held} held by the club, cursor {status.cursor}"
    )
    return line if status.last_error is None else f"{line}; last error: {status.last_error}"


def _run_workers(ctx: click.Context, as_json: bool) -> None:
    data_dir: Path = ctx.obj["data_dir"]
    with opened(ctx) as terminal, open_client(terminal.db, data_dir):
        pass  # checks now that the terminal is provisioned and the credential readable

    def client() -> SyncClient:
        with opened(ctx) as terminal:
            return open_client(terminal.db, data_dir, policy=RetryPolicy(deadline=60))

    worker = SyncWorker(data_dir / DB_FILENAME, client)
    stop = threading.Event()
    last: list[str] = [""]

    def show(status: SyncStatus) -> None:
        line = _describe(status)
        if line != last[0]:
            last[0] = line
            click.echo(json.dumps(status.as_dict()) if as_json else line, err=not as_json)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    worker.board.subscribe(show)
    worker.start()
    try:
        while not stop.wait(0.5) and worker.alive:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        signal.signal(signal.SIGTERM, previous)
    if worker.board.status.revoked:
        raise TerminalRevokedError(
            "this terminal was revoked on the club server",
            code="terminal-revoked",
            status=403,
            hint="provision it again with a new code (club-server terminal add)",
        )


@cli.command("sync")
@click.option("--once", is_flag=True, help="One round (push, then pull); exit 1 if it fails.")
@click.option("--json", "as_json", is_flag=True, help="Print results (or statuses) as JSON.")
@click.pass_context
@handle_errors
def sync_command(ctx: click.Context, once: bool, as_json: bool) -> None:
    """Push this lane's sales to the club server and pull its changes.

    Without --once, runs the outbox relay and the delta puller until Ctrl-C
    or SIGTERM, printing each change of status; one such process per data
    directory (a second is refused, naming the first).
    """
    if once:
        _round(ctx, as_json)
    else:
        with exclusive(ctx.obj["data_dir"], "sync"):
            _run_workers(ctx, as_json)

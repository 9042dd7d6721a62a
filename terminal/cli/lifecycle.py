"""A terminal's lifecycle from the command line: ``credential rotate`` and ``decommission``.

Re-provisioning is ``club-terminal provision`` (see :mod:`terminal.cli.sync`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from clubcore.errors import SyncError
from sync.lifecycle import decommission, local_files, rotate_credential
from terminal.cli.base import cli, emit_json, handle_errors

__all__ = ["credential", "credential_rotate", "decommission_command", "stdin_is_tty"]


def stdin_is_tty() -> bool:
    """Whether a person can answer a question on stdin (tests replace this)."""
    return sys.stdin.isatty()


@cli.group()
def credential() -> None:
    """The terminal's credential with the club server."""


@credential.command("rotate")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handle_errors
def credential_rotate(ctx: click.Context, as_json: bool) -> None:
    """Replace the terminal's credential with a new one from the club server.

    The new credential is written over the credential file (mode 0600) before
    the old one stops working, then checked with a call to the server. If
    this stops half way (crash, network), run it again: it finishes.
    """
    data_dir: Path = ctx.obj["data_dir"]
    result = rotate_credential(data_dir)
    if as_json:
        emit_json(
            {"terminal_id": result.terminal_id, "path": str(result.path), "resumed": result.resumed}
        )
        return
    what = "finished the rotation started earlier" if result.resumed else "rotated the credential"
    click.echo(f"{what} of terminal {result.terminal_id}; saved in {result.path}; accepted")


@cli.command("decommission")
@click.option(
    "--force", is_flag=True, help="Go on although sales could not be pushed (they are lost)."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a TTY).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handle_errors
def decommission_command(ctx: click.Context, force: bool, yes: bool, as_json: bool) -> None:
    """Retire this terminal: push its sales, revoke it on the club server, wipe its data.

    Removes the database (members, sales), the credential and the demo cards
    from the data directory. Refused while sales cannot be pushed unless
    --force. Needs the club server (the operator can revoke the terminal
    with 'club-server terminal revoke ID' instead; then run this again).
    """
    data_dir: Path = ctx.obj["data_dir"]
    if not yes:
        if not stdin_is_tty():
            raise SyncError(
                "decommission asks for confirmation and there is no terminal to ask on",
                hint="pass --yes",
            )
        files = ", ".join(p.name for p in local_files(data_dir)) or "nothing"
        click.echo(f"This revokes the terminal and removes from {data_dir}: {files}", err=True)
        if not click.confirm("Decommission this terminal?", default=False, err=True):
            raise SyncError("decommission cancelled; nothing was changed")
    result = decommission(data_dir, force=force)
    if as_json:
        emit_json(
            {
                "terminal_id": result.terminal_id,
                "pushed": result.pushed,
                "abandoned": result.abandoned,
                "already_revoked": result.already_revoked,
                "removed": [str(p) for p in result.removed],
                "left": [str(p) for p in result.left],
            }
        )
        return
    revoked = "was already revoked" if result.already_revoked else "is revoked"
    click.echo(f"pushed {result.pushed} sale(s); terminal {result.terminal_id} {revoked}")
    if result.abandoned:
        click.echo(f"warning: {result.abandoned} sale(s) were not pushed and are lost", err=True)
    for path in result.removed:
        click.echo(f"removed {path}")
    for path in result.left:
        click.echo(f"left {path} (not terminal data; remove it by hand if it holds any)")

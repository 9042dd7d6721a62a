"""Staff PINs at the command line: ``pin set`` (technician at installation)."""

from __future__ import annotations

import click

from terminal.cli.base import cli, handle_errors, opened
from terminal.pins import ROLES, set_pin

__all__ = ["pin", "pin_set"]


@cli.group()
def pin() -> None:
    """Cashier, manager and technician PINs (stored as scrypt hashes)."""


@pin.command("set")
@click.argument("staff_id")
@click.option("--name", required=True, help="The person's name.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--pin", "value", envvar="CLUB_TERMINAL_NEW_PIN", help="The PIN [asked twice if missing]."
)
@click.pass_context
@handle_errors
def pin_set(ctx: click.Context, staff_id: str, name: str, role: str, value: str | None) -> None:
    """Create or replace a staff member's PIN on this terminal (4 to 12 digits)."""
    if value is None:
        value = click.prompt("New PIN", hide_input=True, confirmation_prompt=True, err=True)
    with opened(ctx, require_data=False) as terminal:
        set_pin(terminal.db, staff_id, name, role, value)
    click.echo(f"{role} PIN set for {name} ({staff_id})")

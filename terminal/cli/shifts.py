"""A cashier's shift at the command line: ``shift sign-in``, ``shift sign-out``, ``shift show``."""

from __future__ import annotations

import click

from clubcore.money import format_amount
from terminal.cli.base import PIN_ENV, cli, emit_json, handle_errors, opened
from terminal.shifts import Shift, current_shift, sign_in, sign_out

__all__ = ["shift", "shift_show", "shift_sign_in", "shift_sign_out"]


def _describe(shift: Shift, money: str) -> str:
    state = "open" if shift.is_open else f"closed {shift.ended_at:%Y-%m-%d %H:%M}"
    return (
        f"shift {shift.shift_id}: {shift.name} ({shift.staff_id}, {shift.role}), "
        f"from {shift.started_at:%Y-%m-%d %H:%M} UTC, float {money}, {state}"
    )


def _as_dict(shift: Shift) -> dict[str, object]:
    return {
        "shift_id": shift.shift_id,
        "staff_id": shift.staff_id,
        "name": shift.name,
        "role": shift.role,
        "started_at": shift.started_at.isoformat(),
        "ended_at": shift.ended_at.isoformat() if shift.ended_at else None,
        "opening_float": shift.opening_float,
    }


@cli.group()
def shift() -> None:
    """Cashiers' shifts: who is signed in on this lane."""


@shift.command("sign-in")
@click.argument("staff_id")
@click.option("--pin", envvar=PIN_ENV, help=f"The person's PIN [env {PIN_ENV}; asked if missing].")
@click.option(
    "--float",
    "opening_float",
    type=click.IntRange(min=0),
    default=0,
    metavar="AMOUNT",
    help="Cash in the drawer at the start, in minor units (rial).",
)
@click.pass_context
@handle_errors
def shift_sign_in(ctx: click.Context, staff_id: str, pin: str | None, opening_float: int) -> None:
    """Sign a cashier (or manager) in with their staff number and PIN."""
    pin = pin or click.prompt("PIN", hide_input=True, err=True)
    with opened(ctx) as terminal:
        opened_shift = sign_in(terminal, staff_id, pin, opening_float)
        click.echo(_describe(opened_shift, format_amount(opening_float, terminal.currency)))


@shift.command("sign-out")
@click.option("--force", is_flag=True, help="Sign out someone else's shift (manager PIN).")
@click.option("--pin", envvar=PIN_ENV, help="The manager PIN, with --force.")
@click.pass_context
@handle_errors
def shift_sign_out(ctx: click.Context, force: bool, pin: str | None) -> None:
    """Sign the cashier out: their shift ends now."""
    if force and not pin:
        pin = click.prompt("Manager PIN", hide_input=True, err=True)
    with opened(ctx) as terminal:
        ended = sign_out(terminal, force=force, pin=pin)
        click.echo(_describe(ended, format_amount(ended.opening_float, terminal.currency)))


@shift.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the open shift as JSON (or null).")
@click.pass_context
@handle_errors
def shift_show(ctx: click.Context, as_json: bool) -> None:
    """Who is signed in on this lane."""
    with opened(ctx) as terminal:
        found = current_shift(terminal.db)
        if as_json:
            emit_json(_as_dict(found) if found else None)
        elif found is None:
            click.echo("nobody is signed in")
        else:
            click.echo(_describe(found, format_amount(found.opening_float, terminal.currency)))

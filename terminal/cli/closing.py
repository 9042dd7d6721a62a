"""Closing the day at the command line: ``close-day``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import click

from clubcore.money import format_amount
from terminal.cli.base import PIN_ENV, cli, emit_json, handle_errors, opened
from terminal.closing import DayClose, close_day, day_figures

__all__ = ["close_day_command"]


def _text(figures: DayClose, money: Callable[[int], str]) -> str:
    rows = [f"Closing of {figures.business_date}", ""]
    header = (
        f"{'cashier':<22} {'sales':>5} {'total':>16} {'cash':>16} {'card':>16} {'returned':>14}"
    )
    rows += [header, "-" * len(header)]
    for c in figures.cashiers:
        rows.append(
            f"{c.name[:22]:<22} {c.sales:>5} {money(c.sales_total):>16} {money(c.cash):>16} "
            f"{money(c.card):>16} {money(c.returned):>14}"
        )
    data = figures.as_dict()
    rows += [
        "",
        f"voids / refunds   {data['voids']} / {data['refunds']} "
        f"({money(data['returned'])} given back)",
        f"card              {money(figures.card)}",
        f"cash expected     {money(figures.expected_cash)} (opening floats included)",
    ]
    if figures.counted_cash is not None:
        difference = figures.difference or 0
        state = "short" if difference < 0 else "over" if difference > 0 else "exact"
        rows += [
            f"cash counted      {money(figures.counted_cash)}",
            f"difference        {money(difference)} ({state})",
        ]
    return "\n".join(rows)


@cli.command("close-day")
@click.option(
    "--counted",
    type=click.IntRange(min=0),
    metavar="AMOUNT",
    help="The cash counted in the drawer, in minor units (rial). Without it: a preview.",
)
@click.option("--staff", "staff_id", metavar="ID", help="Who counted (a cashier or manager).")
@click.option("--pin", envvar=PIN_ENV, help=f"Their PIN [env {PIN_ENV}; asked if missing].")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.option("--json", "as_json", is_flag=True, help="Print the closing as JSON.")
@click.pass_context
@handle_errors
def close_day_command(
    ctx: click.Context,
    counted: int | None,
    staff_id: str | None,
    pin: str | None,
    day: datetime | None,
    as_json: bool,
) -> None:
    """Close the day: cash expected per cashier against the cash counted; records the closing.

    Without --counted it only shows the day's figures (nothing is recorded).
    """
    with opened(ctx) as terminal:
        when: date = day.date() if day else terminal.local_now().date()
        if counted is None:
            figures = day_figures(terminal.db, when, terminal.timezone)
        else:
            if not staff_id:
                raise click.UsageError("--counted needs --staff (who counted)")
            pin = pin or click.prompt("PIN", hide_input=True, err=True)
            figures = close_day(terminal, counted, staff_id, pin, when)
        if as_json:
            emit_json(figures.as_dict())
        else:
            currency = terminal.currency
            click.echo(_text(figures, lambda amount: format_amount(amount, currency)))

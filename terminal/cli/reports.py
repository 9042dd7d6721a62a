"""Reports at the command line: ``report daily``, ``status``."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import click

from clubcore.errors import FormatError
from offline_store import outbox
from offline_store.reports import daily_report
from sync.provision import open_client
from sync.reports import store_daily_report
from sync.status import prometheus_text, stored_sync_state
from terminal.cli.base import cli, emit_json, handle_errors, opened
from terminal.receipt import report_csv, report_text

__all__ = ["daily", "report", "status"]


@cli.group()
def report() -> None:
    """Sales reports."""


@report.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Business day [default: today].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format (json/csv amounts in minor units).",
)
@click.option("--top", default=10, show_default=True, help="How many top members to list.")
@click.option(
    "--store",
    "store_wide",
    is_flag=True,
    help="The whole store's report from the club server (needs the network).",
)
@click.pass_context
@handle_errors
def daily(ctx: click.Context, day: str | None, fmt: str, top: int, store_wide: bool) -> None:
    """Today's (or a day's) member sales on this lane (or, with --store, the store).

    Sales count and total, member vs non-member share, discount given, points
    earned and redeemed, by tier, by hour, top members and the share of member
    sales from the top 20% of members. Voids and refunds are netted.
    """
    with opened(ctx) as terminal:
        if day is None:
            business_date = terminal.local_now().date()
        else:
            try:
                business_date = date.fromisoformat(day)
            except ValueError:
                raise FormatError(f"--date {day!r}: expected YYYY-MM-DD") from None
        if store_wide:
            with open_client(terminal.db, terminal.data_dir) as client:
                result = store_daily_report(client, business_date)
            result = dataclasses.replace(result, top_members=result.top_members[:top])
        else:
            result = daily_report(terminal.db, business_date, terminal.settings.currency_name, top)
        if fmt == "json":
            emit_json(result.as_dict())
        elif fmt == "csv":
            click.echo(report_csv(result), nl=False)
        else:
            click.echo(report_text(result, terminal.currency))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option(
    "--prometheus",
    is_flag=True,
    help="Print the sync state in Prometheus' text format (node_exporter's textfile collector).",
)
@click.pass_context
@handle_errors
def status(ctx: click.Context, as_json: bool, prometheus: bool) -> None:
    """The terminal's identity, data and sync state: the backlog, its age (the outbox lag),
    the last push and the last delta pulled.

    ``outbox_refused``: sales the club server refused (set aside, not stored);
    ``outbox_held``: sales it stored but holds the points of, for review.
    """
    now = datetime.now().astimezone()
    with opened(ctx, require_data=False) as terminal:
        db = terminal.db
        counts = outbox.outbox_counts(db)
        info = {
            "data_dir": str(terminal.data_dir),
            "terminal_id": terminal.terminal_id,
            "store_id": terminal.store_id,
            "rules_version": terminal.settings.rules_version,
            "members": db["members"].count,
            "products": db["products"].count,
            "sales": db["sales"].count,
            "outbox_refused": counts.refused,
            "outbox_held": counts.held,
            **stored_sync_state(db, now),
            "checked_at": now.isoformat(timespec="seconds"),
        }
    if prometheus:
        click.echo(prometheus_text(info["terminal_id"], info), nl=False)
        return
    if as_json:
        emit_json(info)
    else:
        for key, value in info.items():
            click.echo(f"{key:16} {value}")

"""Running the server and looking at it: ``serve``, ``demo-data``, ``report``, ``flags``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from club_server.cli.base import (
    as_json_option,
    cli,
    db_option,
    emit_json,
    handle_errors,
    keys_dir_option,
    opened,
    resolve_keys_dir,
)
from club_server.clock import utc_now
from club_server.demo import DEMO_STORE, seed
from club_server.environment import (
    DB_ENV,
    LIMITS_ENV,
    LOG_FILE_ENV,
    LOG_FORMAT_ENV,
    LOG_LEVEL_ENV,
    MULTIPROC_ENV,
)
from club_server.flags import list_flags, resolve_flags
from club_server.limits import ServerLimits
from club_server.reports import store_daily_report
from club_server.settings import read_settings
from club_server.suspense import discard, list_suspense, release
from club_server.tiers import recompute
from clubcore.logs import FORMATS, LEVELS, configure_logging
from clubcore.money import CURRENCIES, format_amount

__all__ = ["demo_data", "flags", "per_worker", "report", "serve", "suspense_group"]

#: the most header bytes a request may send before its body
MAX_HEADERS = 16 * 1024
DEFAULTS = ServerLimits()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8600, show_default=True, help="TCP port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    envvar="CLUB_SERVER_WORKERS",
    help="Server processes sharing the port (each builds the app from the environment) "
    "[env CLUB_SERVER_WORKERS].",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    envvar=LOG_LEVEL_ENV,
    help=f"The least severe log lines written (INFO: one access line a request) [env "
    f"{LOG_LEVEL_ENV}].",
)
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default="plain",
    show_default=True,
    envvar=LOG_FORMAT_ENV,
    help=f"Human lines or one JSON object a line [env {LOG_FORMAT_ENV}].",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=LOG_FILE_ENV,
    help=f"Also log to this file [env {LOG_FILE_ENV}].",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="Proxies whose X-Forwarded-For names the caller (rate limits, lockouts, /metrics).",
)
@click.option(
    "--keep-alive", default=5, show_default=True, help="Seconds an idle connection is kept."
)
@click.option(
    "--body-timeout",
    default=DEFAULTS.body_timeout,
    show_default=True,
    help="Seconds to wait for the next part of a request body (then 408).",
)
@click.option(
    "--max-connections",
    default=2_000,
    show_default=True,
    help="Connections served at once (per process); more are answered 503.",
)
@click.option(
    "--rate-per-address",
    default=DEFAULTS.address_rate,
    show_default=True,
    help="Requests per second from one address (0: no limit), all workers together.",
)
@click.option(
    "--rate-per-terminal",
    default=DEFAULTS.terminal_rate,
    show_default=True,
    help="Requests per second of one terminal (0: no limit), all workers together.",
)
@click.option(
    "--enroll-failures",
    default=DEFAULTS.enroll_failures,
    show_default=True,
    help="Wrong enrollment codes from one address that lock it out (0: never).",
)
@click.option(
    "--enroll-lockout",
    default=DEFAULTS.enroll_lockout,
    show_default=True,
    help="Seconds an address stays locked out of enrollment.",
)
@db_option
@handle_errors
def serve(
    host: str,
    port: int,
    workers: int,
    log_level: str,
    log_format: str,
    log_file: Path | None,
    forwarded_allow_ips: str,
    keep_alive: int,
    body_timeout: float,
    max_connections: int,
    rate_per_address: float,
    rate_per_terminal: float,
    enroll_failures: int,
    enroll_lockout: int,
    db_url: str | None,
) -> None:
    """Serve the sync API (put TLS in front of it: a reverse proxy, or uvicorn's options).

    Limits (docs/sync-protocol.md, "Limits"): request rates per address and
    per terminal (429), enrollment lockouts, a body timeout (408), idle
    connections closed after --keep-alive, headers at most 16 KiB.

    With --workers N, N processes share the port; each builds its app with
    club_server.app:create_app_from_env, the rates are split between them,
    and /metrics sums all of them (docs/operator-guide.md, "Scaling out").
    """
    import uvicorn

    configure_logging(log_level, log_format, log_file)
    limits = replace(
        DEFAULTS,
        body_timeout=body_timeout,
        address_rate=rate_per_address,
        terminal_rate=rate_per_terminal,
        enroll_failures=enroll_failures,
        enroll_lockout=enroll_lockout,
    )
    with opened(db_url) as database:  # migrated once here, before any worker starts
        url = database.engine.url
        click.echo(f"club server on http://{host}:{port} ({url.render_as_string()}), "
                   f"{workers} worker{'s' if workers > 1 else ''}")  # fmt: skip
        common: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_config": None,  # our logging (clubcore.logs), configured above
            "access_log": False,  # club_server.requestlog writes one line a request
            "proxy_headers": True,
            "forwarded_allow_ips": forwarded_allow_ips,
            "timeout_keep_alive": keep_alive,
            "limit_concurrency": max_connections,
            "h11_max_incomplete_event_size": MAX_HEADERS,
        }
        if workers == 1:
            from club_server.app import create_app

            uvicorn.run(create_app(database, limits=limits), **common)
            return
        url_text = url.render_as_string(hide_password=False)
    made = _worker_environment(url_text, per_worker(limits, workers), log_level, log_format,
                               log_file)  # fmt: skip
    try:
        uvicorn.run("club_server.app:create_app_from_env", factory=True, workers=workers, **common)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def per_worker(limits: ServerLimits, workers: int) -> ServerLimits:
    """``limits`` for one of ``workers`` processes, each with its own buckets: the sustained
    rates are split between them; each keeps the whole burst (the kernel does not spread
    one caller's connections evenly, so a split burst would refuse a burst the operator
    allowed: 200 lanes enrolling at once from one address, for one)."""
    return replace(
        limits,
        address_rate=limits.address_rate / workers,
        terminal_rate=limits.terminal_rate / workers,
        enroll_rate=limits.enroll_rate / workers,
    )


def _worker_environment(
    db_url: str, limits: ServerLimits, level: str, fmt: str, file: Path | None
) -> Path | None:
    """What each worker's :func:`club_server.app.create_app_from_env` reads; the metrics
    directory made here (None: the operator's ``$PROMETHEUS_MULTIPROC_DIR``)."""
    os.environ[DB_ENV] = db_url
    os.environ[LIMITS_ENV] = json.dumps(asdict(limits))
    os.environ[LOG_LEVEL_ENV], os.environ[LOG_FORMAT_ENV] = level, fmt
    if file is not None:
        os.environ[LOG_FILE_ENV] = str(file)
    given = os.environ.get(MULTIPROC_ENV)
    metrics_dir = Path(given or tempfile.mkdtemp(prefix="club-metrics-"))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):  # counters of processes that ran before
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(metrics_dir)
    return None if given else metrics_dir


def _progress(label: str, done: int, total: int) -> None:
    if total and (done == total or done % 200_000 == 0):
        click.echo(f"  {label}: {done:,}/{total:,}", err=True)


@cli.command("demo-data")
@click.option("--members", default=2_000, show_default=True, help="How many members.")
@click.option("--products", default=300, show_default=True, help="How many products.")
@db_option
@keys_dir_option
@as_json_option
@handle_errors
def demo_data(
    members: int, products: int, db_url: str | None, keys_dir: Path | None, as_json: bool
) -> None:
    """Fill an empty server with the demo store (as the terminal's) and signed demo cards."""
    started = datetime.now()
    with opened(db_url) as database:
        summary = seed(
            database,
            resolve_keys_dir(database, keys_dir),
            members=members,
            products=products,
            now=utc_now(),
            progress=None if as_json else _progress,
        )
    if as_json:
        emit_json(
            {
                "store_id": DEMO_STORE,
                "members": summary.members,
                "products": summary.products,
                "member_prices": summary.member_prices,
                "offers": summary.offers,
                "cards": summary.cards,
            }
        )
        return
    seconds = (datetime.now() - started).total_seconds()
    click.echo(
        f"store {DEMO_STORE}: {summary.members:,} members, {summary.products:,} products, "
        f"{summary.offers} offers in {seconds:.1f} s"
    )
    for card in summary.cards:
        click.echo(
            f"  {card['label']:9} member {card['member_no']} card {card['serial']} "
            f"uid {card['uid']}"
        )
    click.echo(f"next: club-server terminal add --store {DEMO_STORE}")


@cli.group()
def report() -> None:
    """Reports across the lanes of a store."""


@report.command("daily")
@click.option("--store", "store_id", required=True, help="The store.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="[default: today]")
@db_option
@as_json_option
@handle_errors
def report_daily(store_id: str, day: datetime | None, db_url: str | None, as_json: bool) -> None:
    """The store's daily member-sales report (all lanes)."""
    with opened(db_url) as database, database.reading() as conn:
        settings = read_settings(conn)
        currency, zone = settings.currency_name, settings.timezone
        business_date: date = day.date() if day else utc_now().astimezone(zone).date()
        result = store_daily_report(conn, store_id, business_date, currency)
    if as_json:
        emit_json(result.as_dict())
        return
    unit = CURRENCIES[currency]

    def money(amount: int) -> str:
        return format_amount(amount, unit)

    click.echo(
        f"{store_id} {result.business_date}: {result.sales_count} sales, "
        f"{result.returns_count} returns, total {money(result.total)}"
    )
    click.echo(
        f"  members {money(result.member_total)} ({result.member_share:.1%}), "
        f"discount {money(result.discount_given)}, points +{result.points_earned:,} "
        f"-{result.points_redeemed:,}, top 20% of members {result.top20_share:.1%}"
    )
    for tier in result.by_tier:
        click.echo(f"  {tier['tier']:11} {tier['sales']:5} sales {money(tier['total']):>20}")


@cli.command()
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved flags.")
@click.option(
    "--kind",
    help="Only flags of this kind (incident, negative-balance, sale-conflict, unknown-member, "
    "velocity, store-hop, price-mismatch, points-limit, foreign-return, sale-id-reused).",
)
@db_option
@as_json_option
@handle_errors
def flags(include_resolved: bool, kind: str | None, db_url: str | None, as_json: bool) -> None:
    """What the club must look at: incidents (a terminal with repeated trust flags) first, then
    negative balances, conflicting sales, unknown members, cards used too often or in two
    stores at once (velocity), and sales held or refused because no lane is trusted."""
    with opened(db_url) as database, database.reading() as conn:
        rows = list_flags(conn, include_resolved=include_resolved, kind=kind)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['flag_id']:5} {row['created_at']} {row['kind']:16} {row['subject']}: "
            f"{row['detail']}"
        )
    if not rows:
        click.echo("no open flags")


@cli.group("flag")
def flag_group() -> None:
    """One flag: mark it resolved once looked at."""


@flag_group.command("resolve")
@click.argument("flag_ids", nargs=-1, required=True, type=int)
@db_option
@handle_errors
def flag_resolve(flag_ids: tuple[int, ...], db_url: str | None) -> None:
    """Mark open flags resolved (ids from `club-server flags`); an unknown id changes nothing."""
    with opened(db_url) as database, database.writing() as conn:
        count = resolve_flags(conn, flag_ids, utc_now())
    click.echo(f"resolved {count} flag{'s' if count != 1 else ''}")


@cli.group("suspense")
def suspense_group() -> None:
    """Points held in suspense (unknown members, held sales): list, release or discard."""


@suspense_group.command("list")
@click.option("--member", "member_no", help="Only this member's entries.")
@click.option("--all", "include_resolved", is_flag=True, help="Include released and discarded.")
@db_option
@as_json_option
@handle_errors
def suspense_list(
    member_no: str | None, include_resolved: bool, db_url: str | None, as_json: bool
) -> None:
    """Points not credited to anyone yet, with why; oldest first."""
    with opened(db_url) as database, database.reading() as conn:
        rows = list_suspense(conn, member_no=member_no, include_resolved=include_resolved)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        state = f" [{row['resolution']}]" if row["resolution"] else ""
        click.echo(
            f"{row['entry_id']:5} {row['member_no']} {row['kind']:6} {row['points']:>8} "
            f"sale {row['sale_id']}{state}: {row['reason']}"
        )
    if not rows:
        click.echo("no points in suspense")


@suspense_group.command("release")
@click.argument("entry_ids", nargs=-1, required=True, type=int)
@db_option
@handle_errors
def suspense_release(entry_ids: tuple[int, ...], db_url: str | None) -> None:
    """Credit entries to their members' ledgers (the members must exist); all or none."""
    with opened(db_url) as database, database.writing() as conn:
        count = release(conn, entry_ids, utc_now())
    click.echo(f"released {count} entr{'ies' if count != 1 else 'y'}")


@suspense_group.command("discard")
@click.argument("entry_ids", nargs=-1, required=True, type=int)
@db_option
@handle_errors
def suspense_discard(entry_ids: tuple[int, ...], db_url: str | None) -> None:
    """Close entries without crediting anyone; all or none."""
    with opened(db_url) as database, database.writing() as conn:
        count = discard(conn, entry_ids, utc_now())
    click.echo(f"discarded {count} entr{'ies' if count != 1 else 'y'}")


@cli.group("tiers")
def tiers_group() -> None:
    """Member tiers from 12-month spend."""


@tiers_group.command("recompute")
@click.option(
    "--rolling", is_flag=True, help="First rebuild spend from the last 365 days of sales."
)
@db_option
@as_json_option
@handle_errors
def tiers_recompute(rolling: bool, db_url: str | None, as_json: bool) -> None:
    """Re-derive every member's tier (after thresholds change; nightly with --rolling)."""
    with opened(db_url) as database, database.writing() as conn:
        counts = recompute(conn, utc_now(), rolling=rolling)
    if as_json:
        emit_json(counts)
    else:
        click.echo(
            f"{counts['members']:,} members checked, {counts['tiers_changed']:,} tiers changed"
        )

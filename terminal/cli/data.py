"""Data at the command line: ``demo-data`` and the scripted ``demo``."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from clubcore.demo_rows import TIER_WEIGHTS
from clubcore.errors import CardRejectedError, ConfigError, SaleStateError
from offline_store import members
from offline_store.db import DB_FILENAME
from offline_store.reports import daily_report
from sync.status import SyncStatus
from terminal import demo_cards, demo_data
from terminal.bootstrap import Terminal, bootstrap
from terminal.cli.base import cli, handle_errors, opened
from terminal.instance_lock import exclusive
from terminal.receipt import receipt_text, report_text

__all__ = ["demo", "demo_data_command"]


def _progress(label: str, done: int, total: int) -> None:
    click.echo(f"\r  {label}: {done:,}/{total:,}", nl=done >= total, err=True)


@cli.command("demo-data")
@click.option("--members", default=2_000, show_default=True, help="How many members.")
@click.option("--products", default=300, show_default=True, help="How many products.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--force", is_flag=True, help="Delete this terminal's data first.")
@click.pass_context
@handle_errors
def demo_data_command(
    ctx: click.Context, members: int, products: int, seed: int, force: bool
) -> None:
    """Seed a realistic demo store into this terminal's data directory.

    Tiers basic, silver, gold, platinum and a VIP group; products in
    categories with member prices and category discounts; members with
    cards; offers; manager PIN 1234 and technician PIN 4321.
    """
    data_dir = ctx.obj["data_dir"]
    if members < len(TIER_WEIGHTS):
        raise ConfigError(
            "--members", f"at least {len(TIER_WEIGHTS)}: a member of each tier for the demo cards"
        )
    if force and (data_dir / DB_FILENAME).exists():
        for suffix in ("", "-wal", "-shm"):
            (data_dir / (DB_FILENAME + suffix)).unlink(missing_ok=True)
    with opened(ctx, require_data=False) as terminal:
        if terminal.db["products"].count or terminal.db["sales"].count:
            raise SaleStateError(f"{data_dir} already holds data", hint="use --force to replace it")
        summary = demo_data.seed_demo(
            terminal,
            members=members,
            products=products,
            seed=seed,
            now=terminal.clock(),
            progress=_progress,
        )
    click.echo(
        f"demo store ready in {data_dir}: {summary.members:,} members, "
        f"{summary.products:,} products, {summary.member_prices:,} member prices, "
        f"{summary.offers} offers ({summary.seconds:.1f} s)"
    )
    click.echo(f"try: club-terminal sale --member {demo_data.member_number(0)} --item P000001:2")


@cli.command()
@click.option("--fresh", is_flag=True, help="Start from a new demo (deletes this data).")
@click.option("--console", is_flag=True, help="The scripted console demo; no display needed.")
@click.option("--size", default="1280x800", show_default=True, help="Window size, WIDTHxHEIGHT.")
@click.option("--language", type=click.Choice(["en", "fa"]), default="en", show_default=True)
@click.pass_context
@handle_errors
def demo(ctx: click.Context, fresh: bool, console: bool, size: str, language: str) -> None:
    """The demo terminal: an embedded club server, a provisioned lane, the app.

    A club server with the demo store runs inside this command on a loopback
    port; the terminal enrolls and provisions from it over HTTP, the sync
    workers push every sale, and the touchscreen app opens with the simulated
    reader's demo cards (one per tier, and expired, revoked, forged ones).
    --console runs a scripted sale in the terminal instead (no display).
    """
    data_dir = ctx.obj["data_dir"]
    if console:
        _console_demo(data_dir, fresh)
        return
    from terminal.cli.app import _size
    from terminal.ui.env import check_display

    check_display()
    width_height = _size(size)
    try:
        from terminal.demo_session import demo_session
    except ImportError as exc:  # a kiosk's install: no server stack
        raise ConfigError(
            "demo",
            f"the demo runs a club server inside, and {exc.name} is not installed",
            hint="pip install 'club-terminal[server]' (scripts/setup.sh installs everything)",
        ) from None
    from terminal.ui.launch import run_app
    from terminal.ui.options import AppOptions

    with (
        exclusive(data_dir, "app"),
        demo_session(data_dir, lambda text: click.echo(text, err=True), fresh=fresh) as session,
    ):

        def sync_status() -> SyncStatus:
            return session.board.status

        options = AppOptions(
            data_dir,
            ["sim"],
            demo=True,
            size=width_height,
            language=language,
            sync_status=sync_status,
        )
        run_app(options)


def _console_demo(data_dir: Path, fresh: bool) -> None:
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    terminal = bootstrap(data_dir)
    try:
        if not terminal.db["products"].count:
            click.echo(f"seeding a demo store in {data_dir} ...")
            demo_data.seed_demo(terminal)
        _demo_sales(terminal)
        click.echo("\n== The manager's daily report (this lane) ==\n")
        day = terminal.local_now().date()
        report = daily_report(terminal.db, day, terminal.settings.currency_name)
        click.echo(report_text(report, terminal.currency))
    finally:
        terminal.close()


def _demo_sales(terminal: Terminal) -> None:
    cards = {c.label: c for c in demo_cards.load(terminal.data_dir / demo_cards.DEMO_CARDS_FILE)}
    basket = ["P000001", "P000012", "P000030", "P000053"]
    click.echo("\n== A non-member buys four items at list prices ==\n")
    checkout = terminal.checkout()
    for sku in basket:
        checkout.add(sku)
    click.echo(receipt_text(checkout.complete("cash"), terminal.currency))
    click.echo("\n== Cards that are refused, verified offline ==\n")
    for label in ("expired", "forged", "cloned", "revoked"):
        try:
            terminal.checkout().identify_read(cards[label].as_read("sim"))
        except CardRejectedError as exc:
            click.echo(f"{cards[label].description}: {exc.message}")
    card = cards["basic"]
    click.echo(f"\n== Member {card.member_no} taps their card: member prices, offers, points ==\n")
    found = checkout.identify_read(card.as_read("sim"))
    click.echo(f"card verified offline: {found.strength} {found.kind}, serial {found.serial}\n")
    for sku in [*basket, "P000001", "P000005", "P000019"]:
        checkout.add(sku)
    checkout.redeem(min(checkout.max_redeemable(), 1_000))
    sale = checkout.complete("card")
    known = members.get_member(terminal.db, found.member_no)
    click.echo(receipt_text(sale, terminal.currency, known.display_name, known.points_balance))

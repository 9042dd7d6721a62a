"""Catalog and member commands over the admin services: ``category``, ``product``,
``price``, ``discount``, ``offer``, ``tiers set|retire|list`` and ``member
search|update|merge|history``.

Translations are ``--translation LANG=TEXT`` (repeat), e.g. ``--translation fa=شیر``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from club_server.admin import categories as cat
from club_server.admin import member_admin as mem
from club_server.admin import offers as off
from club_server.admin import prices as pri
from club_server.admin import products as pro
from club_server.admin import tier_admin as tie
from club_server.admin.access import cli_actor
from club_server.admin.models import (
    CategoryDiscountIn,
    CategoryIn,
    MemberPriceIn,
    MemberUpdate,
    OfferIn,
    ProductIn,
    TierIn,
)
from club_server.cli.accounts import build
from club_server.cli.admin import member
from club_server.cli.base import as_json_option, cli, db_option, emit_json, handle_errors, opened
from club_server.cli.ops import tiers_group
from club_server.clock import utc_now
from clubcore.errors import FormatError
from clubcore.records import MEMBER_STATUSES

__all__ = ["category", "discount", "offer", "price", "product"]

translation_option = click.option(
    "--translation",
    "translations",
    multiple=True,
    metavar="LANG=TEXT",
    help="A name in another language, e.g. fa=شیر (repeat).",
)
_WHEN = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S%z"])


def _names(pairs: tuple[str, ...]) -> dict[str, str]:
    names = {}
    for pair in pairs:
        lang, sep, text = pair.partition("=")
        if not sep:
            raise FormatError(f"--translation {pair!r} is not LANG=TEXT")
        names[lang.strip()] = text.strip()
    return names


def _show(data: Any, as_json: bool, line: str) -> None:
    emit_json(data) if as_json else click.echo(line)


@cli.group()
def category() -> None:
    """Product categories, with translations."""


@category.command("set")
@click.argument("code")
@click.option("--name", required=True, help="The name lanes show.")
@translation_option
@click.option("--parent", help="The parent category's code.")
@db_option
@as_json_option
@handle_errors
def category_set(
    code: str,
    name: str,
    translations: tuple[str, ...],
    parent: str | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Add or change a category."""
    body = build(CategoryIn, name=name, names=_names(translations), parent=parent)
    with opened(db_url) as database, database.writing() as conn:
        row = cat.put_category(conn, cli_actor(), utc_now(), code, body)
    _show(row, as_json, f"category {code} saved")


@category.command("list")
@db_option
@as_json_option
@handle_errors
def category_list(db_url: str | None, as_json: bool) -> None:
    """List categories."""
    with opened(db_url) as database, database.reading() as conn:
        rows = cat.list_categories(conn, cli_actor())
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        names = " ".join(f"{k}={v}" for k, v in row["names"].items())
        click.echo(f"{row['code']:16} {row['name']:24} {names}")


@cli.group()
def product() -> None:
    """Products: SKU, barcodes, names, category, list price, flags."""


@product.command("set")
@click.argument("sku")
@click.option("--name", required=True, help="The name lanes show.")
@translation_option
@click.option("--category", "category_code", required=True, help="Category code.")
@click.option("--price", "list_price", type=int, required=True, help="List price (minor units).")
@click.option("--barcode", "barcodes", multiple=True, help="EAN-13, UPC-A or EAN-8 (repeat).")
@click.option("--member-only", is_flag=True, help="Sold to members only.")
@click.option("--inactive", is_flag=True, help="Not on sale.")
@db_option
@as_json_option
@handle_errors
def product_set(
    sku: str,
    name: str,
    translations: tuple[str, ...],
    category_code: str,
    list_price: int,
    barcodes: tuple[str, ...],
    member_only: bool,
    inactive: bool,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Add or change a product (its barcodes replace the ones it had)."""
    body = build(
        ProductIn,
        name=name,
        names=_names(translations),
        category=category_code,
        list_price=list_price,
        barcodes=list(barcodes),
        member_only=member_only,
        active=not inactive,
    )
    with opened(db_url) as database, database.writing() as conn:
        row = pro.put_product(conn, cli_actor(), utc_now(), sku, body)
    _show(row, as_json, f"product {sku} saved")


@product.command("show")
@click.argument("sku")
@db_option
@as_json_option
@handle_errors
def product_show(sku: str, db_url: str | None, as_json: bool) -> None:
    """Show a product with its barcodes and member prices."""
    with opened(db_url) as database, database.reading() as conn:
        row = pro.get_product(conn, cli_actor(), sku)
        row["member_prices"] = pri.list_member_prices(conn, cli_actor(), sku)
    if as_json:
        emit_json(row)
        return
    click.echo(
        f"{row['sku']}  {row['name']}  {row['category']}  {row['list_price']}  "
        f"{'active' if row['active'] else 'inactive'}"
        f"{'  member-only' if row['member_only'] else ''}"
    )
    click.echo(f"  barcodes {' '.join(row['barcodes']) or '-'}")
    for lang, text in row["names"].items():
        click.echo(f"  {lang}: {text}")
    for price in row["member_prices"]:
        click.echo(f"  {price['tier']:10} {price['price']}")


@product.command("list")
@click.option("--search", help="A part of the SKU, name or barcode.")
@click.option("--category", "category_code", help="Only this category.")
@click.option("--limit", default=100, show_default=True)
@db_option
@as_json_option
@handle_errors
def product_list(
    search: str | None, category_code: str | None, limit: int, db_url: str | None, as_json: bool
) -> None:
    """List products."""
    with opened(db_url) as database, database.reading() as conn:
        rows = pro.list_products(
            conn, cli_actor(), search=search, category=category_code, limit=limit
        )
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['sku']:10} {row['list_price']:>12} {row['category']:12} {row['name']}")


@cli.group()
def price() -> None:
    """Member prices per product per tier."""


@price.command("set")
@click.argument("sku")
@click.argument("tier")
@click.argument("amount", type=int)
@click.option("--above-list", is_flag=True, help="Allow a member price above the list price.")
@db_option
@handle_errors
def price_set(sku: str, tier: str, amount: int, above_list: bool, db_url: str | None) -> None:
    """Set SKU's member price for TIER."""
    body = build(MemberPriceIn, price=amount, above_list=above_list)
    with opened(db_url) as database, database.writing() as conn:
        pri.put_member_price(conn, cli_actor(), utc_now(), sku, tier, body)
    click.echo(f"member price {sku} {tier} = {amount}")


@price.command("remove")
@click.argument("sku")
@click.argument("tier")
@db_option
@handle_errors
def price_remove(sku: str, tier: str, db_url: str | None) -> None:
    """Remove SKU's member price for TIER."""
    with opened(db_url) as database, database.writing() as conn:
        pri.delete_member_price(conn, cli_actor(), utc_now(), sku, tier)
    click.echo(f"member price {sku} {tier} removed")


@cli.group()
def discount() -> None:
    """Category percentages per tier."""


@discount.command("set")
@click.argument("category_code", metavar="CATEGORY")
@click.argument("tier")
@click.argument("percent_bp", type=int)
@db_option
@handle_errors
def discount_set(category_code: str, tier: str, percent_bp: int, db_url: str | None) -> None:
    """Set CATEGORY's percentage for TIER, in basis points (500 = 5 %)."""
    body = build(CategoryDiscountIn, percent_bp=percent_bp)
    with opened(db_url) as database, database.writing() as conn:
        pri.put_category_discount(conn, cli_actor(), utc_now(), category_code, tier, body)
    click.echo(f"discount {category_code} {tier} = {percent_bp} bp")


@discount.command("remove")
@click.argument("category_code", metavar="CATEGORY")
@click.argument("tier")
@db_option
@handle_errors
def discount_remove(category_code: str, tier: str, db_url: str | None) -> None:
    """Remove CATEGORY's percentage for TIER."""
    with opened(db_url) as database, database.writing() as conn:
        pri.delete_category_discount(conn, cli_actor(), utc_now(), category_code, tier)
    click.echo(f"discount {category_code} {tier} removed")


@cli.group()
def offer() -> None:
    """Offers: what, to whom, when, texts, stacking, enabled."""


@offer.command("set")
@click.argument("offer_id")
@click.option("--title", required=True)
@click.option("--message", default="")
@click.option("--fa-title", help="The Persian title.")
@click.option("--fa-message", default="", help="The Persian message.")
@click.option("--percent-bp", type=int, help="Basis points off (1000 = 10 %).")
@click.option("--unit-price", type=int, help="A fixed unit price (with --sku).")
@click.option("--sku")
@click.option("--category", "category_code")
@click.option("--tier", help="Target: members of this tier.")
@click.option("--segment", help="Target: members in this segment.")
@click.option("--member", "member_no", help="Target: this member.")
@click.option("--starts", type=_WHEN, help="From (UTC unless an offset is given).")
@click.option("--ends", type=_WHEN, help="Until.")
@click.option("--stacks", is_flag=True, help="Applies on top of member prices.")
@click.option("--disabled", is_flag=True, help="Save it disabled.")
@db_option
@as_json_option
@handle_errors
def offer_set(offer_id: str, db_url: str | None, as_json: bool, **opts: Any) -> None:
    """Add or change an offer."""
    body = build(OfferIn, **_offer_values(opts))
    with opened(db_url) as database, database.writing() as conn:
        row = off.put_offer(conn, cli_actor(), utc_now(), offer_id, body)
    _show(row, as_json, f"offer {offer_id} saved")


def _offer_values(opts: dict[str, Any]) -> dict[str, Any]:
    targets = [
        (k, opts[v])
        for k, v in (("tier", "tier"), ("segment", "segment"), ("member", "member_no"))
        if opts[v]
    ]
    if len(targets) > 1:
        raise FormatError("give one of --tier, --segment, --member (or none: all members)")
    target, value = targets[0] if targets else ("all", None)
    texts = {"fa": {"title": opts["fa_title"], "message": opts["fa_message"]}}
    return {
        "title": opts["title"],
        "message": opts["message"],
        "percent_bp": opts["percent_bp"],
        "unit_price": opts["unit_price"],
        "sku": opts["sku"],
        "category": opts["category_code"],
        "target": target,
        "target_value": value,
        "stacks": opts["stacks"],
        "enabled": not opts["disabled"],
        "texts": texts if opts["fa_title"] else {},
        "starts_at": _aware(opts["starts"]),
        "ends_at": _aware(opts["ends"]),
    }


def _aware(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=utc_now().tzinfo)).isoformat()


@offer.command("enable")
@click.argument("offer_id")
@db_option
@handle_errors
def offer_enable(offer_id: str, db_url: str | None) -> None:
    """Enable an offer: lanes get it in their next sync."""
    with opened(db_url) as database, database.writing() as conn:
        off.set_offer_enabled(conn, cli_actor(), utc_now(), offer_id, True)
    click.echo(f"offer {offer_id} enabled")


@offer.command("disable")
@click.argument("offer_id")
@db_option
@handle_errors
def offer_disable(offer_id: str, db_url: str | None) -> None:
    """Disable an offer: lanes drop it in their next sync."""
    with opened(db_url) as database, database.writing() as conn:
        off.set_offer_enabled(conn, cli_actor(), utc_now(), offer_id, False)
    click.echo(f"offer {offer_id} disabled")


@offer.command("list")
@db_option
@as_json_option
@handle_errors
def offer_list(db_url: str | None, as_json: bool) -> None:
    """List offers."""
    with opened(db_url) as database, database.reading() as conn:
        rows = off.list_offers(conn, cli_actor())
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        to = row["target"] + (f" {row['target_value']}" if row["target_value"] else "")
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(f"{row['offer_id']:16} {state:8} {to:20} {row['title']}")


@tiers_group.command("set")
@click.argument("code")
@click.option("--name", required=True)
@translation_option
@click.option("--rank", type=int, required=True, help="Higher is better.")
@click.option("--min-spend", type=int, default=0, show_default=True, help="12-month spend.")
@click.option(
    "--multiplier-bp",
    type=int,
    default=10_000,
    show_default=True,
    help="Points earn multiplier (10000 = 1x).",
)
@click.option("--not-assignable", is_flag=True, help="Only the club puts members in it (VIP).")
@click.option("--benefit", "benefits", multiple=True, help="A benefit's text (repeat).")
@db_option
@as_json_option
@handle_errors
def tiers_set(
    code: str,
    name: str,
    translations: tuple[str, ...],
    rank: int,
    min_spend: int,
    multiplier_bp: int,
    not_assignable: bool,
    benefits: tuple[str, ...],
    db_url: str | None,
    as_json: bool,
) -> None:
    """Add or change a tier."""
    body = build(
        TierIn,
        name=name,
        names=_names(translations),
        rank=rank,
        min_spend=min_spend,
        earn_multiplier_bp=multiplier_bp,
        assignable=not not_assignable,
        benefits=list(benefits),
    )
    with opened(db_url) as database, database.writing() as conn:
        row = tie.put_tier(conn, cli_actor(), utc_now(), code, body)
    _show(row, as_json, f"tier {code} saved")


@tiers_group.command("retire")
@click.argument("code")
@click.option("--move-to", required=True, help="The tier its members move to.")
@db_option
@as_json_option
@handle_errors
def tiers_retire(code: str, move_to: str, db_url: str | None, as_json: bool) -> None:
    """Retire a tier: members move, its prices go, offers for it are disabled."""
    with opened(db_url) as database, database.writing() as conn:
        done = tie.retire_tier(conn, cli_actor(), utc_now(), code, move_to)
    _show(done, as_json, f"tier {code} retired; {done['members_moved']} members moved to {move_to}")


@tiers_group.command("list")
@db_option
@as_json_option
@handle_errors
def tiers_list(db_url: str | None, as_json: bool) -> None:
    """List tiers, retired ones too."""
    with opened(db_url) as database, database.reading() as conn:
        rows = tie.list_tiers(conn, cli_actor())
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        state = f"retired {row['retired_at']}" if row["retired_at"] else ""
        click.echo(
            f"{row['rank']:3} {row['code']:10} {row['name']:14} from {row['min_spend']:>12}"
            f" x{row['earn_multiplier_bp'] / 10_000:g} {state}"
        )


@member.command("search")
@click.argument("text")
@db_option
@as_json_option
@handle_errors
def member_search(text: str, db_url: str | None, as_json: bool) -> None:
    """Find members by number, phone or a part of their name."""
    with opened(db_url) as database, database.reading() as conn:
        rows = mem.search_members(conn, cli_actor(), text)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['member_no']}  {row['display_name']:20} {row['tier']:9} "
            f"{row['phone'] or '-':14} {row['status']}"
        )


@member.command("update")
@click.argument("number")
@click.option("--name", "display_name", help="The name cashiers see.")
@click.option("--full-name")
@click.option("--phone", help="A mobile number ('' removes it); one phone, one member.")
@click.option("--tier")
@click.option("--segments", help="Comma-separated segments (replaces them).")
@click.option("--status", type=click.Choice(MEMBER_STATUSES))
@db_option
@as_json_option
@handle_errors
def member_update(number: str, db_url: str | None, as_json: bool, **opts: Any) -> None:
    """Change a member."""
    if opts["segments"] is not None:
        opts["segments"] = [s.strip() for s in opts["segments"].split(",") if s.strip()]
    body = build(MemberUpdate, **opts)
    with opened(db_url) as database, database.writing() as conn:
        row = mem.update_member(conn, cli_actor(), utc_now(), number, body)
    _show(row, as_json, f"member {row['member_no']} saved")


@member.command("merge")
@click.argument("survivor")
@click.argument("absorbed")
@db_option
@as_json_option
@handle_errors
def member_merge(survivor: str, absorbed: str, db_url: str | None, as_json: bool) -> None:
    """Merge ABSORBED into SURVIVOR: ledger, cards and sales follow the survivor."""
    with opened(db_url) as database, database.writing() as conn:
        row = mem.merge_members(conn, cli_actor(), utc_now(), survivor, absorbed)
    _show(
        row,
        as_json,
        f"member {absorbed} merged into {row['member_no']}, balance {row['points_balance']}",
    )


@member.command("history")
@click.argument("number")
@db_option
@as_json_option
@handle_errors
def member_history(number: str, db_url: str | None, as_json: bool) -> None:
    """A member's changes, points ledger and last sales."""
    with opened(db_url) as database, database.reading() as conn:
        data = mem.member_history(conn, cli_actor(), number)
    if as_json:
        emit_json(data)
        return
    for change in data["changes"]:
        click.echo(f"{change['at']}  {change['actor']:20} {change['action']}")
    for entry in data["ledger"]:
        click.echo(f"{entry['created_at']}  {entry['kind']:7} {entry['points']:+}")
    for sale in data["sales"]:
        click.echo(f"{sale['created_at']}  {sale['kind']:6} {sale['store_id']} {sale['total']}")

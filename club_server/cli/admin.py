"""Operator commands: ``member``, ``terminal``, ``card`` and ``keys``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import click

from club_server.cards import issue_card, revoke_card
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
from club_server.keys import generate_key, list_keys, retire_key, rotate_key
from club_server.limits import clear_lockouts, list_lockouts
from club_server.members import add_member, show_member
from club_server.terminals import add_terminal, list_terminals, revoke_terminal
from clubcore.errors import FormatError

__all__ = ["card", "keys", "member", "terminal"]


@cli.group()
def member() -> None:
    """Add and look up members."""


@member.command("add")
@click.option("--name", "display_name", required=True, help="The name cashiers see.")
@click.option("--tier", default="basic", show_default=True, help="Tier code.")
@click.option("--number", "member_no", help="Member number [default: the next free one].")
@click.option("--phone", help="Mobile number (kept on the server; lanes get a salted hash).")
@click.option("--segments", default="", help="Comma-separated segments (family, student...).")
@click.option("--full-name", help="Full name (kept on the server only).")
@db_option
@as_json_option
@handle_errors
def member_add(
    display_name: str,
    tier: str,
    member_no: str | None,
    phone: str | None,
    segments: str,
    full_name: str | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Add a member and print their number."""
    with opened(db_url) as database, database.writing() as conn:
        number = add_member(
            conn,
            display_name=display_name,
            tier=tier,
            now=utc_now(),
            member_no=member_no,
            phone=phone,
            segments=segments,
            full_name=full_name,
        )
    emit_json({"member_no": number}) if as_json else click.echo(number)


@member.command("show")
@click.argument("number")
@db_option
@as_json_option
@handle_errors
def member_show(number: str, db_url: str | None, as_json: bool) -> None:
    """Show a member: tier, balance (the ledger sum), cards and recent ledger entries."""
    with opened(db_url) as database, database.reading() as conn:
        data = show_member(conn, number)
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"{data['member_no']}  {data['display_name']}  tier {data['tier']}  "
        f"status {data['status']}  points {data['points_balance']}"
    )
    for card_row in data["cards"]:
        click.echo(
            f"  card {card_row['serial']} {card_row['kind']} uid {card_row['uid'] or '-'} "
            f"expires {card_row['expires'] or '-'}"
        )
    for entry in data["ledger"]:
        click.echo(
            f"  {entry['created_at']} {entry['kind']:7} {entry['points']:+} "
            f"{entry['sale_id'] or ''}"
        )


@cli.group()
def terminal() -> None:
    """Create (enroll) and revoke terminals."""


@terminal.command("add")
@click.option("--store", "store_id", required=True, help="The store the terminal belongs to.")
@click.option("--name", help="A name for the operator (lane 3, ...).")
@db_option
@as_json_option
@handle_errors
def terminal_add(store_id: str, name: str | None, db_url: str | None, as_json: bool) -> None:
    """Create a terminal; print its id and one-time enrollment code (valid 24 h)."""
    with opened(db_url) as database, database.writing() as conn:
        made = add_terminal(conn, store_id, name, utc_now())
    if as_json:
        emit_json(
            {
                "terminal_id": made.terminal_id,
                "store_id": made.store_id,
                "code": made.code,
                "expires_at": made.expires_at,
            }
        )
        return
    click.echo(f"terminal {made.terminal_id} (store {made.store_id})")
    click.echo(f"enrollment code {made.code}, valid until {made.expires_at}")


@terminal.command("list")
@click.option("--store", "store_id", help="Only this store's terminals.")
@db_option
@as_json_option
@handle_errors
def terminal_list(store_id: str | None, db_url: str | None, as_json: bool) -> None:
    """Every terminal: store, enrolled, revoked, app version, sales pushed and the last push.

    The last call of any kind, and the age of the oldest sale in a terminal's
    last push (its outbox lag), are on /metrics (club_terminal_last_seen_timestamp,
    club_terminal_push_lag_seconds).
    """
    with opened(db_url) as database, database.reading() as conn:
        rows = list_terminals(conn, store_id)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked"] else ("enrolled" if row["enrolled_at"] else "new")
        click.echo(
            f"{row['terminal_id']:14} {row['store_id']:12} {state:8} "
            f"v{row['version'] or '?':8} {row['sales']:>8,} sales, "
            f"last push {row['last_push_at'] or 'never'}"
        )
    if not rows:
        click.echo("no terminals")


@terminal.command("revoke")
@click.argument("terminal_id")
@db_option
@handle_errors
def terminal_revoke(terminal_id: str, db_url: str | None) -> None:
    """Revoke a terminal: its credential is refused from now on."""
    with opened(db_url) as database, database.writing() as conn:
        revoke_terminal(conn, terminal_id, utc_now())
    click.echo(f"terminal {terminal_id} revoked")


@terminal.command("lockouts")
@click.option("--all", "everything", is_flag=True, help="Also addresses with failures, unlocked.")
@click.option("--clear", "clear", multiple=True, metavar="ADDRESS", help="Lift this lockout.")
@click.option("--clear-all", is_flag=True, help="Lift every lockout and forget all failures.")
@db_option
@as_json_option
@handle_errors
def terminal_lockouts(
    everything: bool, clear: tuple[str, ...], clear_all: bool, db_url: str | None, as_json: bool
) -> None:
    """Addresses locked out of enrollment after too many wrong codes; lift them with --clear."""
    with opened(db_url) as database, database.writing() as conn:
        if clear or clear_all:
            count = clear_lockouts(conn, None if clear_all else list(clear))
            click.echo(f"cleared {count} address{'es' if count != 1 else ''}")
            return
        rows = list_lockouts(conn, utc_now(), everything=everything)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        until = f"locked until {row['locked_until']}" if row["locked_until"] else "not locked"
        click.echo(
            f"{row['address']:39} {row['failures']:3} wrong codes since "
            f"{row['window_started_at']}, {until}"
        )
    if not rows:
        click.echo("no addresses locked out")


@cli.group()
def card() -> None:
    """Issue and revoke membership cards."""


def _uid(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        uid = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        raise FormatError(f"--uid {text!r} is not hexadecimal") from None
    if len(uid) not in (4, 7, 8, 10):
        raise FormatError(f"a chip UID is 4, 7, 8 or 10 bytes, not {len(uid)}")
    return uid


@card.command("issue")
@click.option("--member", "member_no", required=True, help="The member number.")
@click.option("--uid", help="The chip's UID in hex (omit for a printed QR card only).")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="Last valid day [+3 years].")
@db_option
@keys_dir_option
@as_json_option
@handle_errors
def card_issue(
    member_no: str,
    uid: str | None,
    expires: datetime | None,
    db_url: str | None,
    keys_dir: Path | None,
    as_json: bool,
) -> None:
    """Sign a card: print the NDEF hex for 'club-terminal card write' and the QR text."""
    until = expires.date() if expires else date.today() + timedelta(days=3 * 365)
    with opened(db_url) as database, database.writing() as conn:
        issued = issue_card(
            conn, resolve_keys_dir(database, keys_dir), member_no, _uid(uid), until, utc_now()
        )
    if as_json:
        emit_json(issued)
        return
    click.echo(
        f"card {issued['serial']} for member {member_no}, key {issued['key_id']}, "
        f"valid through {issued['expires']}"
    )
    if issued["ndef"]:
        click.echo(f"ndef {issued['ndef']}")
        click.echo(
            f"write: club-terminal card write --ndef {issued['ndef']} --expect-uid {issued['uid']}"
        )
    click.echo(f"qr {issued['qr']}")


@card.command("revoke")
@click.argument("serial")
@click.option("--reason", default="revoked", show_default=True, help="lost, stolen, replaced...")
@db_option
@handle_errors
def card_revoke(serial: str, reason: str, db_url: str | None) -> None:
    """Put a card on the denylist (terminals refuse it after their next delta)."""
    with opened(db_url) as database, database.writing() as conn:
        seq = revoke_card(conn, serial, reason, utc_now())
    click.echo(f"card {serial} revoked ({reason}), change {seq}")


@cli.group()
def keys() -> None:
    """The club's card-signing keys (Ed25519; private keys in files of mode 0600)."""


@keys.command("generate")
@db_option
@keys_dir_option
@handle_errors
def keys_generate(db_url: str | None, keys_dir: Path | None) -> None:
    """Create the club's first signing key."""
    with opened(db_url) as database, database.writing() as conn:
        key_id, path = generate_key(conn, resolve_keys_dir(database, keys_dir), utc_now())
    click.echo(f"key {key_id} created: {path}")


@keys.command("rotate")
@db_option
@keys_dir_option
@handle_errors
def keys_rotate(db_url: str | None, keys_dir: Path | None) -> None:
    """Sign new cards with a new key; older keys keep verifying until retired."""
    with opened(db_url) as database, database.writing() as conn:
        key_id, path = rotate_key(conn, resolve_keys_dir(database, keys_dir), utc_now())
    click.echo(f"key {key_id} is now the signing key: {path}")


@keys.command("retire")
@click.argument("key_id", type=int)
@db_option
@handle_errors
def keys_retire(key_id: int, db_url: str | None) -> None:
    """Retire a key: terminals refuse cards signed with it."""
    with opened(db_url) as database, database.writing() as conn:
        retire_key(conn, key_id, utc_now())
    click.echo(f"key {key_id} retired")


@keys.command("list")
@db_option
@as_json_option
@handle_errors
def keys_list(db_url: str | None, as_json: bool) -> None:
    """List the keys terminals know."""
    with opened(db_url) as database, database.reading() as conn:
        rows = list_keys(conn)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        state = "retired" if row["retired_at"] else "signing" if row["signing"] else "verify-only"
        click.echo(f"{row['key_id']:5}  {state:11}  {row['public_key']}")

"""Who may change what: ``account``, ``token``, ``audit`` and ``store``.

The command line acts as an admin named after the system user (whoever runs
it on the server can read the database anyway); every change it makes is in
the audit log under ``cli:<user>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError

from club_server.admin import accounts as acc
from club_server.admin import stores as sto
from club_server.admin.access import cli_actor
from club_server.admin.audit import list_audit
from club_server.admin.models import StoreIn
from club_server.cli.base import as_json_option, cli, db_option, emit_json, handle_errors, opened
from club_server.clock import utc_now
from clubcore.errors import FormatError
from clubcore.wire import summary

__all__ = ["account", "audit", "build", "store", "token"]

M = TypeVar("M", bound=BaseModel)


def build(model: type[M], **values: Any) -> M:
    """``model`` from command options (None means not given).

    Raises:
        FormatError: the values do not validate.
    """
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise FormatError(summary(exc)) from None


@cli.group()
def account() -> None:
    """Operator accounts: admin, operator, store_manager (admins only)."""


@account.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "operator", "store_manager"]), required=True)
@click.option("--store", "stores", multiple=True, help="A store manager's store (repeat).")
@click.password_option(help="At least 10 characters [prompted].")
@db_option
@handle_errors
def account_add(
    username: str, role: str, stores: tuple[str, ...], password: str, db_url: str | None
) -> None:
    """Add an account."""
    with opened(db_url) as database, database.writing() as conn:
        acc.create_account(
            conn,
            cli_actor(),
            utc_now(),
            username=username,
            role=role,
            password=password,
            stores=list(stores),
        )
    click.echo(f"account {username} ({role}) added")


@account.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "operator", "store_manager"]))
@click.option("--store", "stores", multiple=True, help="Replace the stores (repeat).")
@click.option("--password", help="A new password (ends the account's sessions).")
@click.option("--disable/--enable", "disabled", default=None, help="Disable or enable it.")
@db_option
@handle_errors
def account_set(
    username: str,
    role: str | None,
    stores: tuple[str, ...],
    password: str | None,
    disabled: bool | None,
    db_url: str | None,
) -> None:
    """Change an account's role, stores or password, or disable it."""
    with opened(db_url) as database, database.writing() as conn:
        acc.update_account(
            conn,
            cli_actor(),
            utc_now(),
            username,
            role=role,
            stores=list(stores) or None,
            password=password,
            disabled=disabled,
        )
    click.echo(f"account {username} changed")


@account.command("list")
@db_option
@as_json_option
@handle_errors
def account_list(db_url: str | None, as_json: bool) -> None:
    """List accounts."""
    with opened(db_url) as database, database.reading() as conn:
        rows = acc.list_accounts(conn, cli_actor())
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        state = f"disabled {row['disabled_at']}" if row["disabled_at"] else "active"
        click.echo(
            f"{row['username']:20} {row['role']:14} {','.join(row['stores']) or '-':20} {state}"
        )


@cli.group()
def token() -> None:
    """API tokens for machines (an ERP's nightly import); shown once, stored as hashes."""


@token.command("create")
@click.option("--name", required=True, help="Whose token it is (erp-nightly...).")
@click.option("--scope", type=click.Choice(["import"]), default="import", show_default=True)
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="Refused from this day.")
@db_option
@as_json_option
@handle_errors
def token_create(
    name: str, scope: str, expires: datetime | None, db_url: str | None, as_json: bool
) -> None:
    """Create a token and print it (the only time it is shown)."""
    until = expires.replace(tzinfo=UTC) if expires else None
    with opened(db_url) as database, database.writing() as conn:
        made = acc.create_token(
            conn, cli_actor(), utc_now(), name=name, scope=scope, expires_at=until
        )
    if as_json:
        emit_json(made.__dict__)
        return
    click.echo(f"token {made.token_id} ({scope}, expires {made.expires_at or 'never'}):")
    click.echo(made.token)


@token.command("list")
@db_option
@as_json_option
@handle_errors
def token_list(db_url: str | None, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    with opened(db_url) as database, database.reading() as conn:
        rows = acc.list_tokens(conn, cli_actor())
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['token_id']:12} {row['name']:20} {row['scope']:8} "
            f"expires {row['expires_at'] or 'never'}  {state}"
        )


@token.command("revoke")
@click.argument("token_id")
@db_option
@handle_errors
def token_revoke(token_id: str, db_url: str | None) -> None:
    """Revoke a token: refused from now on."""
    with opened(db_url) as database, database.writing() as conn:
        acc.revoke_token(conn, cli_actor(), utc_now(), token_id)
    click.echo(f"token {token_id} revoked")


@cli.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="From (UTC).")
@click.option("--entity", help="Only this entity (products, members, accounts...).")
@click.option("--key", help="Only this key (a SKU, a member number...).")
@click.option("--limit", default=1_000, show_default=True)
@db_option
@as_json_option
@handle_errors
def audit(
    since: datetime | None,
    entity: str | None,
    key: str | None,
    limit: int,
    db_url: str | None,
    as_json: bool,
) -> None:
    """The audit log: who changed what, when, before and after."""
    start = since.replace(tzinfo=UTC) if since else None
    with opened(db_url) as database, database.reading() as conn:
        rows = list_audit(conn, since=start, entity=entity, key=key, limit=limit)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        changed = _difference(row["before"], row["after"])
        click.echo(
            f"{row['at']}  {row['actor']:20} {row['action']:8} {row['entity']} "
            f"{row['key']}  {changed}"
        )


def _difference(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if before is None or after is None:
        return "(created)" if before is None else "(deleted)"
    keys = [k for k in after if before.get(k) != after.get(k) and k != "updated_at"]
    return ", ".join(f"{k}: {before.get(k)!r} -> {after[k]!r}" for k in keys)


@cli.group()
def store() -> None:
    """Stores: add, rename, time zone (admins)."""


@store.command("add")
@click.argument("store_id")
@click.option("--name", help="Its name [the id].")
@click.option("--timezone", help="IANA name, e.g. Asia/Tehran [the club's].")
@db_option
@handle_errors
def store_add(store_id: str, name: str | None, timezone: str | None, db_url: str | None) -> None:
    """Add a store."""
    with opened(db_url) as database, database.writing() as conn:
        sto.add_store(
            conn, cli_actor(), utc_now(), store_id, build(StoreIn, name=name, timezone=timezone)
        )
    click.echo(f"store {store_id} added")


@store.command("set")
@click.argument("store_id")
@click.option("--name", help="A new name.")
@click.option("--timezone", help="IANA name, e.g. Asia/Tehran.")
@db_option
@handle_errors
def store_set(store_id: str, name: str | None, timezone: str | None, db_url: str | None) -> None:
    """Rename a store or set its time zone."""
    with opened(db_url) as database, database.writing() as conn:
        sto.update_store(
            conn, cli_actor(), utc_now(), store_id, build(StoreIn, name=name, timezone=timezone)
        )
    click.echo(f"store {store_id} changed")


@store.command("list")
@db_option
@as_json_option
@handle_errors
def store_list(db_url: str | None, as_json: bool) -> None:
    """List stores."""
    with opened(db_url) as database, database.reading() as conn:
        rows = sto.list_stores(conn, cli_actor())
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['store_id']:16} {row['name']:24} {row['timezone'] or '(club)'}")

"""The club's settings: ``settings show`` and ``settings set``."""

from __future__ import annotations

import click

from club_server.cli.base import as_json_option, cli, db_option, emit_json, handle_errors, opened
from club_server.settings import change_settings, parse_pairs, show_settings

__all__ = ["settings_group"]


@cli.group("settings")
def settings_group() -> None:
    """The club's settings (lanes receive them; velocity.* are the server's)."""


@settings_group.command("show")
@db_option
@as_json_option
@handle_errors
def settings_show(db_url: str | None, as_json: bool) -> None:
    """Every setting: its value (or not set), whether it can be set, and what it is."""
    with opened(db_url) as database, database.reading() as conn:
        rows = show_settings(conn)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        value = "(not set)" if row["value"] is None else row["value"]
        mark = "" if row["settable"] else "  [not settable]"
        click.echo(f"{row['key']:27} {value:14} {row['description']}{mark}")


@settings_group.command("set")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY VALUE [KEY VALUE]...")
@db_option
@handle_errors
def settings_set(pairs: tuple[str, ...], db_url: str | None) -> None:
    """Change settings, all or none; lanes get them in their next delta.

    Every key and value is checked before anything is written. A change to a
    points.*, policy.* or offline.redeem_cap_points rule raises rules_version
    by one unless rules_version is given too (it may only go up). phone_salt
    cannot be changed.
    """
    values = parse_pairs(pairs)
    with opened(db_url) as database, database.writing() as conn:
        changed = change_settings(conn, values)
    for key, (old, new) in changed.items():
        click.echo(f"{key}: {'(not set)' if old is None else old} -> {new}")
    if not changed:
        click.echo("nothing changed")

"""The database's schema: ``db upgrade``, ``db current``, ``db history``.

Every other command upgrades the schema when it opens the database; these
show where it stands (``current``, ``history`` change nothing) or upgrade it
on purpose, say after installing a new version and before starting the
service.
"""

from __future__ import annotations

import click

from club_server.cli.base import as_json_option, cli, db_option, emit_json, handle_errors, opened
from club_server.migrations import SchemaStatus, migrate, revisions, schema_status

__all__ = ["db_group"]


@cli.group("db")
def db_group() -> None:
    """The database's schema: upgrade it, or see its revision and the revisions' history."""


def _where(status: SchemaStatus) -> str:
    """One line: the revision and what it means."""
    if status.pending is None:
        found = status.revision or f"old version {status.legacy_version}"
        return f"{found}: unknown to this program (made by a newer one; head here is {status.head})"
    if status.revision is None and not status.legacy_version:
        return f"none: an empty database ({len(status.pending)} revisions to apply)"
    found = status.revision or f"none: the old runner's version {status.legacy_version}"
    if not status.pending:
        return f"{found} (head)"
    return f"{found}, behind head {status.head}: run club-server db upgrade"


@db_group.command("upgrade")
@db_option
@as_json_option
@handle_errors
def db_upgrade(db_url: str | None, as_json: bool) -> None:
    """Bring the schema to the newest revision (what every command does on opening)."""
    with opened(db_url, migrate=False) as database:
        with database.reading() as conn:
            before = schema_status(conn)
        applied = migrate(database)
    if as_json:
        emit_json({"from": before.revision, "legacy_version": before.legacy_version,
                   "to": before.head, "applied": applied})  # fmt: skip
    elif applied:
        click.echo(f"upgraded to {before.head}, applied {', '.join(applied)}")
    else:
        click.echo(f"already at {before.head} (head)")


@db_group.command("current")
@db_option
@as_json_option
@handle_errors
def db_current(db_url: str | None, as_json: bool) -> None:
    """The schema's revision and whether it is the newest; changes nothing."""
    with opened(db_url, migrate=False) as database, database.reading() as conn:
        status = schema_status(conn)
    if as_json:
        emit_json({"revision": status.revision, "legacy_version": status.legacy_version,
                   "head": status.head, "pending": status.pending})  # fmt: skip
    else:
        click.echo(_where(status))


@db_group.command("history")
@db_option
@as_json_option
@handle_errors
def db_history(db_url: str | None, as_json: bool) -> None:
    """Every revision, oldest first, the database's marked; changes nothing."""
    with opened(db_url, migrate=False) as database, database.reading() as conn:
        status = schema_status(conn)
    names = [script.revision for script in revisions()]
    applied = [n for n in names if status.pending is not None and n not in status.pending]
    rows = [
        {"revision": script.revision, "what": script.doc, "applied": script.revision in applied}
        for script in revisions()
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        mark = "*" if applied and row["revision"] == applied[-1] else " "
        click.echo(f"{mark} {row['revision']}  {'applied' if row['applied'] else 'pending':7}  "
                   f"{row['what']}")  # fmt: skip
    click.echo(f"(* where the database is; head is {status.head})")
    if status.pending is None:
        click.echo(f"the database is at {_where(status)}")

"""The ``club-server`` group and what its commands share (options, errors, output)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from club_server.db import DB_ENV, Database, open_database
from club_server.keys import default_keys_dir
from clubcore.errors import ClubError, ConfigError, UserFacingError

__all__ = [
    "as_json_option",
    "cli",
    "db_option",
    "emit_json",
    "handle_errors",
    "keys_dir_option",
    "opened",
    "resolve_keys_dir",
]

P = ParamSpec("P")
R = TypeVar("R")
KEYS_ENV = "CLUB_SERVER_KEYS"

db_option = click.option(
    "--db",
    "db_url",
    envvar=DB_ENV,
    metavar="URL",
    help=f"sqlite:///PATH, a path, or postgresql://USER@HOST/DB [env {DB_ENV}; "
    "default: a SQLite file in the per-user data dir].",
)
keys_dir_option = click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=KEYS_ENV,
    help=f"Where private signing keys live [env {KEYS_ENV}; default: keys/ next to the DB].",
)
as_json_option = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one clear line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except UserFacingError as exc:
            click.echo(f"error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
        except ClubError as exc:
            click.echo(f"error: {exc}", err=True)
        except SQLAlchemyError as exc:
            click.echo(
                f"error: database: {exc.__class__.__name__}: {exc}".splitlines()[0], err=True
            )
        sys.exit(1)

    return wrapper


@contextmanager
def opened(db_url: str | None, *, migrate: bool = True) -> Iterator[Database]:
    """The server database at ``db_url`` (migrated unless ``migrate`` is False), disposed of
    afterwards.

    Raises:
        ConfigError: the database cannot be reached or opened.
        MigrationError: its schema cannot be brought up to date.
    """
    try:
        database = open_database(db_url, migrate=migrate)
    except SQLAlchemyError as exc:
        raise ConfigError("db", f"cannot open the database: {exc}".splitlines()[0]) from exc
    try:
        yield database
    finally:
        database.dispose()


def resolve_keys_dir(database: Database, keys_dir: Path | None) -> Path:
    """``--keys-dir``, or the default next to the database."""
    return keys_dir or default_keys_dir(database)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON (dates and the like as text)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="club-terminal")
def cli() -> None:
    """Club server: members, cards, keys, terminals, sales, points and reports."""

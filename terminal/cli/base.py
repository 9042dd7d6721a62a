"""The ``club-terminal`` group and what its commands share."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from clubcore.errors import (
    ClubError,
    ConfigError,
    FormatError,
    ServerUnreachableError,
    StoreError,
    TerminalRevokedError,
    UserFacingError,
)
from clubcore.logs import FORMATS, LEVELS, configure_logging
from offline_store.db import DB_FILENAME, store_error
from terminal.bootstrap import DATA_DIR_ENV, Terminal, bootstrap, default_data_dir

__all__ = [
    "EXIT_DATA",
    "EXIT_REFUSED",
    "EXIT_REVOKED",
    "EXIT_UNREACHABLE",
    "LOG_FILE_ENV",
    "LOG_FORMAT_ENV",
    "LOG_LEVEL_ENV",
    "PIN_ENV",
    "cli",
    "emit_json",
    "exit_status",
    "handle_errors",
    "opened",
    "parse_item",
    "setup_logging",
]

P = ParamSpec("P")
R = TypeVar("R")

PIN_ENV = "CLUB_TERMINAL_PIN"
LOG_LEVEL_ENV = "CLUB_TERMINAL_LOG_LEVEL"
LOG_FORMAT_ENV = "CLUB_TERMINAL_LOG_FORMAT"
LOG_FILE_ENV = "CLUB_TERMINAL_LOG_FILE"


def parse_item(text: str) -> tuple[str, int]:
    """``SKU[:QTY]`` -> (code, quantity).

    Raises:
        FormatError: empty code, or a quantity that is not a whole number.
    """
    code, sep, qty_text = text.strip().partition(":")
    if not code:
        raise FormatError(f"--item {text!r}: expected SKU or SKU:QTY")
    if not sep:
        return code, 1
    try:
        return code, int(qty_text)
    except ValueError:
        raise FormatError(f"--item {text!r}: quantity {qty_text!r} is not a whole number") from None


#: exit statuses scripts and systemd can tell apart (README, "Exit statuses"); the last three
#: are sysexits.h's, so they do not collide with a command's own (``read``: 3 refused, 4 no card)
EXIT_REFUSED = 1  # bad input, or refused (a wrong PIN, an unknown SKU, a used code)
EXIT_DATA = 74  # EX_IOERR: the local data: a full disk, a read-only directory, a damaged file
EXIT_UNREACHABLE = 75  # EX_TEMPFAIL: the club server did not answer: try again later
EXIT_REVOKED = 77  # EX_NOPERM: this terminal was revoked: re-provision (no restart helps)


def exit_status(exc: BaseException) -> int:
    """The exit status for an error (:data:`EXIT_REFUSED` unless a more telling one fits)."""
    if isinstance(exc, TerminalRevokedError):
        return EXIT_REVOKED
    if isinstance(exc, ServerUnreachableError):
        return EXIT_UNREACHABLE
    if isinstance(exc, StoreError | sqlite3.Error):
        return EXIT_DATA
    return EXIT_REFUSED


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one clear line on stderr (and a hint) and an exit status that
    says what kind of problem it was (:func:`exit_status`).

    A SQLite error that reached here unmapped is mapped by its result code
    (:func:`offline_store.db.store_error`): never a traceback for a full disk.
    """

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as exc:
            error: ClubError = store_error(exc, _db_path())
        except ClubError as exc:
            error = exc
        status = exit_status(error)
        _report(error, status, as_json=bool(kwargs.get("as_json")))
        sys.exit(status)

    return wrapper


_KINDS = {EXIT_DATA: "data", EXIT_UNREACHABLE: "unreachable", EXIT_REVOKED: "revoked"}


def _report(exc: ClubError, status: int, *, as_json: bool) -> None:
    """The error line (and hint) on stderr; with ``--json`` also an object on stdout:
    ``{"error": refused|data|unreachable|revoked, "type", "message", "hint", "exit_status"}``."""
    if as_json:
        message = exc.message if isinstance(exc, UserFacingError) else str(exc)
        hint = exc.hint if isinstance(exc, UserFacingError) else None
        emit_json({"error": _KINDS.get(status, "refused"), "type": type(exc).__name__,
                   "message": message, "hint": hint, "exit_status": status})  # fmt: skip
    if isinstance(exc, UserFacingError):
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)


def _db_path() -> Path | None:
    ctx = click.get_current_context(silent=True)
    data_dir = ctx.find_root().obj.get("data_dir") if ctx and ctx.find_root().obj else None
    return Path(data_dir) / DB_FILENAME if data_dir else None


@contextmanager
def opened(ctx: click.Context, *, require_data: bool = True) -> Iterator[Terminal]:
    """The terminal in ``--data-dir``, closed afterwards.

    Raises:
        ConfigError: ``require_data`` and the terminal holds no store data yet.
    """
    terminal = bootstrap(ctx.obj["data_dir"])
    try:
        if require_data and not terminal.settings.has_store_data:
            raise ConfigError(
                "data_dir",
                f"{terminal.data_dir} holds no store data yet",
                hint="run 'club-terminal demo-data', or provision the terminal",
            )
        yield terminal
    finally:
        terminal.close()


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=DATA_DIR_ENV,
    help=f"Where the terminal keeps its data [env {DATA_DIR_ENV}; default: per-user data dir].",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="WARNING",
    show_default=True,
    envvar=LOG_LEVEL_ENV,
    help=f"The least severe log lines written [env {LOG_LEVEL_ENV}; the units set INFO].",
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
    help=f"Also log to this file [env {LOG_FILE_ENV}; the kiosk's units: "
    "/var/log/club-terminal/*.log].",
)
@click.version_option(package_name="club-terminal")
@click.pass_context
def cli(
    ctx: click.Context,
    data_dir: Path | None,
    log_level: str,
    log_format: str,
    log_file: Path | None,
) -> None:
    """Club Terminal: member pricing, points and sales at the lane."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir or default_data_dir()
    setup_logging(log_level, log_format, log_file)


def setup_logging(level: str, fmt: str, file: Path | None) -> None:
    """Configure logging (:mod:`clubcore.logs`); a log file that cannot be written is
    a warning, never a reason not to sell: the lines still go to stderr."""
    try:
        configure_logging(level, fmt, file)
    except ConfigError as exc:
        click.echo(f"warning: {exc.message}; logging to stderr only", err=True)
        configure_logging(level, fmt, None)

"""The ``club-terminal`` group and what its commands share."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from clubcore.errors import ClubError, ConfigError, FormatError, UserFacingError
from terminal.bootstrap import DATA_DIR_ENV, Terminal, bootstrap, default_data_dir

__all__ = ["PIN_ENV", "cli", "emit_json", "handle_errors", "opened", "parse_item"]

P = ParamSpec("P")
R = TypeVar("R")

PIN_ENV = "CLUB_TERMINAL_PIN"


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
        sys.exit(1)

    return wrapper


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
@click.version_option(package_name="club-terminal")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None) -> None:
    """Club Terminal: member pricing, points and sales at the lane."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir or default_data_dir()

"""The touchscreen app from the command line: ``run`` and ``screenshots``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from clubcore.errors import ConfigError
from terminal import demo_data
from terminal.bootstrap import Terminal
from terminal.cli.base import cli, handle_errors, opened
from terminal.config import apply_config, config_path, load_config
from terminal.instance_lock import exclusive
from terminal.ui.env import check_display
from terminal.ui.options import AppOptions

__all__ = ["app_options", "run", "screenshots"]


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ConfigError("--size", f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x800") from None
    return width, height


@cli.command("run")
@click.option(
    "--demo",
    is_flag=True,
    help="Seed a demo store if empty; simulated reader with on-screen demo cards.",
)
@click.option(
    "--fullscreen/--windowed",
    default=None,
    help="Full screen (kiosk) [default: setting kiosk.fullscreen, else windowed].",
)
@click.option(
    "--size",
    default=None,
    help="Window size, WIDTHxHEIGHT [default: setting kiosk.size, else 1280x800].",
)
@click.option(
    "--language",
    type=click.Choice(["en", "fa"]),
    default=None,
    help="Start in this language [default: setting ui.language, else en].",
)
@click.option(
    "--reader",
    "readers",
    multiple=True,
    help="A reader path (repeatable) instead of the readers setting.",
)
@click.pass_context
@handle_errors
def run(
    ctx: click.Context,
    demo: bool,
    fullscreen: bool | None,
    size: str | None,
    language: str | None,
    readers: tuple[str, ...],
) -> None:
    """Open the touchscreen app (needs a display: a desktop session, or xvfb-run).

    The terminal's configuration file (``terminal.toml`` in the data directory,
    or ``$CLUB_TERMINAL_CONFIG``), if there is one, is validated and applied
    first; a bad value stops the start with a message naming the key.

    Readers come from the ``readers`` setting (``sim`` until the terminal is
    provisioned). With --demo an empty data directory gets a demo store and
    the simulated reader's demo cards appear on screen. One app per data
    directory: a second is refused, naming the first.
    """
    with exclusive(ctx.obj["data_dir"], "app"):
        _run(ctx, demo, fullscreen, size, language, readers)


def _run(
    ctx: click.Context,
    demo: bool,
    fullscreen: bool | None,
    size: str | None,
    language: str | None,
    readers: tuple[str, ...],
) -> None:
    with opened(ctx, require_data=False) as terminal:
        path = config_path(terminal.data_dir)
        if path.exists():  # validated whole before anything starts; applied in one transaction
            apply_config(terminal.db, load_config(path))
    check_display()
    with opened(ctx, require_data=False) as terminal:
        if demo and not terminal.db["products"].count:
            click.echo(f"seeding a demo store in {terminal.data_dir} ...", err=True)
            demo_data.seed_demo(terminal)
        options = app_options(terminal, demo, fullscreen, size, language, readers)
    from terminal.ui.launch import run_app

    run_app(options)


def app_options(
    terminal: Terminal,
    demo: bool,
    fullscreen: bool | None,
    size: str | None,
    language: str | None,
    readers: tuple[str, ...],
) -> AppOptions:
    """How ``run`` opens the app: its options first, then the terminal's settings.

    Raises:
        ConfigError: a malformed size.
    """
    settings = terminal.settings
    paths = list(readers) or (["sim"] if demo else list(settings.readers))
    if fullscreen is None:
        fullscreen = settings.fullscreen
    lang = language or settings.language
    return AppOptions(
        terminal.data_dir,
        paths,
        demo=demo,
        fullscreen=fullscreen,
        size=_size(size) if size else settings.kiosk_size,
        language=lang if lang in ("en", "fa") else "en",
    )


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where to write the PNGs.",
)
@click.option(
    "--sizes", default="1280x800,800x480", show_default=True, help="Window sizes, comma-separated."
)
@handle_errors
def screenshots(out: Path, sizes: str) -> None:
    """Screenshots of every screen in English and Persian, from a fresh demo store."""
    check_display()
    from terminal.ui.screenshots import take_screenshots

    with tempfile.TemporaryDirectory(prefix="club-shots-") as tmp:
        written = take_screenshots(Path(tmp), out, [_size(s) for s in sizes.split(",")])
    for path in written:
        click.echo(str(path))

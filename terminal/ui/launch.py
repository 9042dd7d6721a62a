"""Start the app: Kivy's configuration first, then the font, then the window.

Kivy reads its configuration when its window is created, so
:func:`configure` must run before :mod:`terminal.ui.app` is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from terminal.ui.env import find_font, prepare_kivy_env

if TYPE_CHECKING:
    from terminal.ui.app import ClubTerminalApp
    from terminal.ui.options import AppOptions

__all__ = ["configure", "make_app", "run_app"]


def configure(size: tuple[int, int], fullscreen: bool, *, quiet: bool = True) -> None:
    """Set Kivy's window configuration and register DejaVu Sans as the default font.

    Raises:
        ConfigError: the font is missing.
    """
    regular, bold = find_font(), find_font(bold=True)
    prepare_kivy_env(quiet=quiet)
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "resizable", "1")
    # No MSAA: the UI is axis-aligned rectangles and pre-rendered text, and
    # multisampling doubles the frame buffers (about 50 MB at 1280x800 with
    # software rendering) and the fill work (deploy/kivy/config.ini agrees).
    Config.set("graphics", "multisamples", "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.core.text import DEFAULT_FONT, LabelBase

    LabelBase.register(DEFAULT_FONT, fn_regular=str(regular), fn_bold=str(bold))


def make_app(options: AppOptions, *, quiet: bool = True) -> ClubTerminalApp:
    """Configure Kivy for ``options`` and build (not run) the app."""
    configure(options.size, options.fullscreen, quiet=quiet)
    from terminal.ui.app import ClubTerminalApp

    return ClubTerminalApp(options)


def run_app(options: AppOptions) -> None:
    """Open the app and run it until it is closed."""
    make_app(options).run()

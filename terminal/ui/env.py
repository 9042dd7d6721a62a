"""The app's surroundings: is there a display, where is the font, Kivy's environment.

Nothing here imports Kivy, so the CLI can refuse cleanly before Kivy tries to
open a window that cannot exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from clubcore.errors import ConfigError

__all__ = ["DEJAVU_PATHS", "NoDisplayError", "check_display", "find_font", "prepare_kivy_env"]

#: where Debian's fonts-dejavu-core puts the font (regular, bold)
DEJAVU_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)

_NO_DISPLAY_HINT = (
    "run it from a desktop session, or under a virtual display: "
    "'xvfb-run -a -s \"-screen 0 1280x800x24\" club-terminal run', "
    "or choose a window backend yourself with KIVY_WINDOW / SDL_VIDEODRIVER "
    "(e.g. SDL_VIDEODRIVER=kmsdrm on a kiosk without X)"
)


class NoDisplayError(ConfigError):
    """There is no display to open the app on."""

    def __init__(self) -> None:
        super().__init__("display", "no display to open the app on", hint=_NO_DISPLAY_HINT)


def check_display(environ: dict[str, str] | None = None) -> None:
    """Make sure a window can plausibly be opened.

    A display is assumed when ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set, or
    when the user chose a backend with ``KIVY_WINDOW`` or ``SDL_VIDEODRIVER``.

    Raises:
        NoDisplayError: none of these is set.
    """
    env = os.environ if environ is None else environ
    keys = ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_WINDOW", "SDL_VIDEODRIVER")
    if not any(env.get(key) for key in keys):
        raise NoDisplayError()


def find_font(bold: bool = False) -> Path:
    """DejaVu Sans (Latin and Arabic script), from the Debian path or ``fc-match``.

    Raises:
        ConfigError: the font is not installed.
    """
    candidate = DEJAVU_PATHS[1 if bold else 0]
    if candidate.is_file():
        return candidate
    fc_match = shutil.which("fc-match")
    if fc_match:
        pattern = "DejaVu Sans:bold" if bold else "DejaVu Sans"
        found = subprocess.run(
            [fc_match, "-f", "%{file}", pattern], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found and "DejaVuSans" in found and Path(found).is_file():
            return Path(found)
    raise ConfigError(
        "font",
        "DejaVu Sans is not installed (it covers both Latin and Persian script)",
        hint="install it: apt-get install fonts-dejavu-core (scripts/setup.sh does)",
    )


def prepare_kivy_env(*, quiet: bool = True) -> None:
    """Set Kivy's environment before its first import: no argv parsing, little logging."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")  # nothing in ~/.kivy/logs
    # Kivy's lines go through the process's one logging set-up (clubcore.logs)
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    if quiet:
        os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

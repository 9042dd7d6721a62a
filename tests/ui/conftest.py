"""UI test fixtures: a private Xvfb display and fresh demo stores.

The app tests run each scenario in its own process (one Kivy app per
process), on an Xvfb display started once per session. They are skipped,
saying why, when Xvfb or Kivy is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_display() -> int:
    for number in range(90, 140):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{number}").exists()
        ):
            return number
    raise RuntimeError("no free X display number between :90 and :139")


@pytest.fixture(scope="session")
def xdisplay() -> Iterator[str]:
    """A running ``Xvfb :N -screen 0 1920x1080x24``; yields ``":N"``."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb, or run scripts/setup.sh)")
    if importlib.util.find_spec("kivy") is None:  # not imported here: one app per process
        pytest.skip("the ui extra is not installed: pip install -e '.[ui]'")
    number = _free_display()
    proc = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Xvfb :{number} did not start")
        time.sleep(0.05)
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def demo_store(tmp_path: Path) -> Path:
    """A fresh demo store with its demo cards, and no sales."""
    from terminal.bootstrap import bootstrap
    from terminal.demo_data import seed_demo

    terminal = bootstrap(tmp_path / "lane")
    try:
        seed_demo(terminal)
    finally:
        terminal.close()
    return tmp_path / "lane"


def run_scenario(
    name: str, data_dir: Path, display: str, timeout: float = 60, size: str = "1280x800"
) -> dict[str, object]:
    """Run ``tests/ui/scenarios.py``'s scenario ``name`` in the real app, in a new process.

    ``size`` is the app window's, WIDTHxHEIGHT (the display is 1920x1080).
    """
    import json
    import sys

    env = {
        **os.environ,
        "DISPLAY": display,
        "KIVY_NO_ARGS": "1",
        "KIVY_HOME": str(data_dir),
        "CLUB_TEST_WINDOW": size,
    }
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ui.scenarios", name, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(
            f"scenario {name} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    result: dict[str, object] = json.loads(lines[-1])
    return result

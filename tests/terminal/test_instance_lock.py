"""One app and one sync daemon per data directory (terminal.instance_lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clubcore.errors import AlreadyRunningError
from terminal.instance_lock import exclusive

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_holder_of_a_role_is_refused_naming_the_first(tmp_path: Path) -> None:
    with exclusive(tmp_path, "sync"):
        with pytest.raises(AlreadyRunningError) as caught, exclusive(tmp_path, "sync"):
            pass
        assert f"pid {os.getpid()}" in caught.value.message
        assert "club-terminal-sync" in (caught.value.hint or "")
        with exclusive(tmp_path, "app"):  # the app and the sync service share a directory
            pass
    with exclusive(tmp_path, "sync"):  # released with the block
        pass


def test_the_lock_goes_with_a_killed_process(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from terminal.instance_lock import exclusive\n"
        "with exclusive(Path(sys.argv[1]), 'sync'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(AlreadyRunningError, match=f"pid {holder.pid}"),
            exclusive(tmp_path, "sync"),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            with exclusive(tmp_path, "sync"):
                break
        except AlreadyRunningError:
            assert time.monotonic() < deadline
            time.sleep(0.05)

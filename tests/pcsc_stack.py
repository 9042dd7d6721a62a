"""The real PC/SC stack for tests: pcscd with the vsmartcard-vpcd driver.

If a pcscd already answers on its socket (a system service), the tests use it
and the restart test is skipped; otherwise the session starts
``pcscd --foreground`` as a subprocess, stops it at the end, and lets a test
stop and start it again. Tests skip only when pcscd or the vpcd driver is not
installed (``apt install pcscd vsmartcard-vpcd``; the README set-up does it).
The fixtures are registered for the whole suite by ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.readers.vpcd import VirtualCard

__all__ = [
    "READER",
    "VPCD_DRIVER",
    "Pcscd",
    "PcscdError",
    "insert",
    "pcscd",
    "pcscd_answers",
    "pcscd_missing",
    "port_open",
    "vpcd_configured",
]

READER = "Virtual PCD 00 00"
SOCKET = Path("/run/pcscd/pcscd.comm")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")


def vpcd_configured() -> bool:
    """Whether pcscd's reader config loads the vpcd driver."""
    confs = [Path("/etc/reader.conf"), *Path("/etc/reader.conf.d").glob("*")]
    return any(p.is_file() and "libifdvpcd" in p.read_text(errors="replace") for p in confs)


def pcscd_answers() -> bool:
    """Whether a pcscd answers on its socket."""
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(SOCKET))
        except OSError:
            return False
    return True


def port_open(port: int) -> bool:
    """Whether something listens on this loopback port (vpcd's card side)."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class PcscdError(RuntimeError):
    """pcscd did not come up (the message ends with its log)."""


def pcscd_missing() -> str | None:
    """Why pcscd with the vpcd driver cannot be used here, or None."""
    if shutil.which("pcscd") is None or not VPCD_DRIVER.exists() or not vpcd_configured():
        return "pcscd and vsmartcard-vpcd are not installed (apt install pcscd vsmartcard-vpcd)"
    return None


class Pcscd:
    """pcscd for the tests and the reader benchmark: one already running is used
    and left alone; otherwise ``pcscd --foreground`` is started here and
    stopped by :meth:`stop`.

    Arguments:
        log_path: where a pcscd started here writes.
        verbose: run it with ``--info`` (the tests' logs; the benchmark does without).
        port: the vpcd card-side port that must be open before it counts as up.
    """

    def __init__(self, log_path: Path, *, verbose: bool = True, port: int = 35963) -> None:
        self.log_path, self.verbose, self.port = log_path, verbose, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.external = pcscd_answers()

    def start(self, timeout: float = 15.0) -> None:
        """Start pcscd unless one runs already.

        Raises:
            PcscdError: it did not come up within ``timeout`` (it is stopped).
        """
        if self.external or self.proc is not None:
            return
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                ["pcscd", "--foreground", *(["--info"] if self.verbose else [])],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        # an external process has no event to wait on: poll its socket and vpcd's port
        while not (pcscd_answers() and port_open(self.port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log_text = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise PcscdError(f"pcscd did not come up; its log ends:\n{log_text}")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    """A running pcscd with the vpcd readers (started for the session if needed)."""
    why_not = pcscd_missing()
    if why_not is not None:
        pytest.skip(why_not)
    daemon = Pcscd(tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    try:
        daemon.start()
    except PcscdError as exc:
        pytest.fail(str(exc))
    yield daemon
    daemon.stop()


@pytest.fixture
def insert(pcscd: Pcscd) -> Iterator[Callable[[VirtualCard], VirtualCard]]:
    """Insert virtual cards; every one is removed at the end of the test."""
    cards: list[VirtualCard] = []

    def _insert(card: VirtualCard) -> VirtualCard:
        cards.append(card)
        card.connect()
        return card

    yield _insert
    for card in cards:
        card.remove()

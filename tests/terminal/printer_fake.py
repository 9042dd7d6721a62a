"""A network receipt printer emulated on loopback: a TCP listener that keeps the bytes sent.

Also decodes what ESC/POS raster images (``GS v 0``) it received back into pixels.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from PIL import Image


class FakePrinter:
    """Listens on 127.0.0.1 (a free port); each connection's bytes are one job."""

    def __init__(self) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return f"net:127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while data := conn.recv(65536):
                    chunks.append(data)
                self.jobs.append(b"".join(chunks))
                self._done.set()

    def wait(self, timeout: float = 10.0) -> bytes:
        assert self._done.wait(timeout), "the printer received nothing"
        self._done.clear()
        return self.jobs[-1]

    def close(self) -> None:
        """Stop listening: connecting is refused from now on (shutdown wakes the accept)."""
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakePrinter:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def raster_images(job: bytes) -> Image.Image:
    """The ``GS v 0`` raster fragments of a job stacked into one 1-bit image (ink = black)."""
    fragments = []
    at = 0
    while (at := job.find(b"\x1dv0", at)) >= 0:
        width_bytes = job[at + 4] | job[at + 5] << 8
        rows = job[at + 6] | job[at + 7] << 8
        start = at + 8
        data = job[start : start + width_bytes * rows]
        inverted = Image.frombytes("1", (width_bytes * 8, rows), data)
        fragments.append(inverted.point(lambda v: 255 - v, mode="1"))  # 1 bits are ink
        at = start + len(data)
    assert fragments, "no raster image in the job"
    width = max(f.width for f in fragments)
    stacked = Image.new("1", (width, sum(f.height for f in fragments)), 1)
    y = 0
    for fragment in fragments:
        stacked.paste(fragment, (0, y))
        y += fragment.height
    return stacked

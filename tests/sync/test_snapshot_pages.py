"""The snapshot's page reader alone: pages cut into blocks, a stalled download stopped."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from sync.entities import ENTITIES
from sync.http import SyncClient
from sync.snapshot_pages import PageReader, _Page
from tests.sync.conftest import FAST
from tests.sync.scripted import Reply, Request, ndjson_reply

STAMP = "2026-11-22T09:00:00+00:00"


def test_a_stream_broken_after_the_next_line_resumes_after_the_last_row() -> None:
    # every line of the page arrived, then the connection broke (say, in the gzip trailer)
    page = _Page(ENTITIES["denylist"], None)
    assert page.feed(b'["900021", null, "lost", "x"]\n["900022", null, "lost", "x"]\n') is None
    assert page.feed(b'{"next": null}\n') is None  # held back: lines are handed over in blocks
    block = page.cut()
    assert block is not None and block.count(b"\n") == 2 and b"next" not in block
    assert page.last_key == "900022"


class StallingServer:
    """Answers as ``route`` does, but sends only half of a ``stall`` entity's page, then waits.

    A plain socket server: the scripted one cannot stop in the middle of a body.
    ``stalled`` is set once the half page is sent.
    """

    def __init__(self, route: Callable[[Request], Reply], stall: str) -> None:
        self.route = route
        self.stall = stall
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as rfile:
            while line := rfile.readline():
                while rfile.readline() not in (b"\r\n", b""):
                    pass  # the headers
                url = urlsplit(line.split()[1].decode())
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                reply = self.route(Request("GET", url.path, query, {}, b""))
                head = [f"HTTP/1.1 {reply.status} OK"]
                head += [f"{k}: {v}" for k, v in reply.headers.items()]
                head += [f"Content-Length: {len(reply.body)}", "", ""]
                stall = url.path.endswith("/" + self.stall)
                body = reply.body[: len(reply.body) // 2] if stall else reply.body
                conn.sendall("\r\n".join(head).encode() + body)
                if stall:
                    self.stalled.set()
                    self.release.wait(60)
                    return

    def close(self) -> None:
        self.release.set()
        self.sock.close()


def members_only(request: Request) -> Reply:
    """Every entity's single page: 3,000 members, no rows of the others."""
    rows: list[object] = []
    if request.path.endswith("/members"):
        rows = [
            [f"{1000000000 + i}", f"M {i}", "gold", "", None, 10 * i, 0, "active", STAMP]
            for i in range(3000)
        ]
    return ndjson_reply([*rows, {"next": None}])


def test_a_download_stalled_mid_page_is_interrupted_when_the_reader_is_stopped() -> None:
    server = StallingServer(members_only, stall="members")
    client = SyncClient(server.url, credential="T1.x", policy=FAST)
    reader = PageReader(client, page_limit=50_000)
    try:
        reader.start()
        assert server.stalled.wait(10), "the reader never reached the members page"
        started = time.monotonic()
        reader.stop()
        # the page's read timeout is 120 s: the reader was interrupted, not timed out
        assert time.monotonic() - started < 4
        assert not reader.is_alive()
    finally:
        server.close()

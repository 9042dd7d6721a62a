"""The snapshot's page reader: pages streamed, decompressed and cut into blocks on a thread.

:func:`sync.snapshot.load_snapshot` starts a :class:`PageReader` and inserts
what it hands over; this module is the download side (docs/sync-protocol.md,
"Snapshot"). Pages of gzip NDJSON are streamed (``stream=True``; a page is
never held whole). A page cut off mid-way is resumed after the last row
received (rows come in key order), with backoff.

Threads: a page reader (the producer, thread ``snapshot-pages``) requests the
pages, decompresses them and cuts them into blocks of whole lines (about
1 MiB), handed over through a bounded queue (at most ``_AHEAD`` blocks, about
one page of members), while the calling thread (the consumer) parses each
block with one ``json.loads`` (:meth:`Lines.rows`) and inserts it. So the
server builds and sends the next page while this one is inserted. Parsing is
on the inserting thread on purpose: ``json.loads`` holds the GIL, so in the
reader it only delayed the inserts; the reader's own work (socket reads,
zlib) mostly runs without it. The reader reads the ``{"next": ...}`` line (it
needs the key) and the last row received (to resume a cut page) itself.

Errors are raised on the calling thread: what the reader meets (a call that
failed, a page cut off too often, a bad 'next' line) is handed over and
raised there, as the same ServerUnreachableError, ServerRejectedError or
ProtocolError. When the calling thread fails (a row that does not fit, the
progress callback, Ctrl-C) it stops the reader: a blocked hand-over gives
up, the page being read is interrupted (its socket is shut down) and a
backoff wait ends; the reader is waited for before the half-built file is
removed. Only a call still waiting for the server's first byte cannot be
interrupted: after ``_JOIN_SECONDS`` the reader (a daemon thread) is left to
end when that call does; it touches nothing but the client.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from pydantic import ValidationError

from clubcore.errors import ProtocolError, ServerUnreachableError
from clubcore.wire import NextLine
from sync.entities import ENTITIES, Entity
from sync.http import SyncClient

__all__ = ["Lines", "PageEnd", "PageReader"]

log = logging.getLogger(__name__)

_BLOCK_BYTES = 1024 * 1024  # NDJSON bytes per block handed over (one executemany)
_AHEAD = 8  # blocks the page reader may hand over before the inserts take them
_CHUNK = 64 * 1024  # compressed bytes per read
_POLL_SECONDS = 0.1  # how often a blocked hand-over looks for a stop
_JOIN_SECONDS = 5.0  # how long a stop waits for the page reader
_PAGE_READ_TIMEOUT = 120.0


class _Stopped(Exception):
    """The loader told the page reader to stop."""


class _Cut(Exception):
    """A page's stream ended early; ``after`` is the key of the last row received."""

    def __init__(self, after: str | None, cause: BaseException | None) -> None:
        super().__init__(str(cause) if cause else "the page ended without its 'next' line")
        self.after = after


@dataclass(frozen=True, slots=True)
class Lines:
    """Whole row lines of one entity, in key order: parsed and inserted by the loader."""

    spec: Entity
    block: bytes

    def rows(self) -> list[Sequence[object]]:
        """The rows of the block (one ``json.loads`` for all of them), on the loader's thread.

        Raises:
            ProtocolError: a line is not JSON or not a row of :attr:`spec`.
        """
        spec = self.spec
        lines = list(filter(None, self.block.split(b"\n")))
        try:
            items = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            for line in lines:  # find the culprit for the message
                _json_line(line, spec)
            raise ProtocolError(f"{spec.name}: the snapshot lines are not JSON") from None
        try:
            return spec.rows(items)
        except ProtocolError:
            if any(isinstance(item, dict) for item in items):
                raise ProtocolError(f"{spec.name}: lines after the 'next' line") from None
            raise


@dataclass(frozen=True, slots=True)
class PageEnd:
    """A page of ``spec`` arrived whole: time to report progress."""

    spec: Entity


_FINISHED = "every page read"


class _Page:
    """One page's decompressed bytes cut into blocks of whole lines.

    The last whole line received is always held back: at the end of the page
    it must be the ``{"next": ...}`` line, which the reader itself reads.
    """

    def __init__(self, spec: Entity, after: str | None) -> None:
        self.spec = spec
        self.parts: list[bytes] = []  # whole lines not handed over yet
        self.size = 0
        self.tail = b""  # a line not yet ended
        self.last_key = after  # of the last row handed over
        self.next: str | None = None

    def feed(self, data: bytes) -> bytes | None:
        """Take more bytes; return a block of whole lines once ``_BLOCK_BYTES`` are ready."""
        data = self.tail + data
        end = data.rfind(b"\n") + 1
        self.tail = data[end:]
        if end:
            self.parts.append(data[:end])
            self.size += end
        return self._block(held=True) if self.size >= _BLOCK_BYTES else None

    def cut(self) -> bytes | None:
        """The stream broke: the whole row lines received, to hand over.

        A partial line and a 'next' line are dropped: the page is asked for
        again after the last row handed over.
        """
        self.tail = b""
        self._pop_next_line()
        return self._block(held=False)

    def finish(self) -> tuple[bytes | None, bool]:
        """The stream ended: the lines left to hand over, and whether the page is whole.

        The page is whole when its last line is the 'next' line; a last line
        without its newline counts only if it is that line (else it is a partial
        row, dropped, and the page was cut off).
        """
        tail, self.tail = self.tail.strip(), b""
        if tail and not tail.startswith(b"{"):
            return self._block(held=False), False
        if tail:
            self.parts.append(tail + b"\n")
        last = self._pop_next_line()
        if last is not None:
            self.next = _next_key(_json_line(last, self.spec), self.spec)
        return self._block(held=False), last is not None

    def _pop_next_line(self) -> bytes | None:
        """Take the last line off if it is the 'next' line (an object, where rows are arrays)."""
        data = b"".join(self.parts).rstrip()
        body, _, last = data.rpartition(b"\n")
        if not last.startswith(b"{"):
            return None
        self.parts, self.size = ([body + b"\n"] if body.strip() else []), len(body)
        return last

    def _block(self, *, held: bool) -> bytes | None:
        """The whole lines gathered (all but the last one when ``held``); notes the last key."""
        data = b"".join(self.parts)
        split = data.rstrip().rfind(b"\n") + 1 if held else len(data)
        block, rest = data[:split], data[split:]
        self.parts, self.size = ([rest] if rest else []), len(rest)
        if not block.strip():
            return None
        last = block.rstrip().rpartition(b"\n")[2]
        row = _json_line(last, self.spec)
        self.last_key = self.spec.key_of(self.spec.rows([row])[0])
        return block


def _json_line(line: bytes, spec: Entity) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise ProtocolError(f"{spec.name}: a snapshot line is not JSON: {line[:80]!r}") from None


def _next_key(item: object, spec: Entity) -> str | None:
    """The key of a page's last line (:class:`clubcore.wire.NextLine`).

    Raises:
        ProtocolError: not ``{"next": key or null}``.
    """
    try:
        return NextLine.model_validate(item).next
    except ValidationError:
        raise ProtocolError(f"{spec.name}: the last line must be {{'next': key or null}}") from None


class PageReader(threading.Thread):
    """The producer: requests, decompresses and splits every page ahead of the inserts.

    Hands over, through a bounded queue (:attr:`queue`, at most ``_AHEAD``
    items), :class:`Lines` blocks in key order, a :class:`PageEnd` after
    each whole page, then ``_FINISHED``, or the exception that ended it (the
    loader raises it on its own thread). It alone uses the client while it
    runs. :meth:`stop` makes it stop at its next step: a blocked hand-over
    gives up, a page being read is interrupted (its socket is shut down) and
    a backoff wait ends.
    """

    def __init__(self, client: SyncClient, page_limit: int) -> None:
        super().__init__(name="snapshot-pages", daemon=True)
        self.client = client
        self.page_limit = page_limit
        self.queue: queue.Queue[object] = queue.Queue(maxsize=_AHEAD)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None

    def run(self) -> None:
        item: object = _FINISHED
        try:
            for spec in ENTITIES.values():
                self._entity(spec)
        except _Stopped:
            return
        except BaseException as exc:  # handed to the loader, raised on its thread
            item = exc
        with contextlib.suppress(_Stopped):
            self._put(item)

    def stop(self) -> None:
        """Tell the reader to stop, interrupt its download, and wait for it."""
        self._stopping.set()
        with self._lock:
            shutdown = getattr(self._response.raw, "shutdown", None) if self._response else None
            if shutdown is not None:
                with contextlib.suppress(Exception):  # already released or closed
                    shutdown()
        self.join(_JOIN_SECONDS)
        if self.is_alive():  # blocked in a call that has not answered yet
            log.warning("the snapshot page reader is still waiting for the server")

    def next_item(self) -> object:
        """The next item handed over (waits for it)."""
        while True:
            try:
                return self.queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self.is_alive() and self.queue.empty():
                    raise RuntimeError("the snapshot page reader ended without a word") from None

    def _put(self, item: object) -> None:
        while not self._stopping.is_set():
            try:
                self.queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _hand(self, spec: Entity, block: bytes | None) -> None:
        if block is not None:
            self._put(Lines(spec, block))

    def _entity(self, spec: Entity) -> None:
        """Every page of one entity, resuming a page cut off after its last row received."""
        after: str | None = None
        cuts = 0
        while True:
            try:
                next_key = self._page(spec, after)
            except _Cut as cut:
                after, cuts = cut.after, cuts + 1
                if cuts >= self.client.policy.attempts:
                    what = f"GET /v1/snapshot/{spec.name}"
                    raise ServerUnreachableError(
                        f"{what}: the download was cut off {cuts} times: {cut}"
                    ) from cut
                if self._stopping.wait(self.client.policy.backoff(cuts - 1)):
                    raise _Stopped from None
                continue
            self._put(PageEnd(spec))
            if next_key is None:
                return
            if next_key == after:
                raise ProtocolError(f"{spec.name}: 'next' repeats the previous key {after!r}")
            after, cuts = next_key, 0

    def _page(self, spec: Entity, after: str | None) -> str | None:
        """Read one page, handing its rows over; return its 'next' key. Raises _Cut if cut off."""
        params: dict[str, Any] = {"limit": self.page_limit}
        if after is not None:
            params["after"] = after
        response = self.client.request(
            "GET",
            f"/v1/snapshot/{spec.name}",
            params=params,
            stream=True,
            read_timeout=_PAGE_READ_TIMEOUT,
        )
        page = _Page(spec, after)
        with response, self._reading(response):
            try:
                for data in response.iter_content(_CHUNK):
                    if self._stopping.is_set():
                        raise _Stopped
                    self._hand(spec, page.feed(data))
            except requests.exceptions.RequestException as exc:
                self._hand(spec, page.cut())
                raise _Cut(page.last_key, exc) from exc
        block, whole = page.finish()
        self._hand(spec, block)
        if not whole:
            raise _Cut(page.last_key, None)
        return page.next

    @contextlib.contextmanager
    def _reading(self, response: requests.Response) -> Iterator[None]:
        """``response`` is the one :meth:`stop` interrupts while the block runs."""
        with self._lock:
            self._response = response
        try:
            if self._stopping.is_set():
                raise _Stopped
            yield
        finally:
            with self._lock:
                self._response = None

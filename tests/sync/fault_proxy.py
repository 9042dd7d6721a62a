"""A TCP proxy of the tests' own that breaks HTTP exchanges on purpose.

:class:`FaultProxy` listens on ``127.0.0.1`` and forwards to the club server.
It understands just enough HTTP/1.1 framing (``Content-Length`` and chunked
bodies) to know where each request and response ends, so it decides per
**exchange** (one request and its response), not per connection: ``requests``
keeps connections alive, and a fault decided once per connection would hit
only its first request. Each exchange, drawn from a seeded
:class:`random.Random` with the probabilities of a :class:`FaultMix`:

==================  =====================================================================
``pass``            forwarded both ways; the client connection stays open for the next
``reset_before``    the request is read, never forwarded; the client gets a RST
                    (``SO_LINGER`` 0 close): the server never saw it
``reset_after``     forwarded, the whole response read from the server (the server did
                    the work), then the client gets a RST instead of the answer
``delay``           forwarded, the response held ``delay`` seconds (more than the
                    client's read timeout), then sent (usually to a closed socket)
``blackhole``       the request is read and nothing ever happens, until the client
                    gives up and closes (or ``hold_max`` passes)
``truncate``        forwarded, and only a random prefix of the response (1 byte up to
                    all but 1 byte) sent before the connection is closed
==================  =====================================================================

Each exchange opens its own connection to the server, so a fault never
leaves a half-read server connection behind. The proxy is bounded: at most
``max_connections`` client connections at once (more are reset at once and
counted as ``overflow``), every socket read has a timeout, and the proxy
stops by itself after ``lifetime`` seconds. Use it as a context manager::

    with FaultProxy(server_url, FaultMix.spread(0.20), seed=7) as proxy:
        client = SyncClient(proxy.url, ...)
        ...
    assert proxy.counts["truncate"] > 0
"""

from __future__ import annotations

import contextlib
import enum
import random
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["Fault", "FaultMix", "FaultProxy"]

_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 64 * 1024 * 1024
_RECV = 64 * 1024


class Fault(enum.StrEnum):
    PASS = "pass"
    RESET_BEFORE = "reset_before"
    RESET_AFTER = "reset_after"
    DELAY = "delay"
    BLACKHOLE = "blackhole"
    TRUNCATE = "truncate"


FAULTS = tuple(f for f in Fault if f is not Fault.PASS)


@dataclass(frozen=True, slots=True)
class FaultMix:
    """The probability of each fault per exchange (the rest pass)."""

    reset_before: float = 0.0
    reset_after: float = 0.0
    delay: float = 0.0
    blackhole: float = 0.0
    truncate: float = 0.0

    def __post_init__(self) -> None:
        values = [getattr(self, str(f)) for f in FAULTS]
        if any(v < 0 for v in values) or sum(values) > 1:
            raise ValueError(f"fault probabilities must be >= 0 and sum to <= 1: {self}")

    @classmethod
    def spread(cls, rate: float) -> FaultMix:
        """``rate`` of the exchanges faulty, spread evenly over every kind of fault."""
        share = rate / len(FAULTS)
        return cls(**{str(f): share for f in FAULTS})

    @property
    def rate(self) -> float:
        return float(sum(getattr(self, str(f)) for f in FAULTS))

    def choose(self, rng: random.Random) -> Fault:
        draw = rng.random()
        for fault in FAULTS:
            draw -= getattr(self, str(fault))
            if draw < 0:
                return fault
        return Fault.PASS


NO_FAULTS = FaultMix()


class _Closed(Exception):
    """The peer closed the connection (cleanly or not) before a whole message."""


class _Reader:
    """Reads whole HTTP/1.1 messages from a socket, keeping what comes after one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        try:
            data = self.sock.recv(_RECV)
        except OSError as exc:  # timeouts included
            raise _Closed(str(exc)) from exc
        if not data:
            raise _Closed("end of stream")
        self.buffer += data

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > _HEAD_LIMIT:
                raise _Closed("a line too long")
            self._fill()
        return self._take(end + 2)

    def _head(self) -> bytes:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if len(self.buffer) > _HEAD_LIMIT:
                raise _Closed("a head too long")
            self._fill()
        return self._take(end + 4)

    def _to_end(self) -> bytes:
        while True:
            try:
                self._fill()
            except _Closed:
                data, self.buffer = self.buffer, b""
                return data
            if len(self.buffer) > _BODY_LIMIT:
                raise _Closed("a body too long")

    def message(self, *, response: bool) -> tuple[bytes, dict[str, str]]:
        """One whole message (head and body, as received) and its headers (lower-case).

        Raises:
            _Closed: the peer closed before the message was whole.
        """
        head = self._head()
        lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if response:
            status = int(lines[0].split(" ", 2)[1])
            if status < 200 or status in (204, 304):
                return head, headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return head + self._chunks(), headers
        if "content-length" in headers:
            length = int(headers["content-length"])
            if length > _BODY_LIMIT:
                raise _Closed("a body too long")
            return head + self._take(length), headers
        if response:  # no framing: the body runs to the end of the connection
            return head + self._to_end(), headers
        return head, headers

    def _chunks(self) -> bytes:
        body = b""
        while True:
            size_line = self._line()
            body += size_line
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (trailer := self._line()) != b"\r\n":
                    body += trailer
                return body + trailer
            body += self._take(size + 2)
            if len(body) > _BODY_LIMIT:
                raise _Closed("a body too long")


def _reset(sock: socket.socket) -> None:
    """Close with a RST (SO_LINGER on, timeout 0) instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    """A fault-injecting HTTP/1.1 proxy on ``127.0.0.1`` in front of ``upstream``.

    Arguments:
        upstream: the server's ``http://host:port`` URL.
        mix: the probability of each fault per exchange [default: none].
        seed: the seed of the fault draws.
        delay: seconds a ``delay`` fault holds the response (make it longer
            than the client's read timeout).
        hold_max: the longest a ``blackhole`` keeps a connection the client
            does not close.
        max_connections: client connections served at once.
        idle_timeout: seconds a client connection may stay silent.
        lifetime: the proxy stops by itself after this many seconds.
    """

    def __init__(
        self,
        upstream: str,
        mix: FaultMix = NO_FAULTS,
        *,
        seed: int = 0,
        delay: float = 2.0,
        hold_max: float = 30.0,
        max_connections: int = 64,
        idle_timeout: float = 30.0,
        lifetime: float = 600.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"{upstream!r} is not an http://host:port URL")
        self.upstream = (parts.hostname, parts.port)
        self.mix = mix
        self.delay = delay
        self.hold_max = hold_max
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="fault proxy", daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def counts(self) -> dict[str, int]:
        """Exchanges per outcome (``pass`` and each fault), and ``overflow``, ``gave_up``."""
        with self._lock:
            return dict(self._counts)

    @property
    def faults(self) -> int:
        """Faults injected so far."""
        counts = self.counts
        return sum(counts.get(str(f), 0) for f in FAULTS)

    def set_mix(self, mix: FaultMix) -> None:
        """Change the fault mix for the exchanges from now on."""
        with self._lock:
            self.mix = mix

    # -- life cycle ------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._acceptor.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop accepting, break every open connection, and wait for the threads."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._timer.cancel()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        current = threading.current_thread()
        for thread in [self._acceptor, *self._threads]:
            if thread is not current and thread.is_alive():
                thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the work ----------------------------------------------------------------

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)
        if add and self._stop.is_set():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                self._count("overflow")
                _reset(client)
                continue
            thread = threading.Thread(
                target=self._serve, args=(client,), name="fault proxy connection", daemon=True
            )
            with self._lock:
                self._threads = {t for t in self._threads if t.is_alive()}
                self._threads.add(thread)
            thread.start()

    def _choose(self) -> Fault:
        with self._lock:
            fault = self.mix.choose(self._rng)
            self._counts[str(fault)] += 1
        return fault

    def _serve(self, client: socket.socket) -> None:
        self._track(client, True)
        try:
            client.settimeout(self.idle_timeout)
            reader = _Reader(client)
            while not self._stop.is_set():
                try:
                    request, headers = reader.message(response=False)
                except (_Closed, ValueError):
                    break
                if not self._exchange(client, request, headers):
                    return
        finally:
            self._track(client, False)
            client.close()
            self._slots.release()

    def _exchange(self, client: socket.socket, request: bytes, headers: dict[str, str]) -> bool:
        """Serve one request with its fault; True when the connection may go on."""
        fault = self._choose()
        if fault is Fault.RESET_BEFORE:
            _reset(client)
            return False
        if fault is Fault.BLACKHOLE:
            self._hold(client)
            return False
        response = self._forward(request)
        if response is None:  # the server failed us: the client sees a reset
            self._count("upstream_error")
            _reset(client)
            return False
        if fault is Fault.RESET_AFTER:
            _reset(client)
            return False
        try:
            if fault is Fault.DELAY:
                self._stop.wait(self.delay)  # the fault itself: a late answer
                client.sendall(response)
                return False
            if fault is Fault.TRUNCATE:
                cut = self._cut(len(response))
                client.sendall(response[:cut])
                client.shutdown(socket.SHUT_RDWR)
                return False
            client.sendall(response)
        except OSError:
            return False
        return "close" not in headers.get("connection", "").lower()

    def _cut(self, length: int) -> int:
        with self._lock:
            return self._rng.randint(1, max(length - 1, 1))

    def _hold(self, client: socket.socket) -> None:
        """Say nothing until the client gives up (closes) or ``hold_max`` passes."""
        client.settimeout(self.hold_max)
        try:
            while client.recv(_RECV):
                pass
            self._count("gave_up")
        except OSError:
            pass

    def _forward(self, request: bytes) -> bytes | None:
        """Send ``request`` to the server on a new connection; its whole response, or None."""
        try:
            upstream = socket.create_connection(self.upstream, timeout=self.idle_timeout)
        except OSError:
            return None
        self._track(upstream, True)
        try:
            upstream.sendall(request)
            response, _ = _Reader(upstream).message(response=True)
            return response
        except (OSError, _Closed, ValueError, IndexError):
            return None
        finally:
            self._track(upstream, False)
            upstream.close()

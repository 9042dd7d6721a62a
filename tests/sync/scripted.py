"""A real HTTP server on loopback whose answers a test scripts (stdlib ``http.server``).

Each request is recorded and answered by the test's ``route`` function, which
returns a :class:`Reply`: a status, a body, headers, and optionally a delay
before answering, a dropped connection (no answer at all) or a body cut off
after ``cut_at`` bytes. Real sockets, no mocks; TLS with a throwaway CA.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Reply", "Request", "ScriptedServer", "json_reply", "make_tls_files", "ndjson_reply"]

PROTOCOL = {"X-Club-Protocol": "1"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: dict(PROTOCOL))
    delay: float = 0.0
    drop: bool = False
    cut_at: int | None = None


def json_reply(data: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(
        status,
        json.dumps(data).encode(),
        {**PROTOCOL, "Content-Type": "application/json", **headers},
    )


def ndjson_reply(lines: list[Any], cut_at: int | None = None) -> Reply:
    body = gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode())
    headers = {**PROTOCOL, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    return Reply(200, body, headers, cut_at=cut_at)


Route = Callable[[Request], Reply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            self.command,
            url.path,
            {k: v[-1] for k, v in parse_qs(url.query).items()},
            dict(self.headers.items()),
            self.rfile.read(length) if length else b"",
        )
        self.server.requests.append(request)
        reply = self.server.route(request)
        if reply.delay:
            threading.Event().wait(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.cut_at is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body if reply.cut_at is None else reply.body[: reply.cut_at])
        if reply.cut_at is not None:
            self.wfile.flush()
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    route: Route
    requests: list[Request]


class ScriptedServer:
    """Serve ``route`` on 127.0.0.1 (HTTPS with ``tls=(cert, key)``) until closed."""

    def __init__(self, route: Route, tls: tuple[Path, Path] | None = None) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.route = route
        self.server.requests = []
        scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_tls_files(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "club test server")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path

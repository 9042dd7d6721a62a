"""Fixtures for the sync client's tests: scripted loopback servers and fast retry policies.

End-to-end fixtures (the real club server in a uvicorn thread) are in
``tests/sync/club.py`` and registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sync.http import RetryPolicy, Timeouts
from tests.sync.scripted import Route, ScriptedServer

#: retries that finish in milliseconds
FAST = RetryPolicy(attempts=4, base=0.01, cap=0.02, deadline=5.0)
SHORT = Timeouts(connect=1.0, read=1.0)


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    """``serve(route, tls=None)`` starts a scripted server, stopped after the test."""
    servers: list[ScriptedServer] = []

    def start(route: Route, tls: object = None) -> ScriptedServer:
        server = ScriptedServer(route, tls)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()

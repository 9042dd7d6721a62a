from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from clubcore.errors import (
    ConfigError,
    ProtocolError,
    ServerRejectedError,
    ServerUnreachableError,
    TerminalRevokedError,
)
from sync.http import RetryPolicy, SyncClient, Timeouts
from tests.sync.conftest import FAST, SHORT
from tests.sync.scripted import Reply, Request, ScriptedServer, json_reply, make_tls_files

Serve = Callable[..., ScriptedServer]


def sequence(*replies: Reply) -> Callable[[Request], Reply]:
    """Answer with ``replies`` in turn, then repeat the last one."""
    queue = list(replies)

    def route(request: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return route


def client(url: str, **options: object) -> SyncClient:
    options.setdefault("policy", FAST)
    options.setdefault("timeouts", SHORT)
    return SyncClient(url, **options)  # type: ignore[arg-type]


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=8.0)
    rng = random.Random(1)
    for retry, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0), (500, 8.0)]:
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8 and min(waits) < ceiling * 0.2  # spread, not fixed


def test_get_is_retried_on_5xx_and_429_until_it_works(serve: Serve) -> None:
    server = serve(
        sequence(
            json_reply({"error": "boom", "message": "x"}, 500),
            json_reply({"error": "slow-down", "message": "x"}, 429, **{"Retry-After": "0"}),
            Reply(503, b"<html>proxy</html>", {}),
            json_reply({"ok": True}),
        )
    )
    assert client(server.url).get_json("/v1/x") == {"ok": True}
    assert len(server.requests) == 4


def test_5xx_until_the_attempts_run_out_is_unreachable(serve: Serve) -> None:
    server = serve(sequence(json_reply({"error": "db-down", "message": "database down"}, 503)))
    with pytest.raises(ServerUnreachableError, match="503 db-down: database down"):
        client(server.url).get_json("/v1/x")
    assert len(server.requests) == FAST.attempts


def test_post_is_retried_only_with_idempotency_keys(serve: Serve) -> None:
    server = serve(sequence(json_reply({"error": "boom", "message": "x"}, 500), json_reply({})))
    with pytest.raises(ServerUnreachableError):
        client(server.url).post_json("/v1/enroll", {"code": "X"}, retry_post=False)
    assert len(server.requests) == 1
    again = serve(sequence(json_reply({"error": "boom", "message": "x"}, 500), json_reply({})))
    assert client(again.url).post_json("/v1/sales", {"sales": []}, retry_post=True) == {}
    assert len(again.requests) == 2


def test_a_dropped_post_is_not_retried_but_a_dropped_get_is(serve: Serve) -> None:
    server = serve(sequence(Reply(drop=True), json_reply({"ok": 1})))
    with pytest.raises(ServerUnreachableError, match="cannot reach"):
        client(server.url).post_json("/v1/enroll", {}, retry_post=False)
    assert len(server.requests) == 1
    server2 = serve(sequence(Reply(drop=True), json_reply({"ok": 1})))
    assert client(server2.url).get_json("/v1/x") == {"ok": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_unreachable_and_a_post_that_never_left_is_retried() -> None:
    sleeps: list[float] = []
    c = client(f"http://127.0.0.1:{free_port()}", sleep=sleeps.append)
    with pytest.raises(ServerUnreachableError, match=r"cannot reach.*refused") as info:
        c.post_json("/v1/enroll", {}, retry_post=False)
    assert len(sleeps) == FAST.attempts - 1  # never sent, so safe to retry
    assert info.value.hint and "network" in info.value.hint
    assert "object at 0x" not in str(info.value)


def test_a_read_timeout_is_unreachable_and_bounded(serve: Serve) -> None:
    server = serve(sequence(Reply(delay=1.0, body=b"{}", headers={"X-Club-Protocol": "1"})))
    c = client(server.url, timeouts=Timeouts(connect=1.0, read=0.2), policy=RetryPolicy(2, 0.01))
    started = time.monotonic()
    with pytest.raises(ServerUnreachableError, match="timed out"):
        c.get_json("/v1/x")
    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 2


def test_the_deadline_stops_the_retries(serve: Serve) -> None:
    server = serve(sequence(json_reply({"error": "x", "message": "x"}, 500)))
    c = client(server.url, policy=RetryPolicy(attempts=100, base=0.05, cap=0.1, deadline=0.5))
    started = time.monotonic()
    with pytest.raises(ServerUnreachableError):
        c.get_json("/v1/x")
    assert time.monotonic() - started < 1.0
    assert 2 < len(server.requests) < 100


def test_retry_after_is_honoured(serve: Serve) -> None:
    server = serve(sequence(json_reply({}, 429, **{"Retry-After": "2"}), json_reply({})))
    sleeps: list[float] = []
    client(server.url, sleep=sleeps.append).get_json("/v1/x")
    assert sleeps and sleeps[0] >= 2.0


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (
            403,
            {"error": "terminal-revoked", "message": "revoked by op"},
            TerminalRevokedError,
            "revoked",
        ),
        (401, {"error": "unauthorized", "message": "bad credential"}, ServerRejectedError, "401"),
        (413, {"error": "too-large", "message": "8 MiB"}, ServerRejectedError, "too-large"),
        (422, {"error": "invalid", "message": "not a list"}, ServerRejectedError, "not a list"),
    ],
)
def test_4xx_is_mapped_and_not_retried(
    serve: Serve, status: int, body: dict[str, str], error: type[Exception], text: str
) -> None:
    server = serve(sequence(json_reply(body, status)))
    with pytest.raises(error, match=text) as info:
        client(server.url).post_json("/v1/sales", {"sales": []}, retry_post=True)
    assert isinstance(info.value, ServerRejectedError)
    assert (info.value.status, info.value.code) == (status, body["error"])
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "text"),
    [
        (Reply(200, b"{}", {}), "protocol unknown"),
        (Reply(200, b"{}", {"X-Club-Protocol": "2"}), "protocol 2"),
        (Reply(200, b"not json", {"X-Club-Protocol": "1"}), "not JSON"),
        (Reply(200, b"[1]", {"X-Club-Protocol": "1"}), "not a JSON object"),
    ],
)
def test_answers_outside_the_protocol_are_protocol_errors(
    serve: Serve, reply: Reply, text: str
) -> None:
    server = serve(sequence(reply))
    with pytest.raises(ProtocolError, match=text):
        client(server.url).get_json("/v1/x")


def test_bearer_credential_is_sent_and_never_shown(serve: Serve) -> None:
    server = serve(sequence(json_reply({})))
    c = client(server.url, credential="T1.s3cret-value")
    c.get_json("/v1/x", {"after": 5})
    request = server.requests[0]
    assert request.headers["Authorization"] == "Bearer T1.s3cret-value"
    assert request.query == {"after": "5"}
    assert "s3cret" not in repr(c) and "s3cret" not in str(vars(c).get("base_url"))


def test_tls_is_verified_by_default_and_a_ca_bundle_can_be_trusted(
    serve: Serve, tmp_path: Path
) -> None:
    cert, key = make_tls_files(tmp_path)
    server = serve(sequence(json_reply({"ok": 1})), tls=(cert, key))
    with pytest.raises(ServerUnreachableError, match="TLS") as info:
        client(server.url).get_json("/v1/health")
    assert info.value.hint and "--ca-bundle" in info.value.hint
    assert client(server.url, ca_bundle=cert).get_json("/v1/health") == {"ok": 1}


@pytest.mark.parametrize("url", ["ftp://x", "club.example", "https://"])
def test_a_bad_url_or_bundle_is_a_config_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="server"):
        SyncClient(url)
    with pytest.raises(ConfigError, match="ca_bundle"):
        SyncClient("https://club.example", ca_bundle=tmp_path / "missing.pem")

"""Several club server processes behind nginx, on loopback, on one PostgreSQL database.

nginx runs the shipped proxy rules (``deploy/server/club-server-proxy.conf``)
in front of two ``club-server serve`` processes. Lanes push batches of sales
through it, at least once each (a batch whose answer did not come back is sent
again, as the sync client does), while one server process is killed with
SIGKILL and started again. Every sale must be on the server exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from club_server.db import open_database
from tests.club_server.conftest import Lane, add_test_product, make_sale, new_code, seed_small
from tests.sync.club import postgres_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(400),
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
PROXY_RULES = ROOT / "deploy/server/club-server-proxy.conf"
LANES, BATCHES, PER_BATCH = 4, 12, 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process ended with {process.returncode}")
        try:
            if httpx.get(f"{url}/v1/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


@dataclass
class ServerProcess:
    """One ``club-server serve`` on a loopback port."""

    db_url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CLUB_SERVER_DB": self.db_url}
        command = [sys.executable, "-c", "from club_server.cli import main; main()", "serve",
                   "--port", str(self.port), "--log-level", "info",
                   "--log-format", "json"]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        _wait_ready(self.url, self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _nginx_conf(directory: Path, port: int, upstreams: list[int]) -> Path:
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=2s;\n" for p in upstreams)
    temp = "".join(
        f"  {name}_temp_path {directory / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n  access_log {directory / 'access.log'};\n{temp}"
        f"  upstream club_servers {{\n{servers}    keepalive 16;\n  }}\n"
        f"  server {{\n    listen 127.0.0.1:{port};\n    include {PROXY_RULES};\n  }}\n}}\n"
    )
    return conf


@pytest.fixture
def nginx_cluster(tmp_path: Path) -> Iterator[tuple[str, list[ServerProcess], str]]:
    """(nginx's URL, the server processes, the database URL)."""
    with postgres_database() as db_url:
        database = open_database(db_url)
        seed_small(database, tmp_path / "keys", now=datetime.now(UTC))
        add_test_product(database)
        database.dispose()
        servers = [
            ServerProcess(db_url, _free_port(), tmp_path / f"server-{i}.log") for i in range(2)
        ]
        nginx: subprocess.Popen[bytes] | None = None
        try:
            for server in servers:
                server.start()
            port = _free_port()
            conf = _nginx_conf(tmp_path, port, [s.port for s in servers])
            nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)])
            _wait_ready(f"http://127.0.0.1:{port}", nginx, timeout=20)
            yield f"http://127.0.0.1:{port}", servers, db_url
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(timeout=10)
            for server in servers:
                server.stop()


@dataclass
class LaneRun:
    """What one lane pushed and what it was answered."""

    lane: Lane
    batches: list[list[dict[str, Any]]]
    statuses: dict[str, str] = field(default_factory=dict)
    retries: int = 0


def _push_until_answered(client: httpx.Client, run: LaneRun, batch: list[dict[str, Any]]) -> None:
    """At least once: a batch with no answer (refused, reset, 502, 503) goes again."""
    deadline = time.monotonic() + 120
    while True:
        try:
            answer = client.post("/v1/sales", json={"sales": batch}, headers=run.lane.headers)
            if answer.status_code == 200:
                for result in answer.json()["results"]:
                    previous = run.statuses.get(result["sale_id"])
                    assert previous is None or result["status"] == "duplicate", result
                    run.statuses[result["sale_id"]] = result["status"]
                return
            assert answer.status_code in (502, 503, 504), answer.text
        except httpx.TransportError:
            pass
        run.retries += 1
        assert time.monotonic() < deadline, "a batch was never answered"
        time.sleep(0.2)


def _lane_thread(url: str, run: LaneRun, progress: threading.Semaphore) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for number, batch in enumerate(run.batches):
            _push_until_answered(client, run, batch)
            if number % 3 == 2:  # the answer was lost: the lane sends the batch again
                _push_until_answered(client, run, batch)
            progress.release()


def test_sales_through_nginx_survive_a_killed_server(
    nginx_cluster: tuple[str, list[ServerProcess], str], tmp_path: Path
) -> None:
    url, servers, db_url = nginx_cluster
    database = open_database(db_url, migrate=False)
    runs = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(LANES):
            answer = client.post(
                "/v1/enroll", json={"code": new_code(database, now=datetime.now(UTC)), "device": {}}
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            lane = Lane(body["terminal_id"], body["store_id"], body["credential"])
            batches = [[make_sale(lane) for _ in range(PER_BATCH)] for _ in range(BATCHES)]
            runs.append(LaneRun(lane, batches))
    progress = threading.Semaphore(0)
    threads = [threading.Thread(target=_lane_thread, args=(url, run, progress)) for run in runs]
    for thread in threads:
        thread.start()
    for _ in range(LANES * BATCHES // 3):  # a third of the way: one server dies, then returns
        assert progress.acquire(timeout=120)
    servers[0].kill()
    time.sleep(1.0)
    servers[0].start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive()

    expected = {sale["sale_id"] for run in runs for batch in run.batches for sale in batch}
    for run in runs:
        sent = {sale["sale_id"] for batch in run.batches for sale in batch}
        assert set(run.statuses) == sent
        assert set(run.statuses.values()) <= {"created", "duplicate"}
    with database.reading() as conn:
        from sqlalchemy import text

        rows = conn.execute(
            text(
                "SELECT sale_id, count(*) FROM sales WHERE terminal_id = ANY(:t) GROUP BY sale_id"
            ),
            {"t": [run.lane.terminal_id for run in runs]},
        ).all()
    database.dispose()
    assert {sale_id for sale_id, _ in rows} == expected  # nothing lost
    assert all(count == 1 for _, count in rows)  # nothing doubled
    assert len(rows) == LANES * BATCHES * PER_BATCH
    logs = [s.log.read_text() for s in servers]
    failovers = (tmp_path / "error.log").read_text().count("upstream")
    print(f"{len(rows)} sales once each; {failovers} upstream errors nginx passed to the "
          f"other process; {sum(r.retries for r in runs)} batches sent again")  # fmt: skip
    assert all("POST /v1/sales 200" in log for log in logs), "pushes went to both processes"
    for run in runs:  # no credential in the servers' logs (access lines name no header)
        secret = run.lane.credential.split(".", 1)[1]
        assert not any(secret in log for log in logs)

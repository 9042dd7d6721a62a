"""The sync process killed with SIGKILL at random points, hundreds of times.

A *zygote* subprocess (``python -m tests.sync.crash_worker``) imports the
sync code once and forks one child per round; the child opens the terminal's
database and a client and runs one job of the real sync code against the real
club server on loopback (SQLite):

- ``sell``: sales through the real checkout (each acknowledged on a pipe once
  ``record_sale`` returned), pushed now and then in tiny batches;
- ``push``: the outbox pushed in batches of 5..100;
- ``pull``: deltas pulled in pages of 3..10 changes (the test changes the
  server before each pull round, so there is always something to pull);
- ``snapshot``: a re-provisioning snapshot in pages of 25..150 rows (a new
  file, the lane's sales copied into it, swapped in).

The test kills the child (SIGKILL) a random time after it said ``ready``
(log-uniform, a few milliseconds to most of a second). After every kill,
with no process using the database: ``PRAGMA integrity_check`` is ``ok``,
the database is still a provisioned terminal, the delta cursor did not move
backwards and every acknowledged sale is still there. At the end one clean
sync (no kills) must leave the server with exactly the terminal's sales, the
outbox empty (nothing refused or held), the points ledger equal entry for
entry and the balances equal. The test is about kills, not the club's points
limits, which its thousand-odd sales for a few members would exceed: they are
off (:data:`~tests.sync.club.NO_POINTS_LIMITS`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from club_server import upserts as server_upserts
from clubcore.errors import ServerUnreachableError
from offline_store.db import DB_FILENAME
from offline_store.members import points_balance
from sync import open_client, provision, pull_changes, push_now
from sync.push import outbox_counts
from terminal.bootstrap import bootstrap
from tests.sync.club import NO_POINTS_LIMITS, ClubServer, sqlite_club  # noqa: F401  (the fixture)
from tests.sync.conftest import FAST
from tests.sync.crash_worker import make_sales, record_bulk, sale_templates
from tests.sync.test_faults import assert_pushed_exactly_once, assert_same_data

pytestmark = pytest.mark.timeout(300)

KILLS = 200
#: rounds stop when this much time has passed (the test then fails if too few kills)
BUDGET_SECONDS = 150.0
JOBS = ("sell", "push", "pull", "snapshot")
WEIGHTS = (3, 3, 2, 2)
#: the longest wait after ``ready`` before the kill, per job
MAX_DELAY = {"sell": 0.4, "push": 0.4, "pull": 0.5, "snapshot": 2.0}
ROOT = Path(__file__).resolve().parents[2]


class Zygote:
    """The forking sync process and a thread that turns its output into a queue of lines."""

    def __init__(self, stderr: IO[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sync.crash_worker"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def line(self, timeout: float) -> str:
        """The next line; fails the test after ``timeout`` seconds or if the zygote died."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"the sync process said nothing for {timeout} s")
        assert line is not None, f"the zygote died (status {self.proc.poll()})"
        return line

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"job": "quit"})
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@dataclass
class Round:
    job: str
    pid: int = 0
    lines: list[str] = field(default_factory=list)
    killed: bool = False
    finished: bool = False  # "done": the job ended before the kill

    @property
    def acks(self) -> list[str]:
        return [line.split()[1] for line in self.lines if line.startswith("ack ")]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith("error ")]


def run_round(zygote: Zygote, command: dict[str, Any], delay: float) -> Round:
    """Fork a child for ``command``, kill it ``delay`` s after it is ready, wait for its end."""
    result = Round(command["job"])
    zygote.send(command)
    first = zygote.line(10)
    assert first.startswith("pid "), first
    result.pid = int(first.split()[1])
    while (line := zygote.line(10)) != "ready":
        pytest.fail(f"the child failed before it was ready: {line}")
    kill_at = time.monotonic() + delay
    while (left := kill_at - time.monotonic()) > 0:  # collect lines until the kill is due
        try:
            got = zygote.lines.get(timeout=left)
        except queue.Empty:
            break
        assert got is not None, "the zygote died"
        line = got
        result.lines.append(line)
        if line.startswith("exit "):
            return result
        if line == "done" or line.startswith("error "):
            result.finished = True
            break
    if not result.finished:
        with contextlib.suppress(ProcessLookupError):
            os.kill(result.pid, signal.SIGKILL)
    while not (line := zygote.line(30)).startswith("exit "):
        result.lines.append(line)
        if line == "done":
            result.finished = True
    result.killed = line.endswith(f"killed {int(signal.SIGKILL)}")
    return result


@dataclass
class LaneState:
    integrity: str
    cursor: int | None
    sale_ids: set[str]
    pending: int


def inspect(db_path: Path) -> LaneState:
    """The terminal database after a kill, read with a plain connection (then closed)."""
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        row = conn.execute("SELECT cursor FROM sync_cursors WHERE stream = 'changes'").fetchone()
        ids = {r[0] for r in conn.execute("SELECT sale_id FROM sales")}
        pending = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND refused_at IS NULL"
        ).fetchone()[0]
    finally:
        conn.close()
    return LaneState(integrity, int(row[0]) if row else None, ids, int(pending))


@pytest.fixture(scope="module", autouse=True)
def no_points_limits(sqlite_club: ClubServer) -> None:  # noqa: F811
    """The club's points limits off before the lane is provisioned (see the module docstring)."""
    sqlite_club.change_settings(NO_POINTS_LIMITS)


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[Zygote]:
    with (tmp_path / "zygote.err").open("w") as stderr:
        process = Zygote(stderr)
        yield process
        process.close()


def change_server(club: ClubServer, rng: random.Random, members: list[str]) -> None:
    with club.writing() as conn:
        for member_no in rng.sample(members, 20):
            name = f"Crash {rng.randrange(10**6)}"
            server_upserts.upsert(conn, "members", {"member_no": member_no, "display_name": name})
        sku = f"P{rng.randrange(1, 100):06d}"
        server_upserts.upsert(conn, "products", {"sku": sku, "list_price": rng.randrange(1, 10**6)})


def delay_for(job: str, rng: random.Random) -> float:
    """Log-uniform from 2 ms to the job's maximum: many early kills, some late ones."""
    return math.exp(rng.uniform(math.log(0.002), math.log(MAX_DELAY[job])))


def test_sigkill_during_push_pull_and_snapshot(
    sqlite_club: ClubServer,  # noqa: F811
    zygote: Zygote,
    tmp_path: Path,
) -> None:
    club = sqlite_club
    data_dir = tmp_path / "lane"
    provision(data_dir, club.url, club.new_code(), policy=FAST)
    db_path = data_dir / DB_FILENAME
    rng = random.Random(200)
    lane = bootstrap(data_dir)
    templates = sale_templates(lane, rng)
    record_bulk(lane, make_sales(lane, templates, 1_000))
    terminal_id = lane.terminal_id
    lane.close()
    members = [r[0] for r in club.rows("SELECT member_no FROM members ORDER BY member_no")]

    acked: set[str] = set()
    state = inspect(db_path)
    cursors = [state.cursor]
    kills: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    phases: Counter[str] = Counter()  # the child's last word before the kill
    started = time.monotonic()
    rounds = 0
    while sum(kills.values()) < KILLS and time.monotonic() - started < BUDGET_SECONDS:
        rounds += 1
        job = rng.choices(JOBS, WEIGHTS)[0]
        if job == "pull":
            change_server(club, rng, members)
        if job == "push" and state.pending < 200:
            lane = bootstrap(data_dir)
            record_bulk(lane, make_sales(lane, templates, 500))
            lane.close()
        command = {
            "job": job,
            "data_dir": str(data_dir),
            "seed": rng.randrange(2**32),
            "batch": rng.choice([5, 20, 50, 100]),
            "limit": rng.randint(3, 10) if job == "pull" else rng.randint(25, 150),
            "sales": 20,
        }
        result = run_round(zygote, command, delay_for(job, rng))
        assert not result.errors, f"round {rounds} ({job}) failed: {result.errors}"
        acked.update(result.acks)
        if result.killed:
            kills[job] += 1
            last = result.lines[-1].split()[0] if result.lines else "ready"
            phases[f"{job} after {last}"] += 1
        else:
            finished[job] += 1
        state = inspect(db_path)  # the child is gone: nothing holds the database
        assert state.integrity == "ok", f"round {rounds} ({job}): {state.integrity}"
        assert state.cursor is not None, f"round {rounds} ({job}): the terminal lost its cursor"
        previous = cursors[-1]
        assert previous is not None
        assert state.cursor >= previous, f"round {rounds} ({job}): cursor went backwards"
        cursors.append(state.cursor)
        missing = acked - state.sale_ids
        assert not missing, (
            f"round {rounds} ({job}): acknowledged sales lost: {sorted(missing)[:3]}"
        )
    seconds = time.monotonic() - started
    print(
        f"\n{rounds} rounds in {seconds:.1f} s: killed {dict(kills)}, finished {dict(finished)}; "
        f"{len(acked)} sales acknowledged by the checkout, {len(state.sale_ids)} on the lane, "
        f"cursor {cursors[0]} -> {cursors[-1]}; killed after: {dict(sorted(phases.items()))}"
    )
    assert sum(kills.values()) >= KILLS, f"only {sum(kills.values())} kills in {seconds:.0f} s"
    assert all(kills[job] >= 10 for job in JOBS), kills

    lane = bootstrap(data_dir)  # the final, clean sync
    try:
        with open_client(lane.db, data_dir, policy=FAST) as client:
            for _ in range(5):
                try:
                    push_now(client, lane.db)
                    pull_changes(client, lane.db)
                    break
                except ServerUnreachableError:
                    continue
        # nothing pending, refused or held: after every page of deltas (and after a snapshot,
        # which pulls the deltas since its manifest before it is swapped in) the lane holds
        # one rule set, so no sale is priced with a row newer or older than its rules_version
        assert outbox_counts(lane.db) == (0, 0, 0)
        ids = {r[0] for r in lane.db.execute("SELECT sale_id FROM sales")}
        assert acked <= ids and len(ids) >= 1_000 + len(acked)
        assert lane.terminal_id == terminal_id
        assert_pushed_exactly_once(club, lane, ids)
        assert_same_data(club, lane.db)
        for member, balance in club.rows(
            "SELECT member_no, points_balance FROM members WHERE member_no IN "
            "(SELECT member_no FROM sales WHERE terminal_id = :t)",
            t=terminal_id,
        ):
            assert points_balance(lane.db, member) == balance
    finally:
        lane.close()

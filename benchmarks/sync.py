"""Benchmark: sync with a real club server on loopback, at a million members.

The club server runs as its own process (``club-server serve``, one uvicorn
worker) on a fresh PostgreSQL database of its own (default; dropped at the
end) or a SQLite file, seeded with the server's demo store. Measured:

- ``provision``: enrollment + snapshot of ``--members`` members (and their
  cards) and ``--products`` products + swap, end to end from a new data
  directory (``sync.provision``). Target <= 60 s.
- ``delta``: ``--delta`` members changed on the server, then
  ``pull_changes`` timed until the terminal is caught up. Target <= 2 s.
- ``drain``: ``--sales`` queued sales (valid for the server: this terminal's
  store and id, member sales with points) pushed until the outbox is empty
  (``push_now``). Target <= 10 s.
- ``ingest``: ``--terminals`` enrolled terminals, each with its own outbox of
  ``--sales-per-terminal`` sales, pushing at once from threads with the real
  ``push_outbox`` (batches of ``--batch``); sales/s across all of them. The
  sales are spread over ``--ingest-members`` members' baskets (and 1/8 as
  many guests'); ``most_points_per_member_day`` says how many points the
  busiest member earns, and a points limit the sales would pass is turned off
  for the run (``limits`` says which, see :func:`relax_limits`). Only
  sales a lane recorded as sent (answered ``created``, or ``duplicate`` on a
  retry) count as ingested; ``answers`` counts every outcome the lanes
  recorded (``held`` and ``rejected`` included, and ``pending`` when a lane
  gave up), ``created`` the ``created`` answers of the lanes that finished,
  and ``all_ingested`` says whether every sale was.

Each phase reports wall time and where the CPU went: this (client) process,
the server process and, on PostgreSQL, the database's backends (read from
``/proc``; approximate). ``$CLUB_BENCH_SERVER`` replaces the ``club-server``
command (it is given ``serve --host … --port … --log-level … --db …``), to run
the server under a profiler. Everything runs under ``--deadline`` seconds: a
phase that would start past it is skipped; ``--phases`` chooses them
(``provision`` always runs: it sets up the terminal the others use). Prints
one JSON document::

    python -m benchmarks.sync --members 1000000 --products 100000
    python -m benchmarks.sync --phases ingest --members 20000 --products 2000 --terminals 200
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.common import emit, machine, peak_rss_mb
from club_server import demo, terminals
from club_server import upserts as server_upserts
from club_server.db import Database, open_database
from clubcore.pricing import PricedBasket
from clubcore.sale import Sale, Tender, new_sale_id
from offline_store.db import open_db
from offline_store.sales import record_sale
from offline_store.settings import put_settings
from sync import open_client, provision, pull_changes, push_now
from sync.enroll import enroll
from sync.http import RetryPolicy, SyncClient
from sync.push import outbox_counts, push_outbox
from terminal.bootstrap import Terminal, bootstrap

ROOT = Path(__file__).resolve().parents[1]
#: the environment variable naming another server command (one that profiles it, say)
SERVER_ENV = "CLUB_BENCH_SERVER"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
TICKS = os.sysconf("SC_CLK_TCK")
#: waiting for the server to answer health (it starts slowly on a busy machine)
PATIENT = RetryPolicy(attempts=1_000, base=0.1, cap=0.5, deadline=180.0)


# -- CPU accounting ---------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every process below it (``serve --workers``'s workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += _proc_cpu(current)
        todo.extend(children.get(current, []))
    return total


def _pg_backends(dbname: str | None) -> list[int]:
    if dbname is None:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith("postgres:") and f" {dbname} " in cmdline:
                pids.append(int(entry.name))
    return pids


@dataclasses.dataclass
class Meter:
    """Wall time and CPU seconds of the client, the server process and PostgreSQL."""

    server_pid: int
    dbname: str | None

    def sample(self) -> tuple[float, float, float, dict[int, float]]:
        pg = {pid: _proc_cpu(pid) for pid in _pg_backends(self.dbname)}
        return time.perf_counter(), time.process_time(), _tree_cpu(self.server_pid), pg

    @contextmanager
    def measure(self, into: dict[str, Any]) -> Iterator[None]:
        start = self.sample()
        yield
        end = self.sample()
        # backends that exited meanwhile are lost: the PostgreSQL figure is a lower bound
        pg = sum(cpu - start[3].get(pid, 0.0) for pid, cpu in end[3].items())
        into["seconds"] = round(end[0] - start[0], 3)
        into["cpu_s"] = {
            "client": round(end[1] - start[1], 2),
            "server": round(end[2] - start[2], 2),
            "postgres_at_least": round(pg, 2) if self.dbname else None,
        }


# -- the server ---------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[tuple[str, str]]:
    """A new PostgreSQL database (URL, name), dropped afterwards."""
    import psycopg

    name = f"club_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}", name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_settings() -> dict[str, str]:
    """The PostgreSQL settings that bear on ingest, as the server reports them."""
    import psycopg

    names = ("server_version", "max_connections", "shared_buffers", "synchronous_commit",
             "fsync", "wal_level", "commit_delay", "max_wal_size")  # fmt: skip
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in names}  # type: ignore[index]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(
    db_url: str, log: Path, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``club-server serve`` (``workers`` processes) of its own; its URL once it answers."""
    port = free_port()
    script = os.environ.get(SERVER_ENV) or str(Path(sys.executable).with_name("club-server"))
    command = [*shlex.split(script), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    # the server runs this checkout's code, even when the virtualenv was installed from another
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*command, "--log-level", "warning", "--db", db_url], stdout=err, stderr=err, env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            with SyncClient(url, policy=PATIENT) as client:
                client.get_json("/v1/health")
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def new_code(database: Database) -> str:
    with database.writing() as conn:
        return terminals.add_terminal(conn, demo.DEMO_STORE, None, datetime.now(UTC)).code


# -- sales ----------------------------------------------------------------------------------


def templates(
    terminal: Terminal, rng: random.Random, members: int = 40, guests: int = 5
) -> list[tuple[PricedBasket, str | None]]:
    """Baskets priced by the terminal's own checkout: ``members`` members and ``guests`` not."""
    skus = [
        str(r[0])
        for r in terminal.db.execute(
            "SELECT sku FROM products WHERE active AND NOT member_only ORDER BY sku LIMIT 50"
        )
    ]
    chosen = [
        str(r[0])
        for r in terminal.db.execute(
            "SELECT member_no FROM members WHERE status = 'active' ORDER BY random() LIMIT ?",
            [members],
        )
    ]
    baskets: list[tuple[PricedBasket, str | None]] = []
    for member in [*chosen, *([None] * guests)]:
        checkout = terminal.checkout()
        if member is not None:
            checkout.identify(member, "card")
        for sku in rng.sample(skus, rng.randint(1, 5)):
            checkout.add(sku, rng.randint(1, 3))
        baskets.append((checkout.priced, checkout.state.id_method))
    return baskets


def make_sales(
    terminal: Terminal,
    baskets: list[tuple[PricedBasket, str | None]],
    count: int,
    terminal_id: str,
    store_id: str,
    first: int = 0,
) -> list[Sale]:
    """``count`` sales cycling through ``baskets`` from basket ``first`` on."""
    created = terminal.clock()
    local = created.astimezone(terminal.timezone)
    chosen = [baskets[(first + i) % len(baskets)] for i in range(count)]
    return [
        Sale.from_basket(
            priced,
            tender=Tender.CARD,
            id_method=id_method,
            sale_id=new_sale_id(),
            terminal_id=terminal_id,
            store_id=store_id,
            created_at=created,
            business_date=local.date(),
            hour=local.hour,
            currency=terminal.currency.code,
        )
        for priced, id_method in chosen
    ]


def member_day_points(baskets: list[tuple[PricedBasket, str | None]], total: int) -> int:
    """The most points one member earns in ``total`` sales cycling through ``baskets``."""
    earned: dict[str, int] = {}
    for n, (priced, _) in enumerate(baskets):
        if priced.customer is not None:
            uses = total // len(baskets) + (1 if n < total % len(baskets) else 0)
            number = priced.customer.member_no
            earned[number] = earned.get(number, 0) + uses * priced.points_earned
    return max(earned.values(), default=0)


def queue_sales(db: Any, sales: list[Sale]) -> None:
    with db.atomic():
        for sale in sales:
            record_sale(db, sale)


# -- phases ------------------------------------------------------------------------------------


def bench_provision(url: str, database: Database, data_dir: Path, meter: Meter) -> dict[str, Any]:
    out: dict[str, Any] = {"target_s": 60}
    code = new_code(database)
    with meter.measure(out):
        result = provision(data_dir, url, code)
    out["snapshot_s"] = round(result.snapshot.seconds, 3)
    out["rows"] = {k: v for k, v in result.snapshot.rows.items() if v >= 1000}
    out["met"] = out["seconds"] <= 60
    return out


def bench_delta(
    database: Database, terminal: Terminal, client: SyncClient, count: int, meter: Meter
) -> dict[str, Any]:
    out: dict[str, Any] = {"members_changed": count, "target_s": 2}
    started = time.perf_counter()
    numbers = [
        str(r[0])
        for r in terminal.db.execute(
            "SELECT member_no FROM members ORDER BY random() LIMIT ?", [count]
        )
    ]
    stamp = datetime.now(UTC).isoformat()
    with database.writing() as conn:
        for n, member_no in enumerate(numbers):
            server_upserts.upsert(
                conn,
                "members",
                {"member_no": member_no, "display_name": f"Changed {n}", "updated_at": stamp},
            )
    out["server_update_s"] = round(time.perf_counter() - started, 2)
    with meter.measure(out):
        result = pull_changes(client, terminal.db, limit=10_000)
    changed = terminal.db.execute(
        "SELECT COUNT(*) FROM members WHERE display_name LIKE 'Changed %'"
    ).fetchone()[0]
    out.update(pages=result.pages, changes=result.changes, applied_rows_checked=changed)
    out["met"] = out["seconds"] <= 2 and changed == count
    return out


def bench_drain(
    terminal: Terminal, client: SyncClient, count: int, rng: random.Random, meter: Meter
) -> dict[str, Any]:
    out: dict[str, Any] = {"sales": count, "target_s": 10}
    baskets = templates(terminal, rng)
    sales = make_sales(terminal, baskets, count, terminal.terminal_id, terminal.store_id)
    started = time.perf_counter()
    queue_sales(terminal.db, sales)
    out["queue_s"] = round(time.perf_counter() - started, 2)
    with meter.measure(out):
        result = push_now(client, terminal.db)
    out["created"] = result.created
    out["batches"] = result.batches
    out["sales_per_s"] = round(count / out["seconds"], 1)
    out["met"] = out["seconds"] <= 10 and outbox_counts(terminal.db) == (0, 0, 0)
    return out


def bench_ingest(
    url: str,
    database: Database,
    terminal: Terminal,
    work: Path,
    args: argparse.Namespace,
    rng: random.Random,
    meter: Meter,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "terminals": args.terminals,
        "sales_per_terminal": args.sales_per_terminal,
        "batch": args.batch,
        "members": args.ingest_members,
    }
    started = time.perf_counter()
    baskets = templates(terminal, rng, members=args.ingest_members, guests=args.ingest_members // 8)
    total = args.terminals * args.sales_per_terminal
    out["most_points_per_sale"] = max(priced.points_earned for priced, _ in baskets)
    out["most_points_per_member_day"] = member_day_points(baskets, total)
    out["limits"] = relax_limits(
        database, out["most_points_per_sale"], out["most_points_per_member_day"]
    )
    lanes: list[tuple[Path, str, str, str]] = []
    with SyncClient(url) as anonymous:
        for n in range(args.terminals):
            credential = enroll(anonymous, new_code(database))
            path = work / f"lane{n}.db"
            db = open_db(path)
            put_settings(
                db, {"terminal_id": credential.terminal_id, "store_id": credential.store_id}
            )
            sales = make_sales(
                terminal,
                baskets,
                args.sales_per_terminal,
                credential.terminal_id,
                credential.store_id,
                first=n * args.sales_per_terminal,
            )
            queue_sales(db, sales)
            db.close()
            lanes.append((path, credential.terminal_id, credential.store_id, credential.token))
    out["setup_s"] = round(time.perf_counter() - started, 2)
    barrier = threading.Barrier(len(lanes) + 1)
    created = [0] * len(lanes)
    other = {"duplicate": 0, "refused_or_held": 0}
    errors: list[str] = []

    def lane(n: int) -> None:
        path, terminal_id, store_id, token = lanes[n]
        db = open_db(path)
        client = SyncClient(url, credential=token)
        try:
            barrier.wait()
            pushed = push_outbox(
                client, db, terminal_id=terminal_id, store_id=store_id, batch_size=args.batch
            )
            created[n] = pushed.created
            other["duplicate"] += pushed.duplicate
            other["refused_or_held"] += pushed.refused
        except Exception as exc:  # reported in the JSON
            errors.append(f"lane {n}: {exc}")
        finally:
            client.close()
            db.close()

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(len(lanes))]
    for thread in threads:
        thread.start()
    with meter.measure(out):
        barrier.wait()
        for thread in threads:
            thread.join()
    answered = outcomes([path for path, *_ in lanes])
    counts = answered["counts"]
    ingested = counts.get("sent", 0)  # answered created (or duplicate, on a retry)
    out.update(
        created=sum(created),
        answers=counts,
        refusals=answered["examples"],
        errors=errors[:5],
        sales_per_s=round(ingested / out["seconds"], 1),
    )
    out["all_ingested"] = ingested == total and not errors
    out["server_cpu_ms_per_sale"] = round(1000 * out["cpu_s"]["server"] / max(1, ingested), 2)
    return out


#: the club's points limits (setting, default) a server with re-pricing holds sales over
POINTS_LIMITS = (("limits.points_per_sale", 10_000), ("limits.points_per_member_day", 25_000))


def relax_limits(database: Database, per_sale: int, per_member_day: int) -> dict[str, str]:
    """Turn off (0) a points limit the benchmark's honest sales would pass; what each is.

    The benchmark pushes ``--terminals x --sales-per-terminal`` sales in one
    business day from a few thousand members' baskets, far more per member
    than a real day; an honest server holds the sales past its limits, which
    is not what ``ingest`` measures. The checks still run (a limit of 0 is one
    comparison less). A server without such limits ignores the settings.
    """
    wanted = dict(zip((key for key, _ in POINTS_LIMITS), (per_sale, per_member_day), strict=True))
    found: dict[str, str] = {}
    with database.writing() as conn:
        query = text("SELECT key, value FROM settings WHERE key IN (:a, :b)")
        stored = dict(
            conn.execute(query, {"a": POINTS_LIMITS[0][0], "b": POINTS_LIMITS[1][0]}).all()
        )
        for key, default in POINTS_LIMITS:
            limit = int(stored.get(key, default))
            if limit and wanted[key] > limit:
                server_upserts.put_settings(conn, {key: 0})
                found[key] = f"off for the benchmark (its sales reach {wanted[key]}, over {limit})"
            else:
                found[key] = f"{limit} (its sales reach {wanted[key]})"
    return found


def outcomes(paths: list[Path]) -> dict[str, Any]:
    """What the server answered the lanes' outboxes: counts by status, and a few refusals.

    A sale the server ``held`` (or rejected) is refused in the outbox with its
    answer (``held: <reason>``): it is counted here, never as ingested.
    """
    counts: dict[str, int] = {}
    examples: list[str] = []
    for path in paths:
        db = open_db(path)
        try:
            rows = db.execute(
                "SELECT CASE WHEN refused_at IS NOT NULL "
                "THEN substr(last_error, 1, instr(last_error, ':') - 1) "
                "WHEN sent_at IS NOT NULL THEN 'sent' ELSE 'pending' END, "
                "COUNT(*), MIN(last_error) FROM outbox GROUP BY 1"
            ).fetchall()
        finally:
            db.close()
        for status, count, error in rows:
            counts[str(status)] = counts.get(str(status), 0) + int(count)
            if status not in ("sent", "pending") and len(examples) < 3:
                examples.append(str(error)[:300])
    return {"counts": counts, "examples": examples}


def run(args: argparse.Namespace, work: Path, result: dict[str, Any]) -> None:
    stop_at = time.monotonic() + args.deadline
    phases: dict[str, Any] = {}
    result["phases"] = phases

    def due(name: str) -> bool:
        if name not in args.phases:
            return False
        if time.monotonic() < stop_at:
            return True
        phases[name] = {"skipped": "overall deadline"}
        return False

    with (
        postgres_database() if args.backend == "postgres" else nullcontext_sqlite(work) as (
            db_url,
            dbname,
        )
    ):
        database = open_database(db_url)
        try:
            started = time.perf_counter()
            summary = demo.seed(
                database,
                work / "keys",
                members=args.members,
                products=args.products,
                now=datetime.now(UTC),
            )
            result["server_seed_s"] = round(time.perf_counter() - started, 1)
            result["seeded"] = {"members": summary.members, "products": summary.products}
            with serving(db_url, work / "server.log", args.workers) as (url, proc):
                meter = Meter(proc.pid, dbname)
                data_dir = work / "lane"
                if "provision" not in args.phases:  # the set-up of every other phase
                    args.phases.add("provision")
                if not due("provision"):
                    return
                phases["provision"] = bench_provision(url, database, data_dir, meter)
                terminal = bootstrap(data_dir)
                rng = random.Random(42)
                try:
                    with open_client(terminal.db, data_dir) as client:
                        if due("delta"):
                            phases["delta"] = bench_delta(
                                database, terminal, client, args.delta, meter
                            )
                        if due("drain"):
                            phases["drain"] = bench_drain(terminal, client, args.sales, rng, meter)
                    if due("ingest"):
                        phases["ingest"] = bench_ingest(
                            url, database, terminal, work, args, rng, meter
                        )
                finally:
                    terminal.close()
                result["client_peak_rss_mb"] = peak_rss_mb()
        finally:
            database.dispose()


@contextmanager
def nullcontext_sqlite(work: Path) -> Iterator[tuple[str, None]]:
    yield f"sqlite:///{work / 'club.db'}", None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--delta", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=10_000)
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--sales-per-terminal", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--ingest-members",
        type=int,
        default=2_000,
        help="members the ingest sales are spread over (with 1/8 as many guest baskets)",
    )
    parser.add_argument(
        "--phases",
        type=lambda text: set(text.split(",")),
        default={"provision", "delta", "drain", "ingest"},
        help="comma-separated phases to run (provision always runs: it sets the others up)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--deadline", type=float, default=1_200.0, help="seconds for everything")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "benchmark": "sync",
        "machine": machine(),
        "backend": args.backend,
        "workers": args.workers,
        "targets": {"provision_s": 60, "delta_10k_members_s": 2, "drain_10k_sales_s": 10},
    }
    if args.backend == "postgres":
        result["postgres_settings"] = postgres_settings()
    work = Path(tempfile.mkdtemp(prefix="club-sync-bench-"))
    try:
        run(args, work, result)
    except Exception as exc:  # the JSON says what failed
        result["error"] = f"{type(exc).__name__}: {exc}"
        log = work / "server.log"
        if log.exists():
            result["server_log_tail"] = log.read_text(errors="replace")[-2000:]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()

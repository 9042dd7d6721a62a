"""Benchmark: importing the ERP's files (``club-server import``), PostgreSQL on loopback.

On a fresh database with the demo store's tiers and categories (no demo
products or members), generates in memory and imports, timing each end to end
(parsing, checks, staging, comparing, writing, change log, rule-set publish):

- ``products``: ``--products`` rows (CSV, toman with thousands separators, barcodes);
- ``member_prices``: ``--prices`` rows over those products and the tiers;
- ``products_and_prices_s``: the two together. Target <= 30 s for 100,000 + 150,000;
- ``members``: ``--members`` rows with phones. Target <= 60 s for 1,000,000;
- each again (``*_again``: every row unchanged, nothing written) to show the
  cost of an idempotent re-run.

Prints one JSON document. Usage::

    python -m benchmarks.imports --products 100000 --prices 150000 --members 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stdnum import ean

from benchmarks.common import emit, machine, peak_rss_mb
from benchmarks.sync import postgres_database
from club_server.admin.access import cli_actor
from club_server.changes import record_all
from club_server.db import open_database
from club_server.entities import ENTITIES
from club_server.imports import import_file
from club_server.schema import categories, settings, tiers
from clubcore import demo_rows


def _products(count: int) -> bytes:
    cats = [row[0] for row in demo_rows.category_rows()]
    lines = ["sku,name,category,list_price_toman,barcode,member_only,active"]
    for n in range(count):
        body = f"626{n:09d}"
        price = 10_000 + (n * 7919) % 900_000
        lines.append(f'B{n:07d},کالای شماره {n},{cats[n % len(cats)]},"{price:,}",'
                     f"{body}{ean.calc_check_digit(body)},0,1")  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def _prices(count: int, products: int) -> bytes:
    tier_codes = [row[0] for row in demo_rows.tier_rows()]
    lines = ["sku,tier,price_toman"]
    for n in range(count):
        product, tier = divmod(n, len(tier_codes))
        sku = product % products
        lines.append(f"B{sku:07d},{tier_codes[tier]},{9_000 + (sku * 7919) % 900_000}")
    return ("\n".join(lines) + "\n").encode()


def _members(count: int) -> bytes:
    tier_codes = [row[0] for row in demo_rows.tier_rows()]
    lines = ["member_no,display_name,tier,phone,segments,full_name,status"]
    for n in range(count):
        lines.append(f"{2_000_000 + n},عضو {n},{tier_codes[n % 4]},0912{n:07d},"
                     f"{'family' if n % 7 == 0 else ''},نام کامل {n},active")  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def _prepare(url: str) -> None:
    """The demo store's tiers, categories and settings, nothing else."""
    database = open_database(url)
    salt = bytes(16)
    with database.writing() as conn:
        conn.execute(tiers.insert(), [dict(zip(tiers.c.keys(), row, strict=True))
                                      for row in demo_rows.tier_rows()])  # fmt: skip
        conn.execute(categories.insert(), [dict(zip(categories.c.keys(), row, strict=True))
                                           for row in demo_rows.category_rows()])  # fmt: skip
        values = demo_rows.demo_settings(salt).items()
        conn.execute(settings.insert(), [{"key": k, "value": str(v)} for k, v in values])
        for name in ("tiers", "categories", "settings"):
            record_all(conn, ENTITIES[name])
    database.dispose()


def _timed(url: str, kind: str, data: bytes) -> dict[str, Any]:
    database = open_database(url)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = import_file(database, kind, data, actor=cli_actor(), now=datetime.now(UTC))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        database.dispose()
    assert not report.errors, report.error_lines(5)
    return {"rows": report.rows, "new": report.new, "changed": report.changed,
            "unchanged": report.unchanged, "seconds": round(elapsed, 2),
            "client_cpu_s": round(cpu, 2),
            "rows_per_s": round(report.rows / elapsed), "phases_s": report.timings}  # fmt: skip


def run(url: str, n_products: int, n_prices: int, n_members: int) -> dict[str, Any]:
    _prepare(url)
    started = time.perf_counter()
    files = {"products": _products(n_products), "member-prices": _prices(n_prices, n_products),
             "members": _members(n_members)}  # fmt: skip
    result: dict[str, Any] = {"generate_files_s": round(time.perf_counter() - started, 2)}
    for kind in ("products", "member-prices", "members"):
        result[kind.replace("-", "_")] = _timed(url, kind, files[kind])
    result["products_and_prices_s"] = round(
        result["products"]["seconds"] + result["member_prices"]["seconds"], 2
    )
    for kind in ("products", "member-prices", "members"):
        result[kind.replace("-", "_") + "_again"] = _timed(url, kind, files[kind])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--prices", type=int, default=150_000)
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        place: AbstractContextManager[Any] = (
            postgres_database() if args.backend == "postgres"
            else nullcontext((f"sqlite:///{Path(work) / 'club.db'}", None))
        )  # fmt: skip
        with place as (url, _name):
            figures = run(url, args.products, args.prices, args.members)
    emit({"benchmark": "imports", "backend": args.backend, "machine": machine(),
          "targets": {"products_and_prices_s": 30, "members_s": 60},
          **figures, "peak_rss_mb": peak_rss_mb()})  # fmt: skip


if __name__ == "__main__":
    main()

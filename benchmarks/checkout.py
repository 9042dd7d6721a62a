"""Benchmark: member lookup + basket pricing, durable sale commit, at a million members.

Generates (or reuses, with ``--data-dir``) a store of ``--members`` members and
cards and ``--products`` products with member prices, then measures:

- ``identify_and_price``: a 50-line basket is on the lane; a card UID is read;
  the member is found by UID and the whole basket re-priced for them (the
  checkout path after a card read, no radio time). Target p99 <= 2 ms.
- ``cold_lookup_and_price``: the same from nothing: member by number, pricing
  data of 50 random products from SQLite, offers, the pricing engine.
- ``durable_commit``: recording a completed 50-line member sale with its
  points entries and outbox entry (WAL, synchronous=FULL, checkpoints on a
  background thread as in the app). Target p99 <= 10 ms.

Prints one JSON document. Usage::

    python -m benchmarks.checkout --members 1000000 --products 100000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import emit, machine, peak_rss_mb, summarize, time_calls
from clubcore.pricing import BasketItem, Customer, price_basket
from clubcore.sale import Sale, Tender, new_sale_id
from offline_store import members, pricing_data, sales
from offline_store.cards import StoreCardDirectory
from terminal.bootstrap import Terminal, bootstrap
from terminal.demo_data import member_number, seed


def generate(data_dir: Path, n_members: int, n_products: int) -> dict[str, Any]:
    terminal = bootstrap(data_dir)
    try:
        if terminal.db["members"].count >= n_members:
            return {"generated": False}
        started = time.perf_counter()
        summary = seed(terminal.db, members=n_members, products=n_products, now=terminal.clock())
        return {
            "generated": True,
            "generator_s": round(time.perf_counter() - started, 2),
            "members": summary.members,
            "products": summary.products,
            "member_prices": summary.member_prices,
        }
    finally:
        terminal.close()


def bench_identify(
    terminal: Terminal, rng: random.Random, n_members: int, n_products: int, count: int
) -> dict[str, float]:
    checkout = terminal.checkout()
    for sku in rng.sample(range(n_products), 50):
        checkout.add(f"P{sku:06d}")
    uids = [bytes.fromhex(f"04{rng.randrange(n_members):012X}") for _ in range(count)]
    directory = StoreCardDirectory(terminal.db)

    def once(i: int) -> None:
        card = directory.card_for_uid(uids[i])
        assert card is not None and card.uid_only
        checkout.identify(card.member_no, "card")

    return summarize(time_calls(once, count))


def bench_cold(
    terminal: Terminal, rng: random.Random, n_members: int, n_products: int, count: int
) -> dict[str, float]:
    rules = pricing_data.load_rules(terminal.db)
    now = terminal.clock()
    baskets = [[f"P{s:06d}" for s in rng.sample(range(n_products), 50)] for _ in range(count)]
    numbers = [member_number(rng.randrange(n_members)) for _ in range(count)]

    def once(i: int) -> None:
        member = members.get_member(terminal.db, numbers[i])
        pricing = pricing_data.pricing_for(terminal.db, baskets[i])
        offers = pricing_data.offers_for(terminal.db, member.member_no, now)
        customer = Customer(member.member_no, member.tier, member.segments)
        items = [BasketItem(pricing[sku], 1) for sku in baskets[i]]
        price_basket(items, customer, rules, offers, now=now)

    return summarize(time_calls(once, count))


def bench_commit(
    terminal: Terminal, rng: random.Random, n_members: int, n_products: int, count: int
) -> dict[str, float]:
    checkout = terminal.checkout()
    checkout.identify(member_number(rng.randrange(n_members)), "card")
    for sku in rng.sample(range(n_products), 50):
        checkout.add(f"P{sku:06d}")
    priced = checkout.priced
    now = terminal.clock()
    context = {
        "terminal_id": "bench",
        "store_id": "bench",
        "created_at": now,
        "business_date": now.date(),
        "hour": now.hour,
        "currency": "IRR",
    }
    pending = [
        Sale.from_basket(
            priced, tender=Tender.CARD, id_method="card", sale_id=new_sale_id(), **context
        )
        for _ in range(count)
    ]
    return summarize(time_calls(lambda i: sales.record_sale(terminal.db, pending[i]), count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=2_000)
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--data-dir", type=Path, help="reuse (or create) the store here")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="club-bench-"))
    result: dict[str, Any] = {"benchmark": "checkout", "machine": machine()}
    result["generator"] = generate(data_dir, args.members, args.products)
    rng = random.Random(42)
    terminal = bootstrap(data_dir, background_checkpoints=True)
    try:
        result["identify_and_price_50_lines"] = bench_identify(
            terminal, rng, args.members, args.products, args.iterations
        )
        result["cold_lookup_and_price_50_lines"] = bench_cold(
            terminal, rng, args.members, args.products, args.iterations
        )
        result["durable_commit_50_lines"] = bench_commit(
            terminal, rng, args.members, args.products, args.commits
        )
    finally:
        terminal.close()
    db_file = data_dir / "terminal.db"
    result["database_mb"] = round(os.path.getsize(db_file) / 2**20, 1)
    result["peak_rss_mb"] = peak_rss_mb()
    result["targets"] = {
        "identify_and_price_p99_ms": 2,
        "durable_commit_p99_ms": 10,
        "generator_s": 60,
    }
    emit(result)


if __name__ == "__main__":
    main()

"""Helpers of the fault and crash tests: valid generated sales, and the crash test's sync process.

Two parts:

- :func:`sale_templates` / :func:`make_sales` / :func:`record_bulk`: sales
  that are valid for the club server (this terminal's store and id, priced by
  the terminal's own pricing engine, member sales with their points), made
  fast from a few priced baskets and recorded with the real
  :func:`offline_store.sales.record_sale` inside one outer transaction.
- ``python -m tests.sync.crash_worker``: a *zygote*. It imports the sync code
  once, then for every JSON command on stdin forks a child that runs the
  real push / pull / snapshot code against the club server, and relays the
  child's lines to stdout::

      pid <pid>                 the child exists
      ready                     the child opened its database and client; work starts
      ack <sale_id>             record_sale returned: the sale is acknowledged
      cursor <n>                a page of deltas was applied
      pushed <created> <dup>    a push finished
      page <entity> <rows>      a snapshot page was loaded (not committed until the swap)
      snapshot <cursor>         a snapshot was swapped in
      done                      the job ended by itself
      error <text>              the job failed (a bug, or the server refused)
      exit <pid> <status>       the child is gone and reaped (``killed 9`` or ``code N``)

  The test kills the child (SIGKILL) a random time after ``ready``. Forking a
  warm process makes a child start in a few milliseconds instead of the
  ~0.8 s a cold interpreter needs to import the sync code, so hundreds of
  kills fit in a short test.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clubcore.pricing import PricedBasket
from clubcore.sale import Sale, Tender, new_sale_id
from offline_store.sales import record_sale
from terminal.bootstrap import Terminal

__all__ = ["Template", "make_sales", "record_bulk", "ring_up", "sale_templates"]


@dataclass(frozen=True, slots=True)
class Template:
    """A priced basket and how its customer was identified."""

    priced: PricedBasket
    id_method: str | None


def sellable_skus(terminal: Terminal, count: int = 20) -> list[str]:
    rows = terminal.db.execute(
        "SELECT sku FROM products WHERE active AND NOT member_only ORDER BY sku LIMIT ?", [count]
    )
    return [str(row[0]) for row in rows]


def active_members(terminal: Terminal, count: int) -> list[str]:
    rows = terminal.db.execute(
        "SELECT member_no FROM members WHERE status = 'active' ORDER BY member_no LIMIT ?",
        [count],
    )
    return [str(row[0]) for row in rows]


def sale_templates(
    terminal: Terminal, rng: random.Random, *, members: int = 40, guests: int = 5
) -> list[Template]:
    """Baskets priced by the terminal's checkout: ``members`` member baskets and ``guests`` not."""
    skus = sellable_skus(terminal)
    customers: list[str | None] = [*active_members(terminal, members), *([None] * guests)]
    templates = []
    for member in customers:
        checkout = terminal.checkout()
        if member is not None:
            checkout.identify(member, "card")
        for sku in rng.sample(skus, rng.randint(1, 4)):
            checkout.add(sku, rng.randint(1, 3))
        templates.append(Template(checkout.priced, checkout.state.id_method))
    return templates


def make_sales(terminal: Terminal, templates: Sequence[Template], count: int) -> list[Sale]:
    """``count`` new sales of this terminal, cycling through ``templates``."""
    created = terminal.clock()
    local = created.astimezone(terminal.timezone)
    context = {
        "terminal_id": terminal.terminal_id,
        "store_id": terminal.store_id,
        "created_at": created,
        "business_date": local.date(),
        "hour": local.hour,
        "currency": terminal.currency.code,
    }
    return [
        Sale.from_basket(
            templates[i % len(templates)].priced,
            tender=Tender.CARD if i % 2 else Tender.CASH,
            id_method=templates[i % len(templates)].id_method,
            sale_id=new_sale_id(),
            **context,
        )
        for i in range(count)
    ]


def record_bulk(terminal: Terminal, sales: Sequence[Sale]) -> None:
    """Record ``sales`` with the real ``record_sale``, all in one outer transaction (fast)."""
    with terminal.db.atomic():
        for sale in sales:
            record_sale(terminal.db, sale)


def ring_up(terminal: Terminal, rng: random.Random, member: str | None, skus: list[str]) -> Sale:
    """One sale through the terminal's real checkout (identify, add, maybe redeem, complete)."""
    checkout = terminal.checkout()
    if member is not None:
        checkout.identify(member, "card")
    for sku in rng.sample(skus, rng.randint(1, 3)):
        checkout.add(sku, rng.randint(1, 2))
    if member is not None and rng.random() < 0.3:
        most = checkout.max_redeemable()
        least = checkout.rules.points.min_redeem
        if most >= least:
            checkout.redeem(rng.randint(least, most))
    return checkout.complete(Tender.CARD)


# -- the crash test's sync process ------------------------------------------------------


def _job(command: dict[str, Any], say: Callable[[str], None]) -> None:
    """Run one job of the crash test in this (forked) process."""
    from offline_store.settings import read_settings
    from sync.credentials import load_credential
    from sync.http import RetryPolicy, SyncClient
    from sync.provision import CA_BUNDLE_KEY, SERVER_URL_KEY, open_client
    from sync.pull import get_cursor, pull_changes
    from sync.push import push_outbox
    from sync.snapshot import load_snapshot
    from terminal.bootstrap import bootstrap

    data_dir = Path(command["data_dir"])
    rng = random.Random(command["seed"])
    policy = RetryPolicy(attempts=3, base=0.01, cap=0.05, deadline=10)
    job = command["job"]
    terminal = bootstrap(data_dir)
    client = open_client(terminal.db, data_dir, policy=policy)
    terminal_id, store_id = terminal.terminal_id, terminal.store_id
    say("ready")
    if job == "sell":  # the real checkout, then push, again and again
        skus = sellable_skus(terminal)
        members = active_members(terminal, 30)
        for _ in range(command.get("sales", 20)):
            sale = ring_up(terminal, rng, rng.choice([*members, None]), skus)
            say(f"ack {sale.sale_id}")
            if rng.random() < 0.3:
                pushed = push_outbox(
                    client,
                    terminal.db,
                    terminal_id=terminal_id,
                    store_id=store_id,
                    batch_size=rng.choice([1, 5]),
                )
                say(f"pushed {pushed.created} {pushed.duplicate}")
    elif job == "push":
        pushed = push_outbox(
            client,
            terminal.db,
            terminal_id=terminal_id,
            store_id=store_id,
            batch_size=command.get("batch", 50),
        )
        say(f"pushed {pushed.created} {pushed.duplicate}")
    elif job == "pull":
        more = True
        while more:
            page = pull_changes(client, terminal.db, limit=command.get("limit", 7), max_pages=1)
            say(f"cursor {page.cursor}")
            more = page.pages > 0 and page.changes > 0
    elif job == "snapshot":  # re-provision: a new file, the lane's sales copied, swapped in
        keep = ("terminal_id", "store_id", SERVER_URL_KEY, CA_BUNDLE_KEY, "sync.provisioned_at")
        stored = read_settings(terminal.db)
        settings = {k: v for k in keep if (v := stored.raw(k)) is not None}
        client.close()
        terminal.close()  # load_snapshot needs every connection to the database closed
        with SyncClient(
            settings[SERVER_URL_KEY],
            credential=load_credential(data_dir).token,
            ca_bundle=settings.get(CA_BUNDLE_KEY),
            policy=policy,
        ) as snap_client:
            snapshot = load_snapshot(
                snap_client,
                data_dir,
                settings=settings,
                progress=lambda name, done, _total: say(f"page {name} {done}"),
                page_limit=command.get("limit", 25),
            )
        say(f"snapshot {snapshot.cursor}")
        return
    else:
        raise ValueError(f"unknown job {job!r}")
    say(f"cursor {get_cursor(terminal.db)}")
    client.close()
    terminal.close()


def _child(command: dict[str, Any], fd: int) -> int:
    def say(line: str) -> None:
        os.write(fd, (line.replace("\n", " ") + "\n").encode())

    try:
        _job(command, say)
        say("done")
        return 0
    except BaseException as exc:  # report everything; the test decides
        say("error " + "".join(traceback.format_exception_only(exc)).strip()[:2000])
        return 1


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def zygote() -> None:
    """Fork one child per command read on stdin; relay its lines; report its end."""
    import sync.snapshot
    import sync.worker  # noqa: F401

    for raw in sys.stdin:
        command = json.loads(raw)
        if command.get("job") == "quit":
            break
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os._exit(_child(command, write_end))
        os.close(write_end)
        _emit(f"pid {pid}")
        with os.fdopen(read_end, "rb") as stream:
            for line in stream:
                _emit(line.decode(errors="replace").rstrip("\n"))
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            _emit(f"exit {pid} killed {os.WTERMSIG(status)}")
        else:
            _emit(f"exit {pid} code {os.WEXITSTATUS(status)}")


if __name__ == "__main__":
    zygote()

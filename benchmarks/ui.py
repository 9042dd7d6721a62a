"""Benchmark: the touchscreen app at a million members.

Measures, with the real app on a real (or Xvfb) display:

- ``card_to_member_prices``: from a ``CardRead`` event (the simulated
  reader's timestamp, on its thread) to the end of the frame that shows the
  member prices of a 50-line basket (``Window.on_flip`` after the render).
  Cards of different tiers alternate, so every read re-prices the basket.
  Target p99 <= 100 ms.
- ``start_to_ready_s``: process start to the first frame of the ready
  checkout (store open, categories and basket shown, readers started).
  Target <= 3 s.
- ``rss_mb``: resident memory with the UI up after the run, with a
  1,000,000-member cache. Target <= 200 MB.

The store is copied from ``--from-db`` (default ``/tmp/bench1m/terminal.db``
when it exists) or generated (about a minute). Prints one JSON document.
Without ``$DISPLAY`` an Xvfb display is started for the run. Usage::

    python -m benchmarks.ui [--reads 200] [--from-db PATH] [--size 1280x800]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import emit, machine, summarize

DEFAULT_DB = Path("/tmp/bench1m/terminal.db")
TIERS = ["basic", "silver", "gold", "platinum", "vip"]


def prepare(data_dir: Path, source: Path | None) -> dict[str, Any]:
    """A 1M-member store with demo cards in ``data_dir``."""
    from terminal import demo_cards
    from terminal.bootstrap import bootstrap
    from terminal.demo_data import seed

    data_dir.mkdir(parents=True, exist_ok=True)
    if source is not None and source.exists():
        shutil.copy(source, data_dir / "terminal.db")
    terminal = bootstrap(data_dir)
    try:
        if not terminal.db["products"].count:
            seed(terminal.db, members=1_000_000, products=100_000, now=terminal.clock())
        cards = demo_cards.issue_demo_cards(terminal.db, terminal.clock())
        demo_cards.save(cards, data_dir / demo_cards.DEMO_CARDS_FILE)
        return {
            "members": terminal.db["members"].count,
            "products": terminal.db["products"].count,
        }
    finally:
        terminal.close()


def _rss() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def child(data_dir: Path, reads: int, spawned: float, size: tuple[int, int]) -> None:
    """Run the app, measure, print JSON on stdout (runs in its own process)."""
    from terminal.ui.launch import make_app
    from terminal.ui.options import AppOptions

    samples: list[float] = []
    out: dict[str, Any] = {}

    def probe(read_at: float, shown_at: float) -> None:
        samples.append((shown_at - read_at) * 1000)

    def ready(app: Any) -> None:
        from terminal.ui.script import Script

        out["start_to_ready_s"] = round(time.time() - spawned, 3)
        out["app_init_to_ready_s"] = round(app.ready_after, 3)
        Script(_steps(app, reads, samples, out), lambda error: _end(app, error, out)).start()

    app = make_app(
        AppOptions(data_dir, ["sim"], demo=True, size=size, on_ready=ready, latency_probe=probe)
    )
    app.run()
    out["card_to_member_prices"] = summarize(samples) if samples else {}
    print(json.dumps(out))


def _steps(app: Any, reads: int, samples: list[float], out: dict[str, Any]) -> Any:
    skus = [f"P{index * 1_999:06d}" for index in range(50)]
    for sku in skus:
        app.add_product(sku)
    yield lambda: app.worker.busy == 0
    out["basket_lines"] = len(app.basket_view.lines)
    app.call(lambda s: s.set_debounce(0.0))  # every read counts, even of a card just seen
    cards = {card.label: card for card in app.cards}
    for index in range(reads):
        before = len(samples)
        app.present(cards[TIERS[index % len(TIERS)]])
        yield lambda before=before: len(samples) > before
    out["member_lines_priced"] = sum(
        1 for line in app.basket_view.lines if line.line_total < line.list_total
    )
    out["rss_mb"] = _rss()


def _end(app: Any, error: BaseException | None, out: dict[str, Any]) -> None:
    if error is not None:
        out["error"] = repr(error)
    app.stop()


def _display_env(size: tuple[int, int]) -> tuple[dict[str, str], subprocess.Popen[bytes] | None]:
    env = dict(os.environ)
    if env.get("DISPLAY"):
        return env, None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("no $DISPLAY and no Xvfb: install xvfb or run under a desktop")
    number = next(n for n in range(150, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    proc = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    env["DISPLAY"] = f":{number}"
    return env, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--from-db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--size", default="1280x800", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, _, height = args.size.partition("x")
    size = (int(width), int(height))
    if args.child:
        child(args.child, args.reads, args.spawned, size)
        return
    with tempfile.TemporaryDirectory(prefix="club-ui-bench-") as tmp:
        store = prepare(Path(tmp) / "lane", args.from_db)
        env, xvfb = _display_env(size)
        env["KIVY_HOME"] = tmp
        try:
            spawned = time.time()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.ui",
                    "--child",
                    str(Path(tmp) / "lane"),
                    "--reads",
                    str(args.reads),
                    "--spawned",
                    str(spawned),
                    "--size",
                    args.size,
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
            )
        finally:
            if xvfb is not None:
                xvfb.terminate()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"the app run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    emit(
        {
            "benchmark": "ui",
            "machine": machine(),
            "store": store,
            "window": args.size,
            **result,
            "targets": {"card_to_member_prices_p99_ms": 100, "start_to_ready_s": 3, "rss_mb": 200},
        }
    )


if __name__ == "__main__":
    main()

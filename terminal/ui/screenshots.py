"""``club-terminal screenshots``: every screen, both languages, several window sizes.

A fresh demo store gets a day of sales (so the manager's charts have bars),
then the real app is driven by a :class:`~terminal.ui.script.Script`: a gold
member's card is tapped, products are added, dialogs are opened, and each
screen is saved as ``<screen>-<lang>-<W>x<H>.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from terminal import demo_cards, demo_data
from terminal.bootstrap import bootstrap

if TYPE_CHECKING:
    from terminal.ui.app import ClubTerminalApp
    from terminal.ui.script import Step

__all__ = ["seed_day", "take_screenshots"]

BASKET = ["P000001", "P000012", "P000030", "P000053", "P000040", "P000005"]


def seed_day(data_dir: Path) -> None:
    """A demo store and a day of sales at several hours, members and not."""
    terminal = bootstrap(data_dir)
    try:
        demo_data.seed_demo(terminal)
        cards = {c.label: c for c in demo_cards.load(data_dir / demo_cards.DEMO_CARDS_FILE)}
        today = terminal.local_now().replace(hour=8, minute=5, second=0, microsecond=0)
        labels = ["gold", None, "basic", "silver", None, "platinum", "vip", "basic", None, "gold"]
        for index, label in enumerate(labels * 2):
            moment = today + timedelta(hours=index % 12, minutes=index * 3)
            terminal.clock = partial(_fixed, moment)
            checkout = terminal.checkout()
            if label:
                checkout.identify_read(cards[label].as_read())
            for sku in BASKET[: 2 + index % 5]:
                checkout.add(sku, 1 + index % 3)
            checkout.complete("card" if index % 2 else "cash")
    finally:
        terminal.close()


def _steps(
    app: ClubTerminalApp, out: Path, sizes: list[tuple[int, int]], written: list[Path]
) -> Iterator[Step]:
    from kivy.core.window import Window

    from terminal.ui.script import find, screenshot, tap

    idle = lambda: app.worker.busy == 0  # noqa: E731
    cards = {c.label: c for c in app.cards}

    def shot(screen: str) -> Iterator[Step]:
        yield idle
        yield 0.3
        name = f"{screen}-{app.lang.code}-{Window.width}x{Window.height}.png"
        written.append(screenshot(out / name))

    for width, height in sizes:
        Window.size = (width, height)
        yield partial(_window_is, (width, height))
        yield 0.3
        app.rebuild()
        for code in ("en", "fa"):
            app.set_language(code)
            app.go_checkout()
            app.clear_basket()
            app.call(lambda s: s.set_debounce(0.0))
            app.present(cards["gold"])
            yield lambda: app.basket_view is not None and app.basket_view.member is not None
            for sku in BASKET:
                app.add_product(sku)
            yield idle
            app.show_category("snacks")
            yield from shot("checkout")
            tap("redeem")
            yield lambda: find("redeem") is not None
            yield from shot("redeem")
            tap("redeem-max")
            yield idle
            app.present(cards["expired"])
            yield lambda: find("refused") is not None
            yield from shot("refused")
            tap("dialog-close")
            app.open_demo_cards()
            yield from shot("demo-cards")
            tap("dialog-close")
            app.switch("manager")
            app.refresh_manager()
            yield from shot("manager")
            app.switch("technician")
            app.run_health()
            yield from shot("technician")
            app.go_checkout()


def take_screenshots(data_dir: Path, out: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    """Seed ``data_dir``, run the app through every screen, and return the PNGs written.

    Raises:
        the script's error, if a step failed or timed out.
    """
    from terminal.ui.launch import make_app
    from terminal.ui.options import AppOptions

    seed_day(data_dir)
    written: list[Path] = []
    errors: list[BaseException] = []
    largest = max(sizes, key=lambda s: s[0] * s[1])

    def ready(app: ClubTerminalApp) -> None:
        from terminal.ui.script import Script

        if app.fatal_error is not None:
            errors.append(app.fatal_error)
            app.stop()
            return

        def done(error: BaseException | None) -> None:
            if error is not None:
                errors.append(error)
            app.stop()

        Script(_steps(app, out, sizes, written), done).start()

    app = make_app(AppOptions(data_dir, ["sim"], demo=True, size=largest, on_ready=ready))
    app.run()
    if errors:
        raise errors[0]
    return written


def _fixed(moment: datetime) -> datetime:
    return moment


def _window_is(size: tuple[int, int]) -> bool:
    from kivy.core.window import Window

    return tuple(Window.size) == size

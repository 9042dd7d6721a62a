"""Scenarios that drive the real app with touches; run as ``python -m tests.ui.scenarios NAME DIR``.

Each scenario is a generator of :mod:`terminal.ui.script` steps. It taps
widgets by name, waits for the app to answer, and fills ``result`` with what
it saw; the process prints ``result`` as JSON and exits 0, or prints the
failing step's error and exits 1.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from terminal.ui.launch import make_app
from terminal.ui.options import AppOptions
from terminal.ui.script import Step, find, placed, reveal, tap, texts

Scenario = Callable[[Any, dict[str, Any]], Iterator[Step]]


def _idle(app: Any) -> Callable[[], bool]:
    return lambda: app.worker.busy == 0


def _products(prefix: str = "product-") -> list[Any]:
    from kivy.core.window import Window

    from terminal.ui.script import _walk

    return [
        w
        for root in Window.children
        for w in _walk(root)
        if str(getattr(w, "name", "")).startswith(prefix)
    ]


def _present(card: str) -> Iterator[Step]:
    tap("demo-cards")
    yield lambda: find(f"demo-card-{card}") is not None
    tap(f"demo-card-{card}")


def _scroll_and_tap(name: str) -> Iterator[Step]:
    yield placed(name)
    reveal(name)
    yield placed(name)
    tap(name)


def member_sale(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """Tap a gold card, add products by touch, redeem points, pay by card."""
    yield from _present("gold")
    yield lambda: app.basket_view is not None and app.basket_view.member is not None
    result["member"] = texts("member-name")[0]
    result["tier"] = texts("tier-badge")[0]
    result["progress"] = texts("member-progress")[0]
    yield from _scroll_and_tap("cat-dairy")  # off screen at 800x480: the cashier scrolls
    yield lambda: any(w.name == "product-P000000" for w in _products())
    for sku in ("P000000", "P000001", "P000002", "P000000"):
        yield from _scroll_and_tap(f"product-{sku}")
        yield _idle(app)
    view = app.basket_view
    result["lines"] = len(view.lines)
    result["quantities"] = [line.quantity for line in view.lines]
    result["member_discount"] = view.member_discount
    yield 0.2
    row = find("basket-line-1")
    result["row"] = [row.c_list.logical, row.c_member.logical, row.c_save.logical]
    tap("redeem")
    yield lambda: find("redeem-max") is not None
    result["redeem_text"] = texts("redeem-max-text")
    tap("redeem-max")
    yield lambda: app.basket_view.points_redeemed > 0
    result["points_redeemed"] = app.basket_view.points_redeemed
    result["total"] = app.basket_view.total
    tap("tender-card")
    yield lambda: find("sale-done") is not None
    result["done"] = texts("dialog-message")[0]
    result["after_lines"] = len(app.basket_view.lines)


def refused_card(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """An expired card, then a forged one: each refusal says why."""
    for card in ("expired", "forged"):
        yield from _present(card)
        yield lambda: find("refused") is not None
        result[card] = texts("dialog-message") + texts("dialog-hint")
        tap("dialog-close")
        yield lambda: find("refused") is None
    result["member"] = app.basket_view.member


def manager_pin(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """A wrong manager PIN is refused and asked again; the right one opens the screen."""
    tap("nav-manager")
    for pin in ("9999", "1234"):
        yield lambda: find("keypad-ok") is not None
        yield 0.1
        for digit in pin:
            tap(f"key-{digit}")
        tap("keypad-ok")
        if pin == "9999":
            yield lambda: find("keypad-note") is not None
            result["note"] = texts("keypad-note")[0]
            result["screen_after_wrong"] = app.sm.current
    yield lambda: app.sm.current == "manager" and app.manager_view is not None
    result["screen"] = app.sm.current
    result["scope"] = texts("manager-scope")[0]
    result["sales"] = texts("figure-manager.sales")[0]


def language_switch(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """English to Persian and back, by touch: labels, direction, digits."""
    yield from _present("silver")
    yield lambda: app.basket_view is not None and app.basket_view.member is not None
    title, language = find("app-title"), find("language")
    result["en_title"] = title.text
    result["en_title_left_of_button"] = title.x < language.x
    result["en_offers"] = texts("member-offers")[0]
    tap("language")
    yield lambda: app.lang.code == "fa"
    yield 0.2
    title, language = find("app-title"), find("language")
    result["fa_title_logical"] = title.logical
    result["fa_title_drawn"] = title.text
    result["fa_title_right_of_button"] = title.x > language.x
    result["fa_halign"] = title.halign
    result["fa_points"] = texts("member-points")[0]
    result["fa_grid"] = _products()[0].parent.orientation
    result["fa_tier"] = texts("tier-badge")[0]
    result["fa_offers"] = texts("member-offers")[0]
    name = find("member-name")
    result["fa_name"] = [name.logical, name.text]
    tap("language")
    yield lambda: app.lang.code == "en"
    yield 0.1
    result["back_title"] = find("app-title").text


def _pin(pin: str) -> Iterator[Step]:
    yield placed("keypad-ok", *sorted({f"key-{digit}" for digit in pin}))
    for digit in pin:
        tap(f"key-{digit}")
    tap("keypad-ok")


def _close_message(name: str) -> Iterator[Step]:
    yield lambda: find(name) is not None
    tap("dialog-close")
    yield lambda: find(name) is None


def manager_returns(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """Two sales by touch; on the manager screen one is voided, a line of the other refunded."""
    yield from member_sale(app, result)
    yield from _close_message("sale-done")
    tap("cat-dairy")
    yield lambda: any(w.name == "product-P000003" for w in _products())
    tap("product-P000003")
    yield _idle(app)
    tap("tender-cash")
    yield from _close_message("sale-done")
    tap("nav-manager")
    yield from _pin("1234")
    yield lambda: app.sm.current == "manager" and app.manager_view is not None
    first, second = sorted(app.manager_view.sales, key=lambda row: row.sale_id)[:2]
    if first.member_no is None:
        first, second = second, first
    result["sales"] = [row.sale_id for row in (first, second)]
    reveal(f"void-{second.sale_id}")
    yield placed(f"void-{second.sale_id}")
    tap(f"void-{second.sale_id}")
    yield from _pin("1234")
    yield lambda: find("returned") is not None
    result["void_message"] = texts("dialog-message")[0]
    tap("dialog-close")
    yield (
        lambda: (
            not any(r.sale_id == second.sale_id for r in app.manager_view.sales)
            or any(r.sale_id == second.sale_id and r.returned for r in app.manager_view.sales)
        )
    )
    yield 0.3
    result["void_button_after"] = find(f"void-{second.sale_id}").disabled
    reveal(f"refund-{first.sale_id}")
    yield placed(f"refund-{first.sale_id}")
    tap(f"refund-{first.sale_id}")
    yield placed("refund-line-1")
    result["refund_choices"] = texts("refund-line-1")
    tap("refund-line-1")
    yield from _pin("9999")  # a wrong PIN refunds nothing
    yield lambda: find("keypad-note") is not None
    result["wrong_pin_note"] = texts("keypad-note")[0]
    yield from _pin("1234")
    yield lambda: find("returned") is not None
    result["refund_message"] = texts("dialog-message")[0]
    tap("dialog-close")
    yield _idle(app)
    yield 0.3
    result["kinds"] = sorted(row.kind for row in app.manager_view.sales)


def technician_test_read(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """The technician's test read: a good card and a revoked one, neither rings up a sale."""
    tap("nav-technician")
    yield from _pin("4321")
    yield lambda: app.sm.current == "technician"
    for card in ("platinum", "revoked"):
        yield placed("tech-test-read")
        tap("tech-test-read")
        yield lambda: texts("tech-test-result") != [""]
        result[f"waiting_{card}"] = texts("tech-test-result")[0]
        yield from _present(card)
        yield lambda w=result[f"waiting_{card}"]: texts("tech-test-result")[0] != w
        result[card] = texts("tech-test-result")[0]
    result["member_after"] = app.basket_view.member if app.basket_view else None
    result["screen"] = app.sm.current
    yield placed("lang-fa")
    tap("lang-fa")  # the language, from the technician screen: it stays open, in Persian
    yield lambda: app.lang.code == "fa"
    yield placed("tech-test-read")
    result["after_language"] = [app.sm.current, texts("tech-test-read")[0]]


def main_thread_io_is_seen(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """The I/O watch's own check: I/O done on the UI thread on purpose is reported."""
    import sqlite_utils

    yield 0.1
    path = Path(app.options.data_dir) / "terminal.db"
    sqlite_utils.Database(path).execute("SELECT 1").fetchall()
    (Path(app.options.data_dir) / "note.txt").write_text("x")


#: the embedded demo's sync status board, when the scenario runs inside ``demo_session``
BOARD: Any = None


def synced_sale(app: Any, result: dict[str, Any]) -> Iterator[Step]:
    """The member sale, inside the demo session: it reaches the embedded club server."""
    yield from member_sale(app, result)
    yield lambda: BOARD.status.pending == 0 and BOARD.status.last_success is not None
    result["online"] = BOARD.status.online
    yield 0.5  # the status bar refreshes from the board
    yield 3.5  # the status bar polls the sync status
    result["status_bar"] = texts("status-sync")
    tap("dialog-close")  # the "sale recorded" message
    yield lambda: find("sale-done") is None
    yield 0.5
    result["step"] = "manager"
    tap("nav-manager")
    yield lambda: find("keypad-ok") is not None
    result["step"] = "pin"
    yield 0.1
    for digit in "1234":
        tap(f"key-{digit}")
    tap("keypad-ok")
    yield lambda: app.sm.current == "manager" and app.manager_view is not None
    result["manager_scope"] = texts("manager-scope")[0]
    result["manager_sales"] = texts("figure-manager.sales")[0]


SCENARIOS: dict[str, Scenario] = {
    "synced_sale": synced_sale,
    "member_sale": member_sale,
    "refused_card": refused_card,
    "manager_pin": manager_pin,
    "language_switch": language_switch,
    "manager_returns": manager_returns,
    "technician_test_read": technician_test_read,
    "main_thread_io_is_seen": main_thread_io_is_seen,
}


def _watch_main_thread_io(data_dir: Path, seen: list[str]) -> None:
    """Record disk, database and network I/O done on the UI (main) thread into ``seen``.

    An audit hook sees files opened in the data directory, SQLite connections
    and socket connections; the store's query methods are wrapped to see
    queries. Kivy's own files (fonts, images) are not the app's I/O.
    """
    import threading

    import sqlite_utils

    main = threading.main_thread()
    root = str(data_dir.resolve())

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if threading.current_thread() is not main:
            return
        if event == "open" and isinstance(args[0], str | Path) and str(args[0]).startswith(root):
            seen.append(f"open {args[0]}")
        elif event in ("sqlite3.connect", "socket.connect"):
            seen.append(f"{event} {args[:2]!r:.80}")

    sys.addaudithook(hook)
    for method in ("execute", "query", "executescript"):
        original = getattr(sqlite_utils.Database, method)

        def wrapped(self: Any, *args: Any, _original: Any = original, _m: str = method) -> Any:
            if threading.current_thread() is main:
                seen.append(f"{_m} {str(args[0])[:60] if args else ''}")
            return _original(self, *args)

        setattr(sqlite_utils.Database, method, wrapped)


def main(name: str, data_dir: str) -> int:
    from terminal.ui.script import Script

    result: dict[str, Any] = {}
    outcome: list[BaseException | None] = []
    main_thread_io: list[str] = []
    result["main_thread_io"] = main_thread_io

    def ready(app: Any) -> None:
        if app.fatal_error is not None:
            outcome.append(app.fatal_error)
            app.stop()
            return

        def done(error: BaseException | None) -> None:
            outcome.append(error)
            app.stop()

        result["ready_after"] = round(app.ready_after, 3)
        result["main_thread_io_before_ready"] = list(main_thread_io)
        main_thread_io.clear()
        from kivy.core.window import Window

        result["window"] = list(Window.size)
        result["compact"] = app.compact
        Script(SCENARIOS[name](app, result), done, step_timeout=15).start()

    width, _, height = os.environ.get("CLUB_TEST_WINDOW", "1280x800").partition("x")
    size = (int(width), int(height))
    options = AppOptions(Path(data_dir), ["sim"], demo=True, size=size, on_ready=ready)
    if name != "synced_sale":  # (the embedded server's own threads are not the app)
        _watch_main_thread_io(Path(data_dir), main_thread_io)
    if name == "synced_sale":
        global BOARD
        from terminal.demo_session import demo_session

        with demo_session(Path(data_dir), print) as session:
            BOARD = session.board
            options.sync_status = lambda: session.board.status
            make_app(options).run()
    else:
        make_app(options).run()
    error = outcome[0] if outcome else RuntimeError("the app stopped before the scenario ended")
    if error is not None:
        traceback.print_exception(error)
        print("so far:", json.dumps(result, ensure_ascii=False, default=str))
        return 1
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

# mypy: disallow-subclassing-any=False
"""The Kivy app: builds the screens, owns the worker and the readers, switches language.

Import this module only through :func:`terminal.ui.launch.run_app` (or after
:func:`terminal.ui.launch.configure`): Kivy reads its configuration when its
window module is first imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager

from clubcore.errors import ClubError, ConfigError
from clubcore.money import Currency
from clubcore.settings import Settings
from terminal import demo_cards
from terminal.bootstrap import bootstrap
from terminal.readers import CardRead, Reader, ReaderEvent, ReaderStatus, open_reader
from terminal.readers.sim import SimReader
from terminal.ui.actions import AppActions
from terminal.ui.checkout_screen import CheckoutScreen
from terminal.ui.dialogs import demo_cards_dialog
from terminal.ui.i18n import Lang
from terminal.ui.manager_screen import ManagerScreen
from terminal.ui.options import AppOptions
from terminal.ui.session import UISession
from terminal.ui.status import SyncPanel
from terminal.ui.statusbar import StatusBar
from terminal.ui.technician_screen import TechnicianScreen
from terminal.ui.views import BasketView, ManagerView, ProductView, TestRead
from terminal.ui.widgets import COLORS, TOUCH, Panel, SButton, SLabel, set_lang
from terminal.ui.worker import Worker

__all__ = ["AppOptions", "ClubTerminalApp"]  # AppOptions re-exported

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Initial:
    currency: Currency
    categories: list[tuple[str, str]]
    basket: BasketView
    sync: SyncPanel
    cards: list[demo_cards.DemoCard]
    readers_setting: str


class ClubTerminalApp(AppActions, App):
    """The terminal's touchscreen app."""

    def __init__(self, options: AppOptions) -> None:
        App.__init__(self)
        self.options = options
        self.lang = Lang(options.language)
        self.currency = Settings({}).currency  # the default, until the terminal's is read
        self.readers: list[Reader] = []
        self.sim: SimReader | None = None
        self.reader_states: dict[str, tuple[str, str]] = {}
        self.basket_view: BasketView | None = None
        self.manager_view: ManagerView | None = None
        self.products_state: tuple[str, list[ProductView], bool] = ("", [], False)
        self.categories: list[tuple[str, str]] = []
        self.category, self.offset = "", 0
        self.sync: SyncPanel | None = None
        self.cards: list[demo_cards.DemoCard] = []
        self.sm: Any = None  # the ScreenManager, built by rebuild()
        self._screens: dict[str, Any] = {}  # manager, technician: built when first shown
        self.readers_setting = ",".join(options.readers)
        self.test_read_pending = False
        self.ready = False
        self.compact = False
        self.started = time.monotonic()
        self.ready_after = 0.0
        self.fatal_error: BaseException | None = None

    # -- building ------------------------------------------------------------

    def build(self) -> Any:
        self.title = "Club Terminal"
        Window.clearcolor = COLORS["bg"]
        self.root_box = BoxLayout(orientation="vertical")
        set_lang(self.lang)
        self.root_box.add_widget(SLabel("Club Terminal …", align="center", font_size=sp(24)))
        self.worker: Worker[UISession] = Worker(
            self._open_session,
            _post,
            close_session=lambda s: s.terminal.close(),
            on_fatal=self._fatal,
        )
        self.worker.start()
        self.call(self._initial, self._initial_done, self._fatal)
        Clock.schedule_interval(self.refresh_status, 5)
        Window.bind(on_resize=self._resized)
        return self.root_box

    def _open_session(self) -> UISession:
        terminal = bootstrap(self.options.data_dir, background_checkpoints=True)
        if not terminal.settings.has_store_data:
            terminal.close()
            raise ConfigError(
                "data_dir",
                f"{self.options.data_dir} holds no store data yet",
                hint="provision the terminal, or run 'club-terminal run --demo'",
            )
        return UISession(terminal, self.options.sync_status, self.options.debounce)

    def _initial(self, session: UISession) -> _Initial:
        cards_path = session.terminal.data_dir / demo_cards.DEMO_CARDS_FILE
        cards = demo_cards.load(cards_path) if self.options.demo and cards_path.exists() else []
        return _Initial(
            session.terminal.currency,
            session.categories(),
            session.basket(),
            session.sync_panel(),
            cards,
            ",".join(session.readers()),
        )

    def _initial_done(self, initial: _Initial) -> None:
        self.currency, self.categories = initial.currency, initial.categories
        self.basket_view, self.sync, self.cards = initial.basket, initial.sync, initial.cards
        self.rebuild()
        if self.categories:
            self.show_category(self.categories[0][0])
        self._start_readers()
        self.call(lambda s: None, lambda _: Clock.schedule_once(self._mark_ready, 0))

    def _mark_ready(self, *_: Any) -> None:
        def flipped(*_: Any) -> None:
            Window.unbind(on_flip=flipped)
            self.ready = True
            self.ready_after = time.monotonic() - self.started
            if self.options.on_ready is not None:
                self.options.on_ready(self)

        Window.bind(on_flip=flipped)
        Window.canvas.ask_update()

    def _fatal(self, exc: BaseException) -> None:
        message, hint = self.lang.error(exc)
        self.root_box.clear_widgets()
        self.root_box.add_widget(
            SLabel(
                f"{message}\n{hint}",
                wrap=True,
                align="center",
                color=COLORS["danger"],
                name="fatal",
            )
        )
        self.fatal_error = exc

    def rebuild(self) -> None:
        """(Re)build every screen in the current language and size, and re-render."""
        for child in list(Window.children):
            if isinstance(child, ModalView):
                child.dismiss(animation=False)
        set_lang(self.lang)
        self.compact = Window.width < dp(1000) or Window.height < dp(600)
        previous = str(self.sm.current) if self.sm is not None else "checkout"
        self.root_box.clear_widgets()
        self.root_box.add_widget(self._top_bar())
        self.sm = ScreenManager(transition=NoTransition())
        self.checkout_screen = CheckoutScreen(self, self.currency, self.compact)
        self.sm.add_widget(self.checkout_screen)
        self._screens = {}
        self.root_box.add_widget(self.sm)
        self.status_bar = StatusBar()
        self.root_box.add_widget(self.status_bar)
        self.checkout_screen.products.show_categories(self.categories)
        if self.products_state[0]:
            self.checkout_screen.products.show_products(*self.products_state)
        if self.basket_view is not None:
            self.checkout_screen.render(self.basket_view)
        if previous != "checkout":
            self.switch(previous)
        self._show_status()

    @property
    def manager_screen(self) -> ManagerScreen:
        screen: ManagerScreen | None = self._screens.get("manager")
        if screen is None:
            screen = ManagerScreen(self, self.currency, self.compact)
            self._add_screen(screen)
            if self.manager_view is not None:
                screen.render(self.manager_view)
        return screen

    @property
    def technician_screen(self) -> TechnicianScreen:
        screen: TechnicianScreen | None = self._screens.get("technician")
        if screen is None:
            kiosk = {
                "fullscreen": "yes" if self.options.fullscreen else "no",
                "window": f"{Window.width}x{Window.height}",
                "readers": self.readers_setting,
                "data_dir": str(self.options.data_dir),
            }
            screen = TechnicianScreen(self, kiosk)
            self._add_screen(screen)
            self._show_technician_status(screen)
        return screen

    def _add_screen(self, screen: Any) -> None:
        """A screen built on first use (the checkout is the one a lane shows all day)."""
        self._screens[str(screen.name)] = screen
        self.sm.add_widget(screen)

    def _top_bar(self) -> Any:
        lang = self.lang
        bar = Panel(size_hint_y=None, height=TOUCH + dp(8), padding=dp(4), spacing=dp(4))
        bar.bg = list(COLORS["bar"])
        bar.add_widget(
            SLabel(
                lang.t("app.title"),
                color=COLORS["on_dark"],
                bold=True,
                font_size=sp(16 if self.compact else 20),
                name="app-title",
            )
        )
        width = dp(104) if self.compact else dp(150)
        buttons: list[tuple[str, Callable[[], None], str]] = [
            (lang.t("member.enter"), self.open_member_entry, "member-entry"),
        ]
        if self.cards:
            buttons.append((lang.t("nav.demo_cards"), self.open_demo_cards, "demo-cards"))
        buttons += [
            (lang.t("nav.language"), self.toggle_language, "language"),
            (lang.t("nav.manager"), self.open_manager, "nav-manager"),
            (lang.t("nav.technician"), self.open_technician, "nav-technician"),
        ]
        for text, action, name in buttons:
            role = "accent" if name == "demo-cards" else "button"
            bar.add_widget(
                SButton(
                    text,
                    action,
                    role=role,
                    size_hint_x=None,
                    width=width,
                    font_size=sp(14),
                    name=name,
                )
            )
        return bar

    def _resized(self, *_: Any) -> None:
        compact = Window.width < dp(1000) or Window.height < dp(600)
        if self.ready and compact != self.compact:
            self.rebuild()

    # -- language and screens ------------------------------------------------

    def set_language(self, code: str) -> None:
        """Switch language at run time: every screen is rebuilt and re-rendered."""
        if code == self.lang.code:
            return
        self.lang = Lang(code)
        if self.category:
            self.products_state = (
                self.lang.t_or(f"cat.{self.category}", self.category),
                *self.products_state[1:],
            )
        self.rebuild()

    def toggle_language(self) -> None:
        self.set_language("en" if self.lang.rtl else "fa")

    def switch(self, screen: str) -> None:
        if screen == "manager":
            _ = self.manager_screen  # built now if it was not
        elif screen == "technician":
            self.technician_screen.show_readers(self.reader_states)
        self.sm.current = screen

    # -- rendering -----------------------------------------------------------

    def render_basket(self, view: BasketView) -> None:
        self.basket_view = view
        self.checkout_screen.render(view)
        probe, read_at = self.options.latency_probe, view.read_at
        if probe is not None and read_at is not None:

            def flipped(*_: Any) -> None:
                Window.unbind(on_flip=flipped)
                probe(read_at, time.monotonic())

            Window.bind(on_flip=flipped)

    def refresh_status(self, *_: Any) -> None:
        def done(panel: SyncPanel) -> None:
            self.sync = panel
            self._show_status()

        if self.ready:
            self.call(lambda s: s.sync_panel(), done, lambda exc: log.warning("status: %s", exc))

    def _show_status(self) -> None:
        self.status_bar.show(self.reader_states, self.sync, datetime.now(UTC))
        technician = self._screens.get("technician")
        if technician is not None:
            self._show_technician_status(technician)

    def _show_technician_status(self, screen: TechnicianScreen) -> None:
        if self.sync is not None:
            from terminal.ui.statusbar import sync_line

            line, _ = sync_line(self.lang, self.sync, datetime.now(UTC))
            screen.show_sync(self.sync, line)
        screen.show_readers(self.reader_states)

    def reader_state_map(self) -> dict[str, tuple[str, str]]:
        return dict(self.reader_states)

    # -- readers -------------------------------------------------------------

    def _start_readers(self) -> None:
        def sink(event: ReaderEvent) -> None:  # on a reader thread
            if isinstance(event, CardRead) and not self.test_read_pending:
                # straight to the worker (it debounces): one frame sooner than via the UI thread
                self.call(lambda s: s.card_read(event), self._render_read)
                return
            Clock.schedule_once(lambda _dt: self.on_reader_event(event), 0)

        for path in self.options.readers:
            try:
                reader = open_reader(path)
                reader.start(sink)
            except ClubError as exc:
                self.reader_states[path] = ("error", str(exc))
                continue
            self.readers.append(reader)
            if isinstance(reader, SimReader):
                self.sim = reader
        self._show_status()

    def on_reader_event(self, event: ReaderEvent) -> None:
        """A reader's event, on the UI thread."""
        if isinstance(event, ReaderStatus):
            self.reader_states[event.source] = (str(event.state), event.detail)
            self._show_status()
            return
        if self.test_read_pending:
            self.test_read_pending = False
            self.call(lambda s: s.card_test_read(event), self._test_done)
            return
        self.call(lambda s: s.card_read(event), self._render_read)

    def _render_read(self, view: BasketView | None) -> None:
        if view is not None:  # None: the worker dropped a repeat read
            self.render_basket(view)

    def _test_done(self, result: TestRead | None) -> None:
        if result is None:  # a repeat of the card just read: still waiting for a test card
            self.test_read_pending = True
            return
        self.technician_screen.show_test(result)

    def open_demo_cards(self) -> None:
        demo_cards_dialog(self.cards, self.present)

    def present(self, card: demo_cards.DemoCard) -> None:
        """Present a demo card to the simulated reader."""
        if self.sim is not None:
            self.sim.present(card.as_read(self.sim.path))

    def on_stop(self) -> None:
        for reader in self.readers:
            reader.stop(timeout=2.0)
        self.worker.stop()


def _post(callback: Callable[[], None]) -> None:
    Clock.schedule_once(lambda _dt: callback(), 0)

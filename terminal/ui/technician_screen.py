# mypy: disallow-subclassing-any=False
"""The technician's screen: readers and a test read, sync, health checks, language, kiosk."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from terminal.ui.i18n import LANGUAGES
from terminal.ui.status import SyncPanel
from terminal.ui.views import HealthCheck, TestRead
from terminal.ui.widgets import COLORS, TOUCH, DirBox, SButton, SLabel, current_lang

__all__ = ["TechnicianActions", "TechnicianScreen"]


class TechnicianActions(Protocol):
    def start_test_read(self) -> None: ...
    def run_health(self) -> None: ...
    def set_language(self, code: str) -> None: ...
    def go_checkout(self) -> None: ...


def _line(text: str = "", **kwargs: Any) -> SLabel:
    kwargs.setdefault("size_hint_y", None)
    kwargs.setdefault("height", dp(28))
    return SLabel(text, **kwargs)


class TechnicianScreen(Screen):
    """Sections in one scrolling column."""

    def __init__(self, actions: TechnicianActions, kiosk: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(name="technician", **kwargs)
        lang = current_lang()
        outer = BoxLayout(orientation="vertical", padding=dp(6), spacing=dp(4))
        head = DirBox(size_hint_y=None, height=TOUCH, spacing=dp(6))
        head.add_widget(
            SLabel(lang.t("tech.title"), bold=True, font_size=sp(22), name="tech-title")
        )
        head.add_widget(
            SButton(
                lang.t("nav.back"),
                actions.go_checkout,
                size_hint_x=None,
                width=dp(180),
                name="tech-back",
            )
        )
        outer.add_widget(head)
        scroll = ScrollView(do_scroll_x=False)
        col = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(4))
        col.bind(minimum_height=col.setter("height"))
        scroll.add_widget(col)
        outer.add_widget(scroll)
        self.add_widget(outer)

        col.add_widget(self._heading(lang.t("tech.readers")))
        self.readers = BoxLayout(orientation="vertical", size_hint_y=None)
        self.readers.bind(minimum_height=self.readers.setter("height"))
        col.add_widget(self.readers)
        row = DirBox(size_hint_y=None, height=TOUCH, spacing=dp(6))
        row.add_widget(
            SButton(
                lang.t("tech.test_read"),
                actions.start_test_read,
                size_hint_x=None,
                width=dp(200),
                name="tech-test-read",
            )
        )
        self.test_result = SLabel("", name="tech-test-result")
        row.add_widget(self.test_result)
        col.add_widget(row)
        col.padding = (dp(8), 0)

        col.add_widget(self._heading(lang.t("tech.sync")))
        self.sync_lines = BoxLayout(orientation="vertical", size_hint_y=None)
        self.sync_lines.bind(minimum_height=self.sync_lines.setter("height"))
        col.add_widget(self.sync_lines)

        col.add_widget(self._heading(lang.t("tech.health")))
        health_row = DirBox(size_hint_y=None, height=TOUCH)
        health_row.add_widget(
            SButton(
                lang.t("tech.run_health"),
                actions.run_health,
                size_hint_x=None,
                width=dp(240),
                name="tech-health",
            )
        )
        health_row.add_widget(BoxLayout())
        col.add_widget(health_row)
        self.health_lines = BoxLayout(orientation="vertical", size_hint_y=None)
        self.health_lines.bind(minimum_height=self.health_lines.setter("height"))
        col.add_widget(self.health_lines)

        col.add_widget(self._heading(lang.t("tech.language")))
        langs = DirBox(size_hint_y=None, height=TOUCH, spacing=dp(6))
        for code, name in LANGUAGES.items():
            langs.add_widget(
                SButton(
                    name,
                    partial(actions.set_language, code),
                    role="primary" if code == lang.code else "button",
                    size_hint_x=None,
                    width=dp(160),
                    name=f"lang-{code}",
                )
            )
        langs.add_widget(BoxLayout())
        col.add_widget(langs)

        col.add_widget(self._heading(lang.t("tech.kiosk")))

        def yes_no(value: str) -> str:
            return str(lang.t("yes" if value == "yes" else "no"))

        for text in (
            lang.t("tech.fullscreen", value=yes_no(kiosk.get("fullscreen", "no"))),
            lang.t("tech.window", size=lang.digits(kiosk.get("window", ""))),
            lang.t("tech.readers_setting", value=kiosk.get("readers", "")),
            lang.t("tech.data_dir", value=kiosk.get("data_dir", "")),
        ):
            col.add_widget(_line(text))

    def _heading(self, text: str) -> SLabel:
        return _line(text, bold=True, font_size=sp(18), height=dp(38))

    def show_readers(self, states: Mapping[str, tuple[str, str]]) -> None:
        """``states``: reader path -> (state, detail)."""
        lang = current_lang()
        self.readers.clear_widgets()
        for path, (state, detail) in states.items():
            text = lang.t("status.reader", reader=path, state=lang.t(f"state.{state}"))
            ok = state == "ready"
            self.readers.add_widget(
                _line(f"{text}  {detail}".strip(), color=COLORS["text"] if ok else COLORS["danger"])
            )

    def show_test(self, result: TestRead | None) -> None:
        lang = current_lang()
        if result is None:
            self.test_result.logical = lang.t("tech.test_waiting")
            return
        outcome = (
            lang.t("tech.test_ok", member=lang.digits(result.member_no), strength=result.strength)
            if result.accepted
            else lang.reason(result.reason)[0]
        )
        self.test_result.logical = lang.t(
            "tech.test_result", source=result.source, kind=result.kind, result=outcome
        )
        self.test_result.color = COLORS["saving"] if result.accepted else COLORS["danger"]

    def show_sync(self, panel: SyncPanel, status_line: str) -> None:
        lang = current_lang()
        self.sync_lines.clear_widgets()
        self.sync_lines.add_widget(
            _line(lang.t("tech.terminal", terminal=panel.terminal_id, store=panel.store_id))
        )
        url = panel.server_url or lang.t("status.not_provisioned")
        self.sync_lines.add_widget(_line(lang.t("tech.server", url=url)))
        self.sync_lines.add_widget(_line(status_line, name="tech-sync-status"))

    def show_health(self, checks: list[HealthCheck]) -> None:
        lang = current_lang()
        self.health_lines.clear_widgets()
        for check in checks:
            verdict = lang.t("tech.ok" if check.ok else "tech.problem")
            self.health_lines.add_widget(
                _line(
                    f"{verdict} – {lang.t(check.key)} – {check.detail}",
                    color=COLORS["saving"] if check.ok else COLORS["danger"],
                    name=f"health-{check.key}",
                )
            )

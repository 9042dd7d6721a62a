# mypy: disallow-subclassing-any=False
"""The status bar: each reader's state, online or not, sales waiting, last sync."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kivy.metrics import dp, sp

from terminal.ui.i18n import Lang
from terminal.ui.status import SyncPanel
from terminal.ui.widgets import COLORS, Panel, SLabel, current_lang

__all__ = ["StatusBar", "readers_line", "sync_line"]


def readers_line(lang: Lang, states: Mapping[str, tuple[str, str]]) -> str:
    """ "sim: ready – pcsc: reconnecting"."""
    return " – ".join(
        lang.t("status.reader", reader=path, state=lang.t(f"state.{state}"))
        for path, (state, _) in states.items()
    )


def sync_line(lang: Lang, panel: SyncPanel | None, now: datetime) -> tuple[str, bool]:
    """The sync part of the status bar, and whether it is a warning."""
    if panel is None:
        return "", False
    status = panel.status
    pending = lang.t("status.pending", n=lang.num(status.pending))
    if not panel.provisioned:
        return f"{lang.t('status.not_provisioned')} – {lang.t('status.offline')} – {pending}", True
    # (a lane that is not provisioned has pushed nothing, so nothing was refused or held)
    last = status.last_success
    since = lang.ago((now - last).total_seconds() if last else None)
    last_sync = lang.t("status.last_sync", ago=since) if last else lang.t("status.never")
    if status.online is None:
        state, warn = lang.t("status.unknown"), False
    elif status.online:
        state, warn = lang.t("status.online"), False
    else:
        offline = status.offline_since
        state = (
            lang.t("status.offline_since", ago=lang.ago((now - offline).total_seconds(), span=True))
            if offline
            else lang.t("status.offline")
        )
        warn = True
    line = f"{state} – {pending} – {last_sync}"
    if status.refused:
        line, warn = f"{line} – {lang.t('status.refused', n=lang.num(status.refused))}", True
    if status.held:
        line, warn = f"{line} – {lang.t('status.held', n=lang.num(status.held))}", True
    return line, warn


class StatusBar(Panel):
    """One row at the bottom of every screen."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            size_hint_y=None, height=dp(30), padding=(dp(8), 0), spacing=dp(8), **kwargs
        )
        self.bg = list(COLORS["bar"])
        self.readers = SLabel("", font_size=sp(13), color=COLORS["on_dark"], name="status-readers")
        self.sync = SLabel(
            "", font_size=sp(13), color=COLORS["on_dark"], align="end", name="status-sync"
        )
        self.add_widget(self.readers)
        self.add_widget(self.sync)

    def show(
        self, states: Mapping[str, tuple[str, str]], panel: SyncPanel | None, now: datetime
    ) -> None:
        lang = current_lang()
        self.readers.logical = readers_line(lang, states)
        text, warn = sync_line(lang, panel, now)
        self.sync.logical = text
        self.sync.color = (1, 0.75, 0.4, 1) if warn else COLORS["on_dark"]

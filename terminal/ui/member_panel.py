# mypy: disallow-subclassing-any=False
"""The member panel: who the customer is, their tier, points, progress and offers."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp, sp
from kivy.uix.widget import Widget

from clubcore.identity import IdMethod
from clubcore.money import Currency
from terminal.ui.views import MemberView
from terminal.ui.widgets import COLORS, DirBox, Panel, SButton, SLabel, current_lang

__all__ = ["MemberPanel", "TierProgress"]


class TierProgress(Widget):
    """A horizontal bar filled to ``value`` (0..1), from the start side."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = 0.0
        self.rtl = current_lang().rtl
        with self.canvas:
            Color(*COLORS["light"])
            self._back = Rectangle()
            self._color = Color(*COLORS["primary"])
            self._fill = Rectangle()
        self.bind(pos=self._draw, size=self._draw)

    def set(self, value: float, color: tuple[float, float, float, float]) -> None:
        self.value = max(0.0, min(value, 1.0))
        self._color.rgba = color
        self._draw()

    def _draw(self, *_: Any) -> None:
        self._back.pos, self._back.size = self.pos, self.size
        width = self.width * self.value
        x = self.right - width if self.rtl else self.x
        self._fill.pos, self._fill.size = (x, self.y), (width, self.height)


class MemberPanel(Panel):
    """Shows the identified member, or how to identify one."""

    def __init__(self, currency: Currency, compact: bool, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("padding", dp(8))
        kwargs.setdefault("spacing", dp(2))
        super().__init__(name="member-panel", **kwargs)
        self.currency, self.compact = currency, compact
        self.lang = current_lang()
        self.bg = list(COLORS["light"])
        self.top_row = DirBox(size_hint_y=None, height=dp(34), spacing=dp(8))
        self.name_label = SLabel("", bold=True, font_size=sp(20), name="member-name")
        narrow = (dp(84), dp(110)) if compact else (dp(110), dp(150))
        self.badge = SButton("", role="basic", size_hint_x=None, width=narrow[0], name="tier-badge")
        # compact (800x480): the points go to the second line, the name keeps the room
        self.points = SLabel("", size_hint_x=None, width=dp(170), align="end", name="member-points")
        self.drop = SButton(
            self.lang.t("member.drop"),
            size_hint_x=None,
            width=narrow[1],
            role="light",
            color=COLORS["text"],
            name="member-drop",
        )
        for widget in (self.name_label, self.badge, self.points, self.drop):
            if widget is not self.points or not compact:
                self.top_row.add_widget(widget)
        self.add_widget(self.top_row)
        self.progress_text = SLabel(
            "",
            size_hint_y=None,
            height=dp(22),
            font_size=sp(14),
            color=COLORS["muted"],
            name="member-progress",
        )
        self.add_widget(self.progress_text)
        self.bar = TierProgress(size_hint_y=None, height=dp(8))
        self.add_widget(self.bar)
        self.offers = SLabel(
            "", wrap=not compact, font_size=sp(14), color=COLORS["accent"], name="member-offers"
        )
        if compact:
            self.offers.size_hint_y, self.offers.height = None, dp(20)
        self.add_widget(self.offers)
        self.show(None)

    def show(self, member: MemberView | None) -> None:
        """Render ``member`` (None: no member identified)."""
        lang = self.lang
        self.height = dp(108) if self.compact else dp(150)
        if member is None:
            self.name_label.logical = lang.t("member.none")
            self.name_label.bold = False
            self.name_label.font_size = sp(15)
            for widget in (self.badge, self.points, self.drop):
                widget.opacity, widget.disabled = 0, True
            self.progress_text.logical = ""
            self.bar.opacity = 0
            self.offers.logical = ""
            return
        self.name_label.bold, self.name_label.font_size = True, sp(20)
        self.name_label.logical = member.name
        for widget in (self.badge, self.points, self.drop):
            widget.opacity, widget.disabled = 1, False
        self.badge.logical = lang.t_or(f"tier.{member.tier}", member.tier_name)
        self.badge.background_color = COLORS.get(member.tier, COLORS["button"])
        self.points.logical = lang.t("member.points", points=lang.num(member.points_balance))
        self.bar.opacity = 1
        color = COLORS.get(member.next_tier or member.tier, COLORS["primary"])
        self.bar.set(member.progress, color)
        if member.next_tier:
            tier = lang.t_or(f"tier.{member.next_tier}", member.next_tier_name)
            # whole display units, rounded up: "11,960,310 toman more", not "...309.4"
            unit = self.currency.whole_unit
            to_next = -(-member.to_next // unit) * unit
            progress = lang.t(
                "member.progress", amount=lang.money(to_next, self.currency), tier=tier
            )
        else:
            progress = lang.t("member.top")
        notes = []
        if member.unsynced:
            notes.append(lang.t("member.unsynced"))
        if member.id_method == IdMethod.CARD_UID:
            notes.append(lang.t("member.weak"))
        parts = [lang.digits(member.member_no), progress, *notes]
        if self.compact:
            parts.insert(1, self.points.logical)
        self.progress_text.logical = " – ".join(parts)
        offers = [
            f"★ {title}: {message}" if message else f"★ {title}"
            for title, message in (offer.text_in(lang.code) for offer in member.offers)
        ]
        self.offers.logical = (" ".join(offers) if self.compact else "\n".join(offers[:3])) or (
            lang.t("member.no_offers")
        )

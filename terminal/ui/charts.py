# mypy: disallow-subclassing-any=False
"""Charts drawn with Kivy graphics: vertical bars (by hour, by tier) and a pie."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.metrics import dp, sp
from kivy.uix.widget import Widget

from terminal.ui.i18n import SEP
from terminal.ui.widgets import COLORS, SLabel, current_lang

__all__ = ["Bar", "BarChart", "PieChart"]

Bar = tuple[str, int, tuple[float, float, float, float]]  # label, value, colour


class BarChart(Widget):
    """Vertical bars with a label under each and the value above; mirrored in Persian."""

    def __init__(self, bars: Sequence[Bar], value_text: Any = str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bars = list(bars)
        self.rtl = current_lang().rtl
        self.labels = [SLabel(label, font_size=sp(12), align="center") for label, _, _ in bars]
        self.values = [
            SLabel(
                value_text(value) if value else "",
                font_size=sp(11),
                align="center",
                color=COLORS["muted"],
            )
            for _, value, _ in bars
        ]
        for label in self.labels + self.values:
            self.add_widget(label)
        self.bind(pos=self._draw, size=self._draw)

    def _draw(self, *_: Any) -> None:
        self.canvas.before.clear()
        count = max(len(self.bars), 1)
        slot = self.width / count
        top = max((bar[1] for bar in self.bars), default=0) or 1
        base, head = dp(22), dp(18)
        usable = max(self.height - base - head, dp(10))
        with self.canvas.before:
            Color(*COLORS["light"])
            Line(points=[self.x, self.y + base, self.right, self.y + base], width=1)
            for index, (_label, value, rgba) in enumerate(self.bars):
                slot_x = self.right - slot * (index + 1) if self.rtl else self.x + slot * index
                height = usable * max(value, 0) / top
                Color(*rgba)
                Rectangle(pos=(slot_x + slot * 0.15, self.y + base), size=(slot * 0.7, height))
                self.labels[index].pos = (slot_x, self.y)
                self.labels[index].size = (slot, base)
                self.values[index].pos = (slot_x, self.y + base + height)
                self.values[index].size = (slot, head)


class PieChart(Widget):
    """A pie of parts with a legend beside it (start side)."""

    def __init__(self, parts: Sequence[Bar], value_text: Any = str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parts = list(parts)
        self.rtl = current_lang().rtl
        total = sum(max(v, 0) for _, v, _ in parts) or 1
        self.legend = [
            SLabel(
                # no parentheses: beside a Latin "M" they come out mirrored in Persian
                f"■ {label}: {current_lang().percent(value / total)}{SEP}{value_text(value)}",
                font_size=sp(13),
                color=color,
            )
            for label, value, color in parts
        ]
        for label in self.legend:
            self.add_widget(label)
        self.total = total
        self.bind(pos=self._draw, size=self._draw)

    def _draw(self, *_: Any) -> None:
        self.canvas.before.clear()
        diameter = min(self.height, self.width * 0.45)
        pie_x = self.x if self.rtl is False else self.right - diameter
        start = 0.0
        with self.canvas.before:
            for _label, value, rgba in self.parts:
                sweep = 360.0 * max(value, 0) / self.total
                Color(*rgba)
                Ellipse(
                    pos=(pie_x, self.y + (self.height - diameter) / 2),
                    size=(diameter, diameter),
                    angle_start=start,
                    angle_end=start + sweep,
                )
                start += sweep
            if not any(value for _, value, _ in self.parts):
                Color(*COLORS["light"])
                Ellipse(pos=(pie_x, self.y + (self.height - diameter) / 2), size=(diameter,) * 2)
        legend_w = self.width - diameter - dp(8)
        legend_x = self.x + diameter + dp(8) if not self.rtl else self.x
        rows = max(len(self.legend), 1)
        row_h = min(dp(26), self.height / rows)
        top = self.y + (self.height + row_h * rows) / 2
        for index, label in enumerate(self.legend):
            label.size = (legend_w, row_h)
            label.pos = (legend_x, top - row_h * (index + 1))

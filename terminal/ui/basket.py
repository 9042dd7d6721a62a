# mypy: disallow-subclassing-any=False
"""The basket: a recycled list of lines (list price, member price, savings) and totals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.recycleboxlayout import RecycleBoxLayout
from kivy.uix.recycleview import RecycleView
from kivy.uix.recycleview.views import RecycleDataViewBehavior

from clubcore.money import Currency
from terminal.ui.views import BasketView, LineView
from terminal.ui.widgets import COLORS, DirBox, Panel, SLabel, current_lang, measure

__all__ = ["BasketList", "TotalsPanel", "column_widths"]

ROW = dp(46)


def column_widths(compact: bool) -> tuple[float, float, float]:
    """Widths of the list, member price and savings columns."""
    return (dp(96), dp(96), dp(84)) if compact else (dp(130), dp(130), dp(110))


class BasketRow(RecycleDataViewBehavior, ButtonBehavior, DirBox):
    """One line; tapping it opens the line dialog (``tap`` comes with the data)."""

    compact = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(spacing=dp(6), padding=(dp(6), 0), **kwargs)
        widths = column_widths(self.compact)
        size = sp(14) if self.compact else sp(16)
        self.c_name = SLabel("", font_size=size)
        self.c_list = SLabel(
            "",
            font_size=size,
            size_hint_x=None,
            width=widths[0],
            align="end",
            color=COLORS["muted"],
        )
        self.c_member = SLabel(
            "", font_size=size, size_hint_x=None, width=widths[1], align="end", bold=True
        )
        self.c_save = SLabel(
            "",
            font_size=size,
            size_hint_x=None,
            width=widths[2],
            align="end",
            color=COLORS["saving"],
        )
        for label in (self.c_name, self.c_list, self.c_member, self.c_save):
            self.add_widget(label)
        self.tap: Callable[[], None] | None = None

    def refresh_view_attrs(self, rv: Any, index: int, data: dict[str, Any]) -> None:
        self.c_name.logical = data["name"]
        self.c_list.logical = data["list"]
        self.c_member.logical = data["member"]
        self.c_save.logical = data["save"]
        self.tap = data["tap"]
        self.name = f"basket-line-{index}"
        super().refresh_view_attrs(rv, index, {})

    def on_release(self) -> None:
        if self.tap is not None:
            self.tap()


class BasketList(RecycleView):
    """The basket's lines; only the visible rows exist as widgets."""

    def __init__(
        self, currency: Currency, compact: bool, on_line: Callable[[LineView], None], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.currency, self.on_line = currency, on_line
        row_class = type(
            "BasketRowC" if compact else "BasketRowW", (BasketRow,), {"compact": compact}
        )
        layout = RecycleBoxLayout(
            orientation="vertical",
            default_size=(None, ROW),
            default_size_hint=(1, None),
            size_hint_y=None,
            spacing=dp(2),
        )
        layout.bind(minimum_height=layout.setter("height"))
        self.add_widget(layout)
        self.viewclass = row_class  # after the layout manager exists, or it is lost
        self.name = "basket-list"

    def show(self, view: BasketView) -> None:
        lang = current_lang()

        def money(amount: int) -> str:
            return str(lang.amount(amount, self.currency))

        self.data = [
            {
                "name": f"{lang.num(line.quantity)} × {line.name}",
                "list": money(line.list_total),
                "member": money(line.line_total),
                "save": money(line.savings) if line.savings else "",
                "tap": (lambda line=line: self.on_line(line)),
            }
            for line in view.lines
        ]
        self.scroll_y = 0 if len(view.lines) * (ROW + dp(2)) > self.height else 1


class TotalsPanel(Panel):
    """Totals: at list prices, member savings, points, what to pay, points earned."""

    def __init__(self, currency: Currency, compact: bool, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("padding", (dp(8), dp(2)))
        super().__init__(**kwargs)
        self.currency, self.compact = currency, compact
        self.bg = list(COLORS["light"])
        self.height = dp(64) if compact else dp(96)
        small = sp(13) if compact else sp(14)
        first = DirBox()
        self.list_total = SLabel("", font_size=small, name="total-list")
        self.savings = SLabel("", font_size=small, color=COLORS["saving"], name="total-savings")
        self.points = SLabel("", font_size=small, color=COLORS["accent"], name="total-points")
        for label in (self.list_total, self.savings, self.points):
            first.add_widget(label)
        self.add_widget(first)
        second = DirBox()
        self.total = SLabel(
            "",
            font_size=sp(19) if compact else sp(28),
            bold=True,
            name="total-pay",
            size_hint_x=None,
        )
        self.earned = SLabel(
            "",
            font_size=small,
            align="end",
            color=COLORS["muted"],
            name="total-earned",
        )
        second.add_widget(self.total)
        second.add_widget(self.earned)
        self.add_widget(second)

    def show(self, view: BasketView) -> None:
        lang = current_lang()

        def money(amount: int) -> str:
            return str(lang.amount(amount, self.currency))

        # compact (800x480): the short column names, so the amounts fit
        listed, saved = (
            ("basket.list", "basket.savings")
            if self.compact
            else (
                "basket.subtotal_list",
                "basket.member_discount",
            )
        )
        self.list_total.logical = f"{lang.t(listed)}: {money(view.subtotal_list)}"
        self.savings.logical = (
            f"{lang.t(saved)}: {money(view.member_discount)}" if view.member_discount else ""
        )
        self.points.logical = (
            f"{lang.t('basket.points_discount', points=lang.num(view.points_redeemed))}: "
            f"−{money(view.points_discount)}"
            if view.points_redeemed
            else ""
        )
        self.total.logical = f"{lang.t('basket.total')}: {lang.money(view.total, self.currency)}"
        # what to pay is never cut: it takes the room it needs, points earned the rest
        self.total.width = measure(lang.shape(self.total.logical), self.total.font_size, True) + dp(
            12
        )
        self.earned.logical = (
            lang.t("basket.points_earned", points=lang.num(view.points_earned))
            if view.member
            else ""
        )

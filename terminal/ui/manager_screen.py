# mypy: disallow-subclassing-any=False
"""The manager's screen: today's member sales (this lane), charts, voids and refunds."""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from clubcore.money import Currency
from terminal.ui.charts import BarChart, PieChart
from terminal.ui.views import ManagerView, SaleRow
from terminal.ui.widgets import COLORS, TOUCH, DirBox, Panel, SButton, SLabel, current_lang, grid

__all__ = ["ManagerActions", "ManagerScreen"]


class ManagerActions(Protocol):
    def refresh_manager(self) -> None: ...
    def end_of_day(self) -> None: ...
    def return_sale(self, sale_id: str, kind: str) -> None: ...
    def go_checkout(self) -> None: ...


def _compact(lang: Any, amount: int) -> str:
    """A short amount for a chart: 1.2M, 850k."""
    if abs(amount) >= 1_000_000:
        return str(lang.digits(f"{amount / 1_000_000:.1f}M"))
    return str(lang.digits(f"{amount / 1000:.0f}k"))


def _section(title: str) -> SLabel:
    return SLabel(title, bold=True, font_size=sp(18), size_hint_y=None, height=dp(36))


class ManagerScreen(Screen):
    """Rebuilt from a :class:`ManagerView` each time it is shown."""

    def __init__(
        self, actions: ManagerActions, currency: Currency, compact: bool, **kwargs: Any
    ) -> None:
        super().__init__(name="manager", **kwargs)
        self.actions, self.currency, self.compact = actions, currency, compact
        lang = current_lang()
        outer = BoxLayout(orientation="vertical", padding=dp(6), spacing=dp(4))
        head = DirBox(size_hint_y=None, height=TOUCH, spacing=dp(6))
        head.add_widget(
            SLabel(lang.t("manager.title"), bold=True, font_size=sp(22), name="manager-title")
        )
        for key, action, name in (
            ("manager.refresh", actions.refresh_manager, "manager-refresh"),
            ("manager.end_of_day", actions.end_of_day, "manager-eod"),
            ("nav.back", actions.go_checkout, "manager-back"),
        ):
            head.add_widget(
                SButton(
                    lang.t(key),
                    action,
                    size_hint_x=None,
                    width=dp(120) if compact else dp(180),
                    name=name,
                )
            )
        outer.add_widget(head)
        self.scope = SLabel(
            lang.t("manager.scope_lane"),
            size_hint_y=None,
            height=dp(26),
            color=COLORS["accent"],
            font_size=sp(14),
            name="manager-scope",
        )
        outer.add_widget(self.scope)
        scroll = ScrollView(do_scroll_x=False)
        self.content = BoxLayout(
            orientation="vertical", size_hint_y=None, spacing=dp(8), padding=(dp(8), 0)
        )
        self.content.bind(minimum_height=self.content.setter("height"))
        scroll.add_widget(self.content)
        outer.add_widget(scroll)
        self.add_widget(outer)

    def render(self, view: ManagerView) -> None:
        """Show the day's figures, charts and records."""
        lang = current_lang()
        report = view.report

        def money(amount: int) -> str:
            return str(lang.money(amount, self.currency))

        self.scope.logical = lang.t(
            "manager.scope_store" if view.store_wide else "manager.scope_lane"
        )
        from datetime import date

        day = lang.date(date.fromisoformat(report.business_date))
        self.content.clear_widgets()
        self.content.add_widget(
            SLabel(
                lang.t("manager.date", date=day),
                size_hint_y=None,
                height=dp(26),
                color=COLORS["muted"],
            )
        )
        figures = grid(2 if self.compact else 4, size_hint_y=None)
        figures.bind(minimum_height=figures.setter("height"))
        for key, value in (
            ("manager.sales", lang.num(report.sales_count)),
            ("manager.total", money(report.total)),
            ("manager.member_share", lang.percent(report.member_share)),
            ("manager.discount", money(report.discount_given)),
            ("manager.points_earned", lang.num(report.points_earned)),
            ("manager.points_redeemed", lang.num(report.points_redeemed)),
            ("manager.members_served", lang.num(report.members_served)),
            ("manager.returns", lang.num(report.returns_count)),
        ):
            figures.add_widget(self._figure(lang.t(key), value, key))
        self.content.add_widget(figures)
        self.content.add_widget(
            SLabel(
                lang.t("manager.top20", share=lang.percent(report.top20_share)),
                size_hint_y=None,
                height=dp(30),
                bold=True,
                name="manager-top20",
            )
        )
        self.content.add_widget(self._charts(view))
        self.content.add_widget(_section(lang.t("manager.top_members")))
        for member in report.top_members:
            tier = lang.t_or(f"tier.{member['tier']}", str(member["tier"]))
            self.content.add_widget(
                SLabel(
                    f"{member['display_name']} – {lang.digits(str(member['member_no']))} – "
                    f"{tier} – {money(member['total'])}",
                    size_hint_y=None,
                    height=dp(28),
                )
            )
        self.content.add_widget(_section(lang.t("manager.today_sales")))
        if not view.sales:
            self.content.add_widget(
                SLabel(
                    lang.t("manager.no_sales"),
                    size_hint_y=None,
                    height=dp(30),
                    color=COLORS["muted"],
                )
            )
        for row in view.sales:
            self.content.add_widget(self._sale_row(row))

    def _figure(self, label: str, value: str, key: str) -> Any:
        box = Panel(orientation="vertical", size_hint_y=None, height=dp(70), padding=dp(4))
        box.add_widget(
            SLabel(value, bold=True, font_size=sp(20), align="center", name=f"figure-{key}")
        )
        box.add_widget(SLabel(label, font_size=sp(13), color=COLORS["muted"], align="center"))
        return box

    def _charts(self, view: ManagerView) -> Any:
        lang = current_lang()
        report = view.report

        def money(amount: int) -> str:
            return str(lang.money(amount, self.currency))

        def short(amount: int) -> str:
            return _compact(lang, amount // self.currency.whole_unit)

        hours = {int(h["hour"]): int(h["total"]) for h in report.by_hour}
        span = range(min(hours, default=8), max(hours, default=20) + 1)
        by_hour = [(lang.digits(str(h)), hours.get(h, 0), COLORS["button"]) for h in span]
        by_tier = [
            (
                lang.t_or(f"tier.{t['tier']}", str(t["tier"])),
                int(t["total"]),
                COLORS.get(str(t["tier"]), COLORS["basic"]),
            )
            for t in report.by_tier
        ]
        pie = [
            (lang.t("manager.members"), report.member_total, COLORS["primary"]),
            (lang.t("manager.non_members"), report.non_member_total, COLORS["basic"]),
        ]
        height = dp(200)
        charts = DirBox(
            orientation="vertical" if self.compact else "horizontal",
            size_hint_y=None,
            height=height * (3 if self.compact else 1) + dp(36) * 3,
            spacing=dp(8),
        )
        for title, chart in (
            (lang.t("manager.by_hour"), BarChart(by_hour, short)),
            (lang.t("manager.by_tier"), BarChart(by_tier, short)),
            (lang.t("manager.member_vs"), PieChart(pie, short)),
        ):
            box = Panel(orientation="vertical", padding=dp(4))
            box.add_widget(_section(title))
            box.add_widget(chart)
            charts.add_widget(box)
        return charts

    def _sale_row(self, row: SaleRow) -> Any:
        lang = current_lang()
        line = DirBox(size_hint_y=None, height=TOUCH, spacing=dp(6))
        kind = lang.t(f"kind.{row.kind}")
        member = lang.digits(row.member_no) if row.member_no else lang.t("tier.non-member")
        line.add_widget(
            SLabel(
                f"{lang.digits(row.time)} – {kind} – "
                f"{lang.money(row.total, self.currency)} – {member}"
            )
        )
        allowed = {"void": row.kind == "sale" and not row.returned, "refund": row.kind == "sale"}
        for key, kind_name in (("manager.void", "void"), ("manager.refund", "refund")):
            button = SButton(
                lang.t(key),
                partial(self.actions.return_sale, row.sale_id, kind_name),
                role="danger",
                size_hint_x=None,
                width=dp(110),
                name=f"{kind_name}-{row.sale_id}",
            )
            button.disabled = not allowed[kind_name]
            line.add_widget(button)
        return line

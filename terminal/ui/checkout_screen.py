# mypy: disallow-subclassing-any=False
"""The cashier's screen: products by touch, the basket, the member panel, tender."""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from clubcore.money import Currency
from terminal.ui.basket import BasketList, TotalsPanel, column_widths
from terminal.ui.member_panel import MemberPanel
from terminal.ui.views import BasketView, LineView, ProductView
from terminal.ui.widgets import COLORS, TOUCH, DirBox, Panel, SButton, SLabel, current_lang, grid

__all__ = ["CheckoutActions", "CheckoutScreen"]


class CheckoutActions(Protocol):
    """What the checkout screen asks the app to do (all return at once)."""

    def show_category(self, code: str) -> None: ...
    def more_products(self) -> None: ...
    def open_search(self) -> None: ...
    def add_product(self, sku: str) -> None: ...
    def open_line(self, line: LineView) -> None: ...
    def open_member_entry(self) -> None: ...
    def drop_member(self) -> None: ...
    def open_redeem(self) -> None: ...
    def tender(self, kind: str) -> None: ...
    def clear_basket(self) -> None: ...


class ProductsPanel(Panel):
    """Category strip, search, and a page of product buttons."""

    def __init__(
        self, actions: CheckoutActions, currency: Currency, compact: bool, **kwargs: Any
    ) -> None:
        super().__init__(orientation="vertical", spacing=dp(4), padding=dp(4), **kwargs)
        self.actions, self.currency, self.compact = actions, currency, compact
        lang = current_lang()
        self.bg = list(COLORS["bg"])
        strip_scroll = ScrollView(
            do_scroll_y=False, size_hint_y=None, height=TOUCH, bar_width=dp(3)
        )
        self.strip = DirBox(size_hint_x=None, spacing=dp(4))
        self.strip.bind(minimum_width=self.strip.setter("width"))
        strip_scroll.add_widget(self.strip)
        self.strip_scroll = strip_scroll
        self.add_widget(strip_scroll)
        head = DirBox(size_hint_y=None, height=TOUCH, spacing=dp(4))
        self.heading = SLabel("", bold=True, name="products-heading")
        head.add_widget(self.heading)
        head.add_widget(
            SButton(
                lang.t("products.search"),
                actions.open_search,
                size_hint_x=None,
                width=dp(130),
                name="search",
            )
        )
        self.add_widget(head)
        scroll = ScrollView(do_scroll_x=False)
        self.grid = grid(3 if compact else 4, size_hint_y=None, padding=dp(2))
        self.grid.bind(minimum_height=self.grid.setter("height"))
        scroll.add_widget(self.grid)
        self.add_widget(scroll)

    def show_categories(self, categories: list[tuple[str, str]]) -> None:
        lang = current_lang()
        self.strip.clear_widgets()
        for code, name in categories:
            text = lang.t_or(f"cat.{code}", name)
            width = max(dp(96), dp(24) + len(text) * sp(9))
            self.strip.add_widget(
                SButton(
                    text,
                    partial(self.actions.show_category, code),
                    size_hint_x=None,
                    width=width,
                    name=f"cat-{code}",
                )
            )
        if lang.rtl:
            self.strip_scroll.scroll_x = 1

    def show_products(self, heading: str, products: list[ProductView], more: bool) -> None:
        lang = current_lang()
        self.heading.logical = heading
        self.grid.clear_widgets()
        height = dp(64) if self.compact else dp(76)
        for product in products:
            text = f"{product.name}\n{lang.money(product.list_price, self.currency)}"
            self.grid.add_widget(
                SButton(
                    text,
                    partial(self.actions.add_product, product.sku),
                    role="accent" if product.member_only else "button",
                    size_hint_y=None,
                    height=height,
                    font_size=sp(12) if self.compact else sp(14),  # up to 4 lines at 800x480
                    name=f"product-{product.sku}",
                )
            )
        if not products:
            self.grid.add_widget(SLabel(lang.t("products.none"), size_hint_y=None, height=height))
        if more:
            self.grid.add_widget(
                SButton(
                    lang.t("products.more"),
                    self.actions.more_products,
                    role="light",
                    color=COLORS["text"],
                    size_hint_y=None,
                    height=height,
                    name="products-more",
                )
            )


class CheckoutScreen(Screen):
    """Products on the start side, the customer and basket on the other."""

    def __init__(
        self, actions: CheckoutActions, currency: Currency, compact: bool, **kwargs: Any
    ) -> None:
        super().__init__(name="checkout", **kwargs)
        self.actions, self.currency = actions, currency
        lang = current_lang()
        body = DirBox(spacing=dp(6), padding=dp(4))
        self.products = ProductsPanel(actions, currency, compact, size_hint_x=0.42)
        body.add_widget(self.products)
        right = BoxLayout(orientation="vertical", spacing=dp(4), size_hint_x=0.58)
        self.member = MemberPanel(currency, compact, size_hint_y=None)
        right.add_widget(self.member)
        right.add_widget(self._header(compact))
        self.basket = BasketList(currency, compact, actions.open_line)
        self.empty = SLabel(
            lang.t("basket.empty"),
            wrap=True,
            color=COLORS["muted"],
            align="center",
            name="basket-empty",
        )
        self.list_holder = BoxLayout()
        self.list_holder.add_widget(self.empty)
        right.add_widget(self.list_holder)
        self.totals = TotalsPanel(currency, compact, size_hint_y=None)
        right.add_widget(self.totals)
        right.add_widget(self._tenders(compact))
        body.add_widget(right)
        self.add_widget(body)
        self.view: BasketView | None = None

    def _header(self, compact: bool) -> Any:
        lang = current_lang()
        header = Panel(size_hint_y=None, height=dp(28), spacing=dp(6), padding=(dp(6), 0))
        header.bg = list(COLORS["bg"])
        widths = column_widths(compact)
        self.summary = SLabel(
            lang.t("basket.title"), bold=True, font_size=sp(14), name="basket-summary"
        )
        header.add_widget(self.summary)
        for key, width in zip(
            ("basket.list", "basket.member", "basket.savings"), widths, strict=True
        ):
            header.add_widget(
                SLabel(
                    lang.t(key),
                    font_size=sp(13),
                    color=COLORS["muted"],
                    size_hint_x=None,
                    width=width,
                    align="end",
                )
            )
        return header

    def _tenders(self, compact: bool) -> Any:
        lang = current_lang()
        row = DirBox(size_hint_y=None, height=dp(56) if not compact else TOUCH, spacing=dp(6))
        self.redeem_button = SButton(
            lang.t("tender.redeem"), self.actions.open_redeem, role="accent", name="redeem"
        )
        row.add_widget(self.redeem_button)
        row.add_widget(
            SButton(
                lang.t("tender.cash"),
                lambda: self.actions.tender("cash"),
                role="primary",
                name="tender-cash",
            )
        )
        row.add_widget(
            SButton(
                lang.t("tender.card"),
                lambda: self.actions.tender("card"),
                role="primary",
                name="tender-card",
            )
        )
        row.add_widget(
            SButton(
                lang.t("basket.clear"),
                self.actions.clear_basket,
                role="light",
                color=COLORS["text"],
                name="basket-clear",
            )
        )
        return row

    def render(self, view: BasketView) -> None:
        """Show a priced basket and its customer."""
        lang = current_lang()
        self.view = view
        self.member.show(view.member)
        self.member.drop.unbind(on_release=self._drop)
        self.member.drop.bind(on_release=self._drop)
        self.basket.show(view)
        self.totals.show(view)
        lines = lang.t("basket.lines", n=lang.num(len(view.lines)), q=lang.num(view.items))
        self.summary.logical = f"{lines} ({lang.unit(self.currency)})"
        showing = self.list_holder.children[0] if self.list_holder.children else None
        wanted = self.basket if view.lines else self.empty
        if showing is not wanted:
            self.list_holder.clear_widgets()
            self.list_holder.add_widget(wanted)
        self.redeem_button.disabled = view.member is None or not view.lines

    def _drop(self, *_: Any) -> None:
        self.actions.drop_member()

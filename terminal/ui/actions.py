"""What the buttons do: each action queues work on the worker and renders the answer.

:class:`AppActions` is mixed into the app. It implements the screens'
``*Actions`` protocols; every database touch goes through :meth:`call`, which
runs on the worker thread and calls back on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from clubcore.errors import AuthorizationError, CardRejectedError
from clubcore.money import Currency
from terminal.ui import dialogs
from terminal.ui.i18n import Lang
from terminal.ui.session import PAGE, UISession, refund_line, sale_lines
from terminal.ui.views import (
    BasketView,
    LineView,
    ManagerView,
    ProductView,
    RedeemInfo,
    SaleDone,
)

if TYPE_CHECKING:
    from terminal.ui.checkout_screen import CheckoutScreen
    from terminal.ui.manager_screen import ManagerScreen
    from terminal.ui.technician_screen import TechnicianScreen
    from terminal.ui.worker import Worker

__all__ = ["AppActions"]

T = TypeVar("T")


class AppActions:
    """The screens' actions; see the module docstring."""

    worker: Worker[UISession]
    lang: Lang
    currency: Currency
    checkout_screen: CheckoutScreen
    basket_view: BasketView | None
    manager_view: ManagerView | None
    products_state: tuple[str, list[ProductView], bool]
    category: str
    offset: int
    test_read_pending: bool

    def call(
        self,
        op: Callable[[UISession], T],
        done: Callable[[T], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``op(session)`` on the worker; ``done`` or ``failed`` back on the UI thread."""
        self.worker.submit(op, done, failed or self.show_error)

    def show_error(self, exc: BaseException) -> None:
        message, hint = self.lang.error(exc)
        if isinstance(exc, CardRejectedError):
            dialogs.message_dialog(
                self.lang.t("refused.title"), message, hint, role="danger", name="refused"
            )
        else:
            dialogs.message_dialog(
                self.lang.t("error.title"), message, hint, role="danger", name="error"
            )

    def render_basket(self, view: BasketView) -> None:
        """Overridden by the app (it also probes latency)."""
        raise NotImplementedError

    def switch(self, screen: str) -> None:
        raise NotImplementedError

    @property
    def manager_screen(self) -> ManagerScreen:
        raise NotImplementedError

    @property
    def technician_screen(self) -> TechnicianScreen:
        raise NotImplementedError

    def refresh_status(self, *_: Any) -> None:
        raise NotImplementedError

    # -- products ------------------------------------------------------------

    def show_category(self, code: str) -> None:
        self.category, self.offset = code, 0
        self._load_products()

    def more_products(self) -> None:
        self.offset += PAGE
        self._load_products()

    def _load_products(self) -> None:
        code, offset = self.category, self.offset
        heading = self.lang.t_or(f"cat.{code}", code)

        def done(products: list[ProductView]) -> None:
            self.products_state = (heading, products[:PAGE], len(products) > PAGE)
            self.checkout_screen.products.show_products(*self.products_state)

        self.call(lambda s: s.products(code, offset, PAGE + 1), done)

    def open_search(self) -> None:
        def search(digits: str) -> None:
            heading = self.lang.t("products.results", query=self.lang.digits(digits))

            def done(products: list[ProductView]) -> None:
                self.products_state = (heading, products, False)
                self.checkout_screen.products.show_products(*self.products_state)

            self.call(lambda s: s.search(digits), done)

        dialogs.keypad_dialog(self.lang.t("products.search_title"), search, name="search-keypad")

    # -- basket --------------------------------------------------------------

    def add_product(self, sku: str) -> None:
        self.call(lambda s: s.add(sku), self.render_basket)

    def open_line(self, line: LineView) -> None:
        def quantity(q: int) -> None:
            self.call(lambda s: s.set_quantity(line.sku, q), self.render_basket)

        dialogs.line_dialog(line, self.currency, quantity)

    def clear_basket(self) -> None:
        self.call(lambda s: s.clear(), self.render_basket)

    def open_member_entry(self) -> None:
        def entered(text: str) -> None:
            if text:
                self.call(lambda s: s.identify_entry(text), self.render_basket)

        dialogs.keypad_dialog(self.lang.t("member.enter_title"), entered, name="member-keypad")

    def drop_member(self) -> None:
        self.call(lambda s: s.drop_member(), self.render_basket)

    def open_redeem(self) -> None:
        def redeem(points: int) -> None:
            self.call(lambda s: s.redeem(points), self.render_basket)

        def show(info: RedeemInfo) -> None:
            dialogs.redeem_dialog(info, self.currency, redeem)

        self.call(lambda s: s.redeem_info(), show)

    def tender(self, kind: str) -> None:
        if self.basket_view is None or not self.basket_view.lines:
            return

        def done(sale: SaleDone) -> None:
            self.render_basket(sale.basket)
            lang = self.lang
            dialogs.message_dialog(
                lang.t("sale.done"),
                lang.t(
                    "sale.done_text",
                    total=lang.money(sale.total, self.currency),
                    tender=lang.t(f"tender.{sale.tender}"),
                    points=lang.num(sale.points_earned),
                ),
                name="sale-done",
            )
            self.refresh_status()

        self.call(lambda s: s.complete(kind), done)

    # -- PINs ----------------------------------------------------------------

    def ask_pin(self, role: str, then: Callable[[str], None], note: str = "") -> None:
        """Ask for a ``role`` PIN until it is right (or cancelled); then ``then(pin)``."""

        def entered(pin: str) -> None:
            def failed(exc: BaseException) -> None:
                if isinstance(exc, AuthorizationError):
                    locked = "locked" in exc.message
                    self.ask_pin(role, then, self.lang.t("pin.locked" if locked else "pin.wrong"))
                else:
                    self.show_error(exc)

            self.call(lambda s: s.authorize(pin, role), lambda _: then(pin), failed)

        dialogs.keypad_dialog(
            self.lang.t(f"pin.{role}"), entered, secret=True, note=note, name="pin-keypad"
        )

    # -- manager -------------------------------------------------------------

    def open_manager(self) -> None:
        def opened(_pin: str) -> None:
            self.switch("manager")
            self.refresh_manager()

        self.ask_pin("manager", opened)

    def refresh_manager(self) -> None:
        def done(view: ManagerView) -> None:
            self.manager_view = view
            self.manager_screen.render(view)

        self.call(lambda s: s.manager(), done)

    def end_of_day(self) -> None:
        def done(view: ManagerView) -> None:
            lang, r = self.lang, view.report

            def money(amount: int) -> str:
                return str(lang.money(amount, self.currency))

            from datetime import date

            text = lang.t(
                "manager.eod_text",
                date=lang.date(date.fromisoformat(r.business_date)),
                sales=lang.num(r.sales_count),
                returns=lang.num(r.returns_count),
                total=money(r.total),
                member_total=money(r.member_total),
                share=lang.percent(r.member_share),
                discount=money(r.discount_given),
                earned=lang.num(r.points_earned),
                redeemed=lang.num(r.points_redeemed),
                pending=lang.num(view.pending),
            )
            dialogs.message_dialog(lang.t("manager.eod_title"), text, name="eod")

        self.call(lambda s: s.manager(), done)

    def return_sale(self, sale_id: str, kind: str) -> None:
        """Void a sale, or refund one of its lines; both with a manager PIN."""

        def recorded(result: tuple[str, int]) -> None:
            kind_done, amount = result
            lang = self.lang
            dialogs.message_dialog(
                lang.t("manager.title"),
                lang.t(
                    "manager.voided",
                    kind=lang.t(f"kind.{kind_done}"),
                    amount=lang.money(amount, self.currency),
                ),
                name="returned",
            )
            self.refresh_manager()
            self.refresh_status()

        if kind == "void":
            self.ask_pin("manager", lambda pin: self.call(lambda s: s.void(sale_id, pin), recorded))
            return

        def pick(lines: list[tuple[int, str, int, int]]) -> None:
            dialog = dialogs.Dialog(self.lang.t("manager.refund"), "refund-lines")
            for line_no, name, left, total in lines:

                def chosen(line_no: int = line_no, left: int = left) -> None:
                    self.ask_pin(
                        "manager",
                        lambda pin: self.call(
                            lambda s: refund_line(s, sale_id, line_no, left, pin), recorded
                        ),
                    )

                label = f"{self.lang.num(left)} × {name} – {self.lang.money(total, self.currency)}"
                dialog.choice(label, chosen, role="danger", name=f"refund-line-{line_no}")
            dialog.body.add_widget(dialogs.DirBox())
            dialog.button(self.lang.t("keypad.cancel"), role="light")
            dialog.open()

        self.call(lambda s: sale_lines(s, sale_id), pick)

    # -- technician ----------------------------------------------------------

    def open_technician(self) -> None:
        def opened(_pin: str) -> None:
            self.switch("technician")
            self.refresh_status()

        self.ask_pin("technician", opened)

    def start_test_read(self) -> None:
        self.test_read_pending = True
        self.technician_screen.show_test(None)

    def run_health(self) -> None:
        states = {path: state for path, (state, _) in self.reader_state_map().items()}
        self.call(lambda s: s.health(states), self.technician_screen.show_health)

    def reader_state_map(self) -> dict[str, tuple[str, str]]:
        raise NotImplementedError

    def go_checkout(self) -> None:
        self.switch("checkout")

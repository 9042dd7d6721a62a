# mypy: disallow-subclassing-any=False
"""Modal dialogs: messages, keypad entry, points redemption, a basket line, demo cards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kivy.core.window import Window
from kivy.metrics import dp, sp
from kivy.uix.modalview import ModalView
from kivy.uix.scrollview import ScrollView

from clubcore.money import Currency
from terminal.demo_cards import DemoCard
from terminal.ui.views import LineView, RedeemInfo
from terminal.ui.widgets import (
    COLORS,
    TOUCH,
    DirBox,
    Keypad,
    Panel,
    SButton,
    SLabel,
    current_lang,
    grid,
)

__all__ = [
    "Dialog",
    "DirBox",
    "demo_cards_dialog",
    "keypad_dialog",
    "line_dialog",
    "message_dialog",
    "redeem_dialog",
]


class Dialog(ModalView):
    """A modal panel: a title, a body, and a row of buttons at the bottom."""

    def __init__(self, title: str, name: str, *, wide: bool = False, **kwargs: Any) -> None:
        small = Window.width < dp(1000)
        kwargs.setdefault(
            "size_hint", (0.96, 0.96) if small else ((0.8, 0.85) if wide else (0.55, 0.8))
        )
        kwargs.setdefault("auto_dismiss", False)
        kwargs.setdefault("background", "")
        kwargs.setdefault("background_color", (0, 0, 0, 0.5))
        super().__init__(**kwargs)
        self.name = name
        self.frame = Panel(orientation="vertical", padding=dp(12), spacing=dp(8))
        self.title = SLabel(
            title, font_size=sp(22), bold=True, size_hint_y=None, height=dp(40), name="dialog-title"
        )
        self.frame.add_widget(self.title)
        self.body = DirBox(orientation="vertical", spacing=dp(6))
        self.frame.add_widget(self.body)
        self.buttons = DirBox(size_hint_y=None, height=TOUCH + dp(8), spacing=dp(8))
        self.frame.add_widget(self.buttons)
        self.add_widget(self.frame)

    def button(
        self,
        text: str,
        action: Callable[[], None] | None = None,
        role: str = "button",
        name: str = "",
    ) -> SButton:
        """Add a bottom button; it closes the dialog, then runs ``action``."""

        def tap() -> None:
            self.dismiss()
            if action is not None:
                action()

        widget = SButton(text, tap, role=role, name=name)
        self.buttons.add_widget(widget)
        return widget

    def choice(
        self, text: str, action: Callable[[], None], role: str = "button", name: str = ""
    ) -> SButton:
        """Add a full-width choice to the body; it closes the dialog, then runs ``action``."""

        def tap() -> None:
            self.dismiss()
            action()

        widget = SButton(text, tap, role=role, name=name, size_hint_y=None, height=TOUCH)
        self.body.add_widget(widget)
        return widget

    def text(self, logical: str, **kwargs: Any) -> SLabel:
        """Add a wrapped paragraph to the body."""
        kwargs.setdefault("size_hint_y", None)
        label = SLabel(logical, wrap=True, **kwargs)
        label.bind(texture_size=lambda w, size: setattr(w, "height", max(size[1], dp(30))))
        self.body.add_widget(label)
        return label


def message_dialog(
    title: str, message: str, hint: str = "", *, role: str = "button", name: str = "message"
) -> Dialog:
    """A message with an optional hint and a close button."""
    lang = current_lang()
    dialog = Dialog(title, name)
    if role == "danger":
        dialog.title.color = COLORS["danger"]
    dialog.text(message, font_size=sp(20), name="dialog-message")
    if hint:
        dialog.text(hint, color=COLORS["muted"], name="dialog-hint")
    dialog.body.add_widget(DirBox())
    dialog.button(lang.t("dialog.close"), name="dialog-close")
    dialog.open()
    return dialog


def keypad_dialog(
    title: str,
    on_ok: Callable[[str], None],
    *,
    secret: bool = False,
    name: str = "keypad",
    note: str = "",
) -> Dialog:
    """Digits entry; ``on_ok(digits)`` runs after the dialog closes."""
    lang = current_lang()
    dialog = Dialog(title, name)
    if note:
        dialog.text(note, color=COLORS["danger"], name="keypad-note")

    def ok(value: str) -> None:
        dialog.dismiss()
        on_ok(value)

    dialog.keypad = Keypad(ok, secret=secret, name="keypad")
    dialog.body.add_widget(dialog.keypad)
    dialog.button(lang.t("keypad.cancel"), role="light", name="keypad-cancel").color = COLORS[
        "text"
    ]
    dialog.open()
    return dialog


def redeem_dialog(info: RedeemInfo, currency: Currency, on_points: Callable[[int], None]) -> Dialog:
    """Points redemption within the policy: use the most allowed, a typed amount, or none."""
    lang = current_lang()
    dialog = Dialog(lang.t("redeem.title"), "redeem", wide=True)
    dialog.text(lang.t("redeem.balance", points=lang.num(info.balance)), font_size=sp(20))
    if info.max_points:
        dialog.text(
            lang.t(
                "redeem.max",
                points=lang.num(info.max_points),
                amount=lang.money(info.max_amount, currency),
            ),
            name="redeem-max-text",
        )
    else:
        dialog.text(lang.t("redeem.none"), color=COLORS["danger"])
    dialog.text(
        lang.t(
            "redeem.policy",
            min=lang.num(info.min_redeem),
            pct=lang.percent(info.max_redeem_bp / 10_000),
            cap=lang.num(info.offline_cap),
        ),
        color=COLORS["muted"],
    )

    def typed(value: str) -> None:
        dialog.dismiss()
        if value.isdigit():
            on_points(int(value))

    keypad = Keypad(typed, max_len=7, name="redeem-keypad")
    dialog.body.add_widget(keypad)
    if info.max_points:
        dialog.button(
            lang.t("redeem.use_max", points=lang.num(info.max_points)),
            lambda: on_points(info.max_points),
            role="primary",
            name="redeem-max",
        )
    dialog.button(lang.t("redeem.cancel_redeem"), lambda: on_points(0), name="redeem-none")
    dialog.button(lang.t("keypad.cancel"), role="light", name="redeem-cancel").color = COLORS[
        "text"
    ]
    dialog.open()
    return dialog


def line_dialog(line: LineView, currency: Currency, on_quantity: Callable[[int], None]) -> Dialog:
    """Change a line's quantity or remove it."""
    lang = current_lang()
    dialog = Dialog(line.name, "line")
    dialog.text(lang.t("line.quantity", q=lang.num(line.quantity)), font_size=sp(22))
    dialog.text(lang.money(line.line_total, currency))
    row = DirBox(size_hint_y=None, height=dp(72), spacing=dp(8))

    def change(quantity: int) -> Callable[[], None]:
        def tap() -> None:
            dialog.dismiss()
            on_quantity(quantity)

        return tap

    row.add_widget(SButton("−", change(line.quantity - 1), font_size=sp(30), name="line-minus"))
    row.add_widget(SButton("+", change(line.quantity + 1), font_size=sp(30), name="line-plus"))
    dialog.body.add_widget(row)
    dialog.body.add_widget(DirBox())
    dialog.button(lang.t("line.remove"), lambda: on_quantity(0), role="danger", name="line-remove")
    dialog.button(lang.t("dialog.close"), name="dialog-close")
    dialog.open()
    return dialog


def demo_cards_dialog(cards: Sequence[DemoCard], on_card: Callable[[DemoCard], None]) -> Dialog:
    """The simulated reader's cards as buttons: tapping one presents it to the reader."""
    lang = current_lang()
    dialog = Dialog(lang.t("nav.demo_cards"), "demo-cards", wide=True)
    cols = 3 if Window.width < dp(1000) else 4
    buttons = grid(cols, size_hint_y=None, padding=dp(2))
    buttons.bind(minimum_height=buttons.setter("height"))
    for card in cards:
        role = "primary" if card.expect == "accepted" else "danger"

        def tap(card: DemoCard = card) -> None:
            dialog.dismiss()
            on_card(card)

        label = lang.t_or(f"tier.{card.label}", card.label)
        buttons.add_widget(
            SButton(
                label,
                tap,
                role=role,
                size_hint_y=None,
                height=dp(64),
                name=f"demo-card-{card.label}",
            )
        )
    scroll = ScrollView(do_scroll_x=False)
    scroll.add_widget(buttons)
    dialog.body.add_widget(scroll)
    dialog.button(lang.t("dialog.close"), name="dialog-close")
    dialog.open()
    return dialog

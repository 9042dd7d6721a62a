# mypy: disallow-subclassing-any=False
"""Kivy building blocks that know the current language: labels, buttons, rows, keypad.

Every screen is built from these, so right-to-left layout and text shaping
live in one place: :class:`SLabel` shapes (and wraps, kivy#8189) its
``logical`` text; :class:`DirBox` adds children right to left in Persian;
:func:`grid` fills right to left. Screens are rebuilt when the language
changes, so widgets read the language once, when they are made.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from terminal.ui.i18n import Lang

__all__ = [
    "COLORS",
    "TOUCH",
    "DirBox",
    "Keypad",
    "Panel",
    "SButton",
    "SLabel",
    "current_lang",
    "grid",
    "set_lang",
]

#: the minimum touch target
TOUCH = dp(48)

COLORS: dict[str, tuple[float, float, float, float]] = {
    "bg": (0.96, 0.96, 0.95, 1),
    "panel": (1, 1, 1, 1),
    "bar": (0.16, 0.2, 0.27, 1),
    "text": (0.1, 0.1, 0.12, 1),
    "muted": (0.4, 0.42, 0.45, 1),
    "on_dark": (1, 1, 1, 1),
    "button": (0.27, 0.36, 0.49, 1),
    "primary": (0.1, 0.52, 0.33, 1),
    "accent": (0.85, 0.45, 0.1, 1),
    "danger": (0.75, 0.16, 0.16, 1),
    "saving": (0.1, 0.5, 0.25, 1),
    "light": (0.88, 0.9, 0.93, 1),
    "basic": (0.55, 0.58, 0.62, 1),
    "silver": (0.6, 0.63, 0.68, 1),
    "gold": (0.8, 0.62, 0.1, 1),
    "platinum": (0.35, 0.45, 0.58, 1),
    "vip": (0.5, 0.2, 0.55, 1),
}

_lang = Lang("en")


def set_lang(lang: Lang) -> None:
    """Make ``lang`` the language of widgets built from now on."""
    global _lang
    _lang = lang


def current_lang() -> Lang:
    return _lang


@lru_cache(maxsize=32)
def _measurer(font_size: float, bold: bool) -> Any:
    return CoreLabel(font_size=font_size, bold=bold)


def measure(text: str, font_size: float, bold: bool = False) -> float:
    """Width in pixels of ``text`` in the app's font."""
    width, _ = _measurer(font_size, bold).get_extents(text)
    return float(width)


class SLabel(Label):
    """A label whose ``logical`` text is shaped (and wrapped) for the current language.

    ``align`` is ``start``, ``end`` or ``center``: start is left in English
    and right in Persian.
    """

    logical = StringProperty("")
    wrap = BooleanProperty(False)
    align = StringProperty("start")

    def __init__(self, logical: str = "", name: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("color", COLORS["text"])
        kwargs.setdefault("font_size", sp(16))
        kwargs.setdefault("valign", "middle")
        super().__init__(**kwargs)
        self.lang = _lang
        self.name = name
        self.bind(logical=self._refresh, size=self._refresh, wrap=self._refresh)
        self.bind(align=self._refresh, font_size=self._refresh)
        self.logical = logical
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        lang = self.lang
        start, end = ("right", "left") if lang.rtl else ("left", "right")
        self.halign = {"start": start, "end": end}.get(self.align, "center")
        width = max(self.width - 2 * self.padding[0], dp(20))
        font_size, bold = self.font_size, self.bold

        def measured(text: str) -> float:
            return measure(text, font_size, bold)

        self.shorten = False  # Lang.wrap / Lang.fit do it, in logical order
        if self.wrap:
            self.text = lang.wrap(self.logical, width, measured)
            self.text_size = (self.width - 2 * self.padding[0], None)
        else:
            self.text = lang.fit(self.logical, width, measured)
            self.text_size = self.size


class SButton(Button):
    """A large touch button with shaped text; ``role`` picks its colour."""

    logical = StringProperty("")

    def __init__(
        self,
        logical: str = "",
        on_tap: Callable[[], None] | None = None,
        role: str = "button",
        name: str = "",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("font_size", sp(16))
        kwargs.setdefault("background_normal", "")
        kwargs.setdefault("background_color", COLORS[role])
        kwargs.setdefault("color", COLORS["on_dark"])
        kwargs.setdefault("halign", "center")
        kwargs.setdefault("valign", "middle")
        if "size_hint_y" in kwargs and kwargs["size_hint_y"] is None:
            kwargs.setdefault("height", TOUCH)
        super().__init__(**kwargs)
        self.lang = _lang
        self.name = name
        self.bind(logical=self._refresh, size=self._refresh)
        self.logical = logical
        self._refresh()
        if on_tap is not None:
            self.bind(on_release=lambda *_: on_tap())

    def _refresh(self, *_: Any) -> None:
        width = max(self.width - dp(8), dp(20))
        self.text = self.lang.wrap(self.logical, width, lambda s: measure(s, self.font_size))
        self.text_size = (width, None)


class DirBox(BoxLayout):
    """A BoxLayout that, horizontally in a right-to-left language, adds right to left."""

    def __init__(self, name: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rtl = _lang.rtl
        self.name = name

    def add_widget(self, widget: Any, index: int = 0, canvas: Any = None) -> None:
        if self.rtl and self.orientation == "horizontal" and index == 0:
            index = len(self.children)
        super().add_widget(widget, index=index, canvas=canvas)


class Panel(DirBox):
    """A :class:`DirBox` with a background colour."""

    bg = ListProperty(list(COLORS["panel"]))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            self._color = Color(*self.bg)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync, bg=self._sync)

    def _sync(self, *_: Any) -> None:
        self._color.rgba = self.bg
        self._rect.pos = self.pos
        self._rect.size = self.size


def grid(cols: int, **kwargs: Any) -> Any:
    """A GridLayout filling from the start side (right in Persian)."""
    kwargs.setdefault("orientation", "rl-tb" if _lang.rtl else "lr-tb")
    kwargs.setdefault("spacing", dp(4))
    return GridLayout(cols=cols, **kwargs)


class Keypad(Panel):
    """Digits entry for touch: a left-to-right display and 0-9, clear, backspace, OK.

    ``value`` holds ASCII digits; the display shows them in the current
    language's digits, always left to right (Kivy cannot edit Persian text,
    so entry stays a digit string).
    """

    value = StringProperty("")

    def __init__(
        self,
        on_ok: Callable[[str], None],
        *,
        secret: bool = False,
        max_len: int = 16,
        extra: list[tuple[str, Callable[[], None]]] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("spacing", dp(4))
        super().__init__(**kwargs)
        self.secret, self.max_len, self.on_ok = secret, max_len, on_ok
        self.display = Label(
            font_size=sp(26), color=COLORS["text"], size_hint_y=None, height=dp(52)
        )
        self.add_widget(self.display)
        keys = grid(3, size_hint_y=1)
        lang = _lang
        for digit in "123456789":
            keys.add_widget(
                self._key(lang.digits(digit), partial(self.press, digit), name=f"key-{digit}")
            )
        keys.add_widget(self._key("⌫", self.backspace, "light", "key-back"))
        keys.add_widget(self._key(lang.digits("0"), lambda: self.press("0"), name="key-0"))
        keys.add_widget(self._key(lang.t("keypad.ok"), self.submit, "primary", "keypad-ok"))
        self.add_widget(keys)
        if extra:
            row = DirBox(size_hint_y=None, height=TOUCH, spacing=dp(4))
            for label, action in extra:
                row.add_widget(SButton(label, action, role="light", color=COLORS["text"]))
            self.add_widget(row)
        self.bind(value=self._show)
        self._show()

    def _key(
        self, text: str, action: Callable[[], None], role: str = "button", name: str = ""
    ) -> Any:
        return SButton(
            text,
            action,
            role=role,
            name=name,
            font_size=sp(22),
            color=COLORS["text"] if role == "light" else COLORS["on_dark"],
        )

    def press(self, digit: str) -> None:
        if len(self.value) < self.max_len:
            self.value += digit

    def backspace(self) -> None:
        self.value = self.value[:-1]

    def clear(self) -> None:
        self.value = ""

    def submit(self) -> None:
        self.on_ok(self.value)

    def _show(self, *_: Any) -> None:
        shown = "•" * len(self.value) if self.secret else _lang.digits(self.value)
        self.display.text = shown or " "

"""Languages at run time: strings, digits, amounts, dates, and right-to-left text.

:class:`Lang` is the one object screens ask for text. Strings come from
:mod:`terminal.ui.strings`; numbers are formatted here (Persian digits and
separators in ``fa``); :meth:`Lang.shape` turns logical text into what Kivy
must draw.

Kivy 2.3 cannot shape Arabic script or reorder bidirectional text, so for
Persian each string is shaped with ``arabic_reshaper.reshape`` and reordered
with ``bidi.get_display`` (base direction right to left). A wrapped
label must not let Kivy wrap the reordered text (the lines would come out in
the wrong order, kivy#8189): :meth:`Lang.wrap` breaks the *logical* text into
lines that fit first, then reorders each line on its own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import date

from clubcore.errors import CardRejectedError, ClubError, FormatError, UserFacingError
from clubcore.money import Currency, format_amount, round_for_display
from terminal.ui.strings import CATALOG

__all__ = ["ELLIPSIS", "LANGUAGES", "SEP", "Lang", "Measure"]

#: language code -> its own name
LANGUAGES = {"en": "English", "fa": "فارسی"}

#: width in pixels of a (shaped, logical-order) string
Measure = Callable[[str], float]

_FA_DIGITS = str.maketrans("0123456789,.%", "۰۱۲۳۴۵۶۷۸۹٬٫٪")
_UNITS_FA = {"toman": "تومان", "rial": "ریال"}
_ARABIC = re.compile("[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
#: marks text cut to fit
ELLIPSIS = "…"
#: separates parts of one line ("·" would read as the Persian zero "۰")
SEP = " – "


class Lang:
    """One language: its strings and its way with numbers and direction."""

    def __init__(self, code: str) -> None:
        """Arguments: code: ``en`` or ``fa``. Raises KeyError for others."""
        self.code = code
        self.strings = CATALOG[code]
        self.rtl = code == "fa"

    # -- strings -----------------------------------------------------------

    def t(self, key: str, **fields: object) -> str:
        """The string ``key`` (logical order), with ``fields`` put in as given."""
        template = self.strings.get(key) or CATALOG["en"].get(key, key)
        return template.format(**fields) if fields else template

    def t_or(self, key: str, fallback: str) -> str:
        """The string ``key`` if the strings have it, else ``fallback`` (data names)."""
        return self.strings.get(key, fallback)

    # -- numbers -----------------------------------------------------------

    def digits(self, text: str) -> str:
        """ASCII digits and separators as this language writes them."""
        return text.translate(_FA_DIGITS) if self.rtl else text

    def num(self, value: int) -> str:
        """An integer with thousands grouping."""
        return self.digits(f"{value:,}")

    def percent(self, ratio: float) -> str:
        """A ratio (0.456) as a whole percentage (46%)."""
        return self.digits(f"{round(ratio * 100)}%")

    def money(self, amount: int, currency: Currency) -> str:
        """An amount in minor units, in the display unit (toman), grouped: whole toman,
        half up (:func:`clubcore.money.round_for_display`)."""
        amount = round_for_display(amount, currency)
        if not self.rtl:
            return format_amount(amount, currency)
        bare = format_amount(amount, dataclasses.replace(currency, display_symbol=""))
        unit = _UNITS_FA.get(currency.display_symbol, currency.display_symbol)
        return f"{self.digits(bare)} {unit}".rstrip()

    def amount(self, amount: int, currency: Currency) -> str:
        """An amount in the display unit, grouped, without the unit (for columns)."""
        amount = round_for_display(amount, currency)
        bare = format_amount(amount, dataclasses.replace(currency, display_symbol=""))
        return self.digits(bare)

    def unit(self, currency: Currency) -> str:
        """The display unit's name (toman, تومان)."""
        symbol = currency.display_symbol
        return _UNITS_FA.get(symbol, symbol) if self.rtl else symbol

    def date(self, day: date) -> str:
        """A date: ISO in English, Jalali (``۱۴۰۳/۰۵/۰۱``) in Persian."""
        if not self.rtl:
            return day.isoformat()
        import jdatetime

        return self.digits(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"))

    def ago(self, seconds: float | None, *, span: bool = False) -> str:
        """A duration as "5 min ago" (or "5 min" with ``span``); None reads "never"."""
        if seconds is None:
            return self.t("status.never")
        minutes = int(seconds // 60)
        if minutes < 1 and not span:
            return self.t("ago.now")
        if minutes < 120:
            return self.t("span.minutes" if span else "ago.minutes", n=self.num(minutes))
        hours = minutes // 60
        if hours < 48 or span:
            return self.t("span.hours" if span else "ago.hours", n=self.num(hours))
        return self.t("ago.days", n=self.num(hours // 24))

    # -- errors --------------------------------------------------------------

    def reason(self, reason: str) -> tuple[str, str]:
        """A card refusal reason's message and hint for the cashier."""
        key = f"reason.{reason}"
        return self.t(key), self.t(f"{key}.hint")

    def error(self, exc: BaseException) -> tuple[str, str]:
        """What to tell the person about ``exc``: (message, hint).

        Card refusals use their reason; our other errors use their class
        (translated) and keep the English detail in the hint in Persian, so
        nothing a technician needs is lost.
        """
        if isinstance(exc, CardRejectedError):
            return self.reason(exc.reason)
        detail = exc.message if isinstance(exc, UserFacingError) else str(exc)
        hint = exc.hint if isinstance(exc, UserFacingError) and exc.hint else ""
        if not isinstance(exc, ClubError | FormatError):
            return self.t("error.other"), detail
        for cls in type(exc).__mro__:
            key = f"error.{cls.__name__}"
            if key in self.strings:
                if not self.rtl:
                    return detail, hint
                return self.t(key), detail
        return detail, hint

    # -- right to left -------------------------------------------------------

    def shape(self, text: str) -> str:
        """Logical text -> what Kivy must draw (shaped, visual order) for one line."""
        if not text or not _ARABIC.search(text):
            return text  # Latin only: nothing to shape or reorder
        base = "R" if self.rtl else "L"
        return "\n".join(_visual(_reshape(line), base) for line in text.split("\n"))

    def fit(self, text: str, width: float, measure: Measure) -> str:
        """One line of ``text`` cut to ``width`` pixels at its logical end, then shaped.

        Text without Arabic script is left to right in both languages (a
        Latin name stays "Mahsa Rez…"); Persian text is shaped and ordered
        right to left after the cut, so its ellipsis ends up on the left.
        """
        text = text.replace("\n", " ")
        arabic = bool(_ARABIC.search(text))
        shaped = _reshape if arabic else str
        if not text or measure(shaped(text)) <= width:
            return self.shape(text)

        def cut(n: int) -> str:
            return text[:n].rstrip() + ELLIPSIS

        low, high = 0, len(text) - 1  # the longest cut that fits is in low..high
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if measure(shaped(cut(mid))) <= width else (low, mid - 1)
        return self.shape(cut(low))

    def wrap(self, text: str, width: float, measure: Measure) -> str:
        """Break ``text`` into lines of at most ``width`` pixels, then shape each line.

        Lines are broken in logical order (words stay whole unless a single
        word is wider than ``width``), so wrapped Persian paragraphs read
        top to bottom, each line right to left.
        """
        arabic = bool(_ARABIC.search(text))
        lines: list[str] = []
        for paragraph in text.split("\n"):
            shaped = _reshape(paragraph) if arabic else paragraph
            lines.extend(_break(shaped, width, measure))
        if not arabic:
            return "\n".join(lines)
        base = "R" if self.rtl else "L"
        return "\n".join(_visual(line, base) for line in lines)


#: letters that join (digits, separators and spaces need no shaping)
_JOINING = re.compile("[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")


def _reshape(text: str) -> str:
    if not _JOINING.search(text):
        return text  # Persian digits alone: nothing joins (and reshaping costs ~0.5 ms a call)
    import arabic_reshaper

    return str(arabic_reshaper.reshape(text))


def _visual(text: str, base: str = "R") -> str:
    from bidi import get_display  # python-bidi >= 0.5: the Rust implementation

    return str(get_display(text, base_dir=base))


def _break(text: str, width: float, measure: Measure) -> list[str]:
    """Greedy word wrap of one paragraph in logical order."""
    words = text.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and measure(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines

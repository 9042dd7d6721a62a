"""A receipt drawn as a 1-bit image at the paper's width, in the UI's font.

Thermal printers print 8 dots per mm: 58 mm paper has 384 printable dots,
80 mm paper 576 (:data:`PAPER_DOTS`). Text is DejaVu Sans (Latin and
Arabic script, as the UI). Persian is shaped (``arabic_reshaper``) and put
in visual order (``python-bidi``) here, line by line after wrapping in
logical order, so Pillow's own layout is kept to its basic engine (it must
not shape or reorder a second time). In a Persian receipt labels sit on the
right and amounts on the left; in English the other way round.
"""

from __future__ import annotations

from functools import lru_cache

import qrcode
from PIL import Image, ImageDraw, ImageFont

from terminal.receipts.content import Receipt, ReceiptItem
from terminal.ui.env import find_font
from terminal.ui.i18n import Lang

__all__ = ["PAPER_DOTS", "render_image"]

#: printable dots across, by paper width in mm
PAPER_DOTS = {58: 384, 80: 576}
_MARGIN = 4
_GAP = 4


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = str(find_font(bold))
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


class _Canvas:
    """Rows drawn top to bottom on a tall white strip, cropped at the end."""

    def __init__(self, width: int, lang: Lang, rows: int) -> None:
        self.width, self.lang = width, lang
        self.size = 22 if width >= 576 else 18
        # rows of text, each possibly wrapped to three lines, and room for the QR code
        self.image = Image.new("1", (width, rows * 3 * round(self.size * 1.4) + 400), 1)
        self.draw = ImageDraw.Draw(self.image)
        self.y = _MARGIN

    def font(self, bold: bool = False, scale: float = 1.0) -> ImageFont.FreeTypeFont:
        return _font(round(self.size * scale), bold)

    def lines(self, text: str, width: int, font: ImageFont.FreeTypeFont) -> list[str]:
        wrapped = self.lang.wrap(text, width, lambda t: font.getlength(t))
        return wrapped.split("\n")

    def text(
        self, text: str, *, align: str = "start", bold: bool = False, scale: float = 1.0
    ) -> None:
        font = self.font(bold, scale)
        inner = self.width - 2 * _MARGIN
        for line in self.lines(text, inner, font):
            self._put(line, font, align)

    def _put(self, line: str, font: ImageFont.FreeTypeFont, align: str) -> None:
        length = font.getlength(line)
        inner = self.width - 2 * _MARGIN
        if align == "center":
            x = _MARGIN + (inner - length) / 2
        elif (align == "start") == self.lang.rtl:
            x = self.width - _MARGIN - length
        else:
            x = _MARGIN
        self.draw.text((x, self.y), line, font=font, fill=0)
        self.y += round(font.size * 1.35)

    def pair(self, label: str, value: str, *, bold: bool = False) -> None:
        """A label at the start side and a value at the end side, on one row if they fit."""
        font = self.font(bold)
        shaped_value = self.lang.shape(value)
        room = self.width - 2 * _MARGIN - font.getlength(shaped_value) - 12
        labels = self.lines(label, int(room), font)
        top = self.y
        for line in labels:
            self._put(line, font, "start")
        end_x = _MARGIN if self.lang.rtl else self.width - _MARGIN - font.getlength(shaped_value)
        self.draw.text((end_x, top), shaped_value, font=font, fill=0)

    def rule(self) -> None:
        y = self.y + _GAP
        for x in range(_MARGIN, self.width - _MARGIN, 8):
            self.draw.line((x, y, x + 4, y), fill=0, width=2)
        self.y = y + 2 * _GAP

    def qr(self, data: str) -> None:
        code = qrcode.QRCode(
            border=0, box_size=4, error_correction=qrcode.constants.ERROR_CORRECT_M
        )
        code.add_data(data)
        picture = code.make_image(fill_color="black", back_color="white").get_image().convert("1")
        x = (self.width - picture.width) // 2
        self.image.paste(picture, (x, self.y + _GAP))
        self.y += picture.height + 3 * _GAP

    def finish(self) -> Image.Image:
        return self.image.crop((0, 0, self.width, self.y + _MARGIN))


def _item(canvas: _Canvas, item: ReceiptItem) -> None:
    canvas.text(item.name)
    detail = f"{item.detail}   {item.list_detail}".rstrip() if item.list_detail else item.detail
    canvas.pair(detail, item.total)


def render_image(receipt: Receipt, paper_mm: int = 80) -> Image.Image:
    """``receipt`` as a black-and-white image (mode ``1``) as wide as the paper's dots.

    Raises:
        KeyError: a paper width other than 58 or 80 mm.
        ConfigError: the font is not installed.
    """
    rows = 2 * len(receipt.items) + len(receipt.totals) + len(receipt.payments)
    rows += len(receipt.header) + len(receipt.member) + len(receipt.footer) + 6
    canvas = _Canvas(PAPER_DOTS[paper_mm], Lang(receipt.lang), rows)
    canvas.text(receipt.header[0], align="center", bold=True, scale=1.3)
    for line in receipt.header[1:]:
        canvas.text(line, align="center")
    canvas.rule()
    canvas.text(receipt.title, align="center", bold=True, scale=1.15)
    for item in receipt.items:
        _item(canvas, item)
    canvas.rule()
    for n, (label, value) in enumerate(receipt.totals):
        canvas.pair(label, value, bold=n == len(receipt.totals) - 1)
    for label, value in receipt.payments:
        canvas.pair(label, value)
    if receipt.member:
        canvas.rule()
        for line in receipt.member:
            canvas.text(line)
    canvas.rule()
    for line in receipt.footer:
        canvas.text(line, align="center")
    if receipt.qr:
        canvas.qr(receipt.qr)
    return canvas.finish()

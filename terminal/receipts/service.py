"""Receipts of this lane's sales: built from the store, drawn, printed, printed again.

:func:`print_receipt` never undoes a sale: the sale is recorded before its
receipt is printed, and a printer that is offline, missing or out of paper
raises :class:`~terminal.receipts.printer.PrinterError` for the caller to
show (the status bar) while the till goes on; :func:`print_receipt` on the
same sale later prints it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

from clubcore.errors import ConfigError
from clubcore.sale import Sale
from clubcore.tender import Tender
from terminal.receipts.content import Receipt, build_receipt, receipt_context
from terminal.receipts.image import render_image
from terminal.receipts.printer import print_image
from terminal.ui.i18n import Lang

if TYPE_CHECKING:
    from terminal.bootstrap import Terminal

__all__ = ["print_receipt", "receipt_for", "receipt_image"]


def receipt_for(terminal: Terminal, sale: Sale, lang: str | None = None) -> Receipt:
    """The receipt of ``sale`` in ``lang`` (the lane's language when None)."""
    settings = terminal.settings
    code = lang or settings.language
    context = receipt_context(
        terminal.db,
        sale,
        store=settings.store_id,
        timezone=settings.timezone,
        currency=settings.currency,
        lang=code,
    )
    return build_receipt(sale, context, Lang(code))


def receipt_image(
    terminal: Terminal, sale: Sale, lang: str | None = None, paper_mm: int | None = None
) -> Image.Image:
    """The receipt of ``sale`` drawn for the lane's paper (or ``paper_mm``)."""
    width = paper_mm or terminal.settings.paper_mm
    return render_image(receipt_for(terminal, sale, lang), width)


def print_receipt(
    terminal: Terminal,
    sale: Sale,
    *,
    printer: str | None = None,
    lang: str | None = None,
    drawer: bool | None = None,
) -> Image.Image:
    """Print the receipt of ``sale`` on the lane's printer (or ``printer``); the image sent.

    The cash drawer opens for a sale paid (partly) in cash when the lane's
    ``printer.drawer`` setting says so (or ``drawer``).

    Raises:
        ConfigError: no printer set, or not a printer path.
        PrinterError: the printer is offline or missing, or stopped while printing.
    """
    settings = terminal.settings
    path = printer or settings.printer
    if path is None:
        raise ConfigError(
            "printer.path", "no receipt printer is set", hint="set [printer] path in terminal.toml"
        )
    image = receipt_image(terminal, sale, lang)
    cash = sale.tender is Tender.CASH or any(p.tender is Tender.CASH for p in sale.payments)
    kick = (settings.drawer if drawer is None else drawer) and cash
    print_image(path, image, drawer=kick)
    return image

"""Receipts: content, Persian drawn right to left as an image, sent to a network printer
emulated on loopback, the printer offline mid-shift and the receipt printed again."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops

from clubcore.errors import ConfigError
from clubcore.money import to_display_units
from clubcore.sale import Sale
from clubcore.tender import Payment, Tender, cash_payment
from offline_store import sales
from terminal.bootstrap import Terminal
from terminal.demo_data import DEMO_CASHIER, DEMO_CASHIER_PIN
from terminal.receipts.image import PAPER_DOTS, _Canvas, render_image
from terminal.receipts.printer import PrinterError, parse_printer_path
from terminal.receipts.service import print_receipt, receipt_for, receipt_image
from terminal.shifts import sign_in
from terminal.ui.i18n import Lang
from tests.terminal.printer_fake import FakePrinter, raster_images


def member_sale(terminal: Terminal) -> Sale:
    sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN)
    member = terminal.db.execute(
        "SELECT member_no FROM members WHERE tier = 'gold' ORDER BY member_no LIMIT 1"
    ).fetchone()[0]
    checkout = terminal.checkout()
    checkout.identify(member)
    checkout.add("P000001", 2)
    checkout.add("P000005")
    checkout.redeem(100)
    total = checkout.priced.total
    return checkout.complete(
        payments=[Payment(Tender.CARD, total - 50_000, reference="502938475610"),
                  cash_payment(50_000, 100_000)]
    )  # fmt: skip


def same(a: Image.Image, b: Image.Image) -> bool:
    return (
        a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None
    )


def test_a_member_receipt_says_what_the_issue_asks(terminal: Terminal) -> None:
    sale = member_sale(terminal)
    receipt = receipt_for(terminal, sale, "en")
    text = "\n".join([*receipt.header, *(f"{a} {b}" for a, b in receipt.totals + receipt.payments),
                      *receipt.member])  # fmt: skip
    for expected in ("Cashier: Sara Ahmadi", "Sale no. 1", "Lane demo-lane-1", "2026-11-22 13:00",
                     "Your member savings", "Paid with 100 points", "Card (ref. 502938475610)",
                     "Cash handed over 10,000", "Change 5,000", "Points earned", "Points balance",
                     "more to"):  # fmt: skip
        assert expected in text, expected
    assert receipt.qr == sale.sale_id
    assert any(item.list_detail.startswith("list ") for item in receipt.items)
    fa = receipt_for(terminal, sale, "fa")
    assert "۱۴۰۵/۰۹/۰۱ ۱۳:۰۰" in fa.header  # Jalali, Persian digits, local time
    assert fa.totals[-1] == ("مبلغ قابل پرداخت (تومان)", Lang("fa").num(sale.total // 10))


def test_amounts_are_whole_toman_rounded_half_up(terminal: Terminal) -> None:
    toman = terminal.currency
    assert [to_display_units(a, toman) for a in (822_796, 822_794, -822_796, 5)] == [
        82_280, 82_279, -82_280, 1,
    ]  # fmt: skip


def test_persian_is_shaped_and_right_aligned() -> None:
    canvas = _Canvas(PAPER_DOTS[58], Lang("fa"), rows=2)
    canvas.text("رسید خرید")
    ink = ImageChops.invert(canvas.finish().convert("L")).getbbox()
    assert ink is not None and ink[2] > 370 and ink[0] > 200  # on the right
    shaped = Lang("fa").shape("رسید خرید")
    assert shaped != "رسید خرید" and any("\ufe70" <= ch <= "\ufeff" for ch in shaped)
    # visual order: the last letter (final dal) is drawn first, the first (reh) last
    assert (shaped[0], shaped[-1]) == ("\ufeaa", "\ufead")


@pytest.mark.parametrize(("lang", "paper"), [("fa", 80), ("fa", 58), ("en", 80)])
def test_the_printer_receives_exactly_the_receipt_image(
    terminal: Terminal, lang: str, paper: int
) -> None:
    sale = member_sale(terminal)
    with FakePrinter() as printer:
        terminal.db["settings"].upsert({"key": "printer.paper_mm", "value": str(paper)}, pk="key")
        sent = print_receipt(terminal, sale, printer=printer.path, lang=lang)
        job = printer.wait()
    assert job.startswith(b"\x1b@")  # initialised
    assert same(raster_images(job), sent)
    assert same(sent, receipt_image(terminal, sale, lang, paper))
    assert sent.width == PAPER_DOTS[paper]
    assert b"\x1dV" in job  # cut
    assert b"\x1bp" in job  # the sale took cash: the drawer opens


def test_printer_offline_mid_shift_then_the_receipt_prints_again(terminal: Terminal) -> None:
    sale = member_sale(terminal)
    printer = FakePrinter()
    path = printer.path
    printer.close()  # the printer goes away
    with pytest.raises(PrinterError, match="offline or missing"):
        print_receipt(terminal, sale, printer=path)
    assert sales.get_sale(terminal.db, sale.sale_id) == sale  # the sale is kept
    checkout = terminal.checkout()  # and the till goes on
    checkout.add("P000001")
    later = checkout.complete("card")
    with FakePrinter() as back:
        print_receipt(terminal, sale, printer=back.path)
        assert same(raster_images(back.wait()), receipt_image(terminal, sale))
        print_receipt(terminal, later, printer=back.path)
        assert b"\x1bp" not in back.wait()  # a card sale does not open the drawer


def test_printer_paths_are_checked() -> None:
    assert parse_printer_path("net:10.0.0.5").number == 9100
    assert parse_printer_path("net:printer.local:9101").target == "printer.local"
    assert parse_printer_path("usb:04b8:0202").number == 0x04B80202
    assert parse_printer_path("serial:/dev/ttyS0:19200").number == 19200
    assert parse_printer_path("file:/dev/usb/lp0").target == "/dev/usb/lp0"
    for bad in ("", "net:", "lp0", "usb:zz:1", "net:host:99999", "serial:/dev/ttyS0:fast"):
        with pytest.raises(ConfigError, match="printer path"):
            parse_printer_path(bad)


def test_no_printer_set_says_so(terminal: Terminal) -> None:
    sale = member_sale(terminal)
    with pytest.raises(ConfigError, match="no receipt printer is set"):
        print_receipt(terminal, sale)
    assert render_image(receipt_for(terminal, sale), 58).width == 384


def test_the_cli_prints_with_the_sale_and_again_when_the_printer_is_back(
    terminal: Terminal,
) -> None:
    from click.testing import CliRunner

    from terminal.cli import cli

    data_dir = str(terminal.data_dir)
    printer = FakePrinter()
    terminal.db["settings"].upsert({"key": "printer.path", "value": printer.path}, pk="key")
    printer.close()
    runner = CliRunner()
    sold = runner.invoke(cli, ["--data-dir", data_dir, "sale", "--item", "P000001", "--print"],
                         obj={})  # fmt: skip
    assert sold.exit_code == 0 and "offline or missing; the sale is recorded" in sold.stderr
    with FakePrinter() as back:
        again = runner.invoke(cli, ["--data-dir", data_dir, "receipt", "--printer", back.path,
                                    "--language", "fa"], obj={})  # fmt: skip
        assert again.exit_code == 0, again.stderr
        assert raster_images(back.wait()).width == PAPER_DOTS[80]

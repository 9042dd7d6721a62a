"""Receipts at the command line: ``receipt`` (show, draw or print one again)."""

from __future__ import annotations

from pathlib import Path

import click

from clubcore.errors import SaleStateError
from offline_store import sales
from terminal.cli.base import cli, handle_errors, opened
from terminal.receipts.service import print_receipt, receipt_image

__all__ = ["receipt"]


@cli.command()
@click.argument("sale_id", required=False)
@click.option("--print", "to_printer", is_flag=True, help="Print it on the lane's printer.")
@click.option("--printer", metavar="PATH", help="Another printer (net:HOST[:PORT], usb:..., ...).")
@click.option(
    "--image",
    "image_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the receipt image (PNG) here.",
)
@click.option("--language", type=click.Choice(["en", "fa"]), help="Default: the lane's language.")
@click.option("--paper", type=click.Choice(["58", "80"]), help="Paper width in mm.")
@click.pass_context
@handle_errors
def receipt(
    ctx: click.Context,
    sale_id: str | None,
    to_printer: bool,
    printer: str | None,
    image_path: Path | None,
    language: str | None,
    paper: str | None,
) -> None:
    """The receipt of a sale (the last one without SALE_ID): draw it, or print it again."""
    with opened(ctx) as terminal:
        sale = sales.get_sale(terminal.db, sale_id) if sale_id else sales.last_sale(terminal.db)
        if sale is None:
            raise SaleStateError("no sale has been recorded on this lane yet")
        if image_path is not None:
            image = receipt_image(terminal, sale, language, int(paper) if paper else None)
            image.save(image_path)
            click.echo(f"receipt of sale {sale.sale_no or ''} ({sale.sale_id}) -> {image_path}")
        if to_printer or printer:
            print_receipt(terminal, sale, printer=printer, lang=language, drawer=False)
            click.echo(f"receipt of sale {sale.sale_id} printed")

"""Sending a receipt to an ESC/POS printer chosen by a path string, as readers are.

Printer paths::

    net:HOST[:PORT]        a network printer (raw TCP, port 9100 unless given)
    usb:VID:PID            a USB printer (hex ids, e.g. usb:04b8:0202)
    serial:DEVICE[:BAUD]   a serial printer (e.g. serial:/dev/ttyS0:19200; 9600 by default)
    file:PATH              a device file or any file (e.g. file:/dev/usb/lp0)

A receipt prints as an image (:mod:`terminal.receipts.image`): thermal
printers have no Persian code page. After it the paper is cut, and with
``drawer`` the cash drawer wired to the printer is kicked open.

Foreign errors (sockets, USB, serial, python-escpos) are mapped here to
:class:`PrinterError`, which says the printer is offline or missing; the
sale it belongs to is recorded already and the receipt can be printed again.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass

from escpos import exceptions as escpos_errors
from escpos.escpos import Escpos
from PIL import Image

from clubcore.errors import ConfigError, UserFacingError

__all__ = [
    "PrinterError",
    "PrinterPath",
    "open_printer",
    "parse_printer_path",
    "print_image",
    "raster_bytes",
]

DEFAULT_PORT = 9100
#: how long a network printer may take to accept a connection or the bytes
TIMEOUT_SECONDS = 5.0


class PrinterError(UserFacingError):
    """The receipt printer is offline, missing or out of paper: the sale is kept, reprint later."""


@dataclass(frozen=True, slots=True)
class PrinterPath:
    """A parsed printer path: its kind and its parts."""

    kind: str
    target: str
    number: int | None = None


def parse_printer_path(path: str) -> PrinterPath:
    """Parse a printer path (see the module docstring).

    Raises:
        ConfigError: not a printer path.
    """
    kind, _, rest = path.strip().partition(":")
    problem = ConfigError(
        "printer.path",
        f"{path!r} is not a printer path",
        hint="net:HOST[:PORT], usb:VID:PID, serial:DEVICE[:BAUD] or file:PATH",
    )
    if not rest:
        raise problem
    try:
        if kind == "net":
            host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
            number = int(port) if port else DEFAULT_PORT
            if not host or not 0 < number < 65536:
                raise problem
            return PrinterPath(kind, host, number)
        if kind == "usb":
            vid, pid = rest.split(":")
            return PrinterPath(kind, vid.lower(), int(pid, 16) + (int(vid, 16) << 16))
        if kind == "serial":
            device, _, baud = rest.partition(":")
            return PrinterPath(kind, device, int(baud) if baud else 9600)
        if kind == "file":
            return PrinterPath(kind, rest)
    except ValueError:
        raise problem from None
    raise problem


def open_printer(path: str) -> Escpos:
    """An open python-escpos printer for ``path``.

    Raises:
        ConfigError: not a printer path.
        PrinterError: the printer cannot be reached or opened.
    """
    parsed = parse_printer_path(path)
    try:
        printer = _printer(parsed)
        printer.open()
    except (OSError, escpos_errors.Error) as exc:
        raise PrinterError(
            f"the receipt printer {path} is offline or missing",
            hint="check its power, paper and cable; the sale is recorded, print it again later",
        ) from exc
    return printer


def _printer(parsed: PrinterPath) -> Escpos:
    from escpos import printer as kinds

    if parsed.kind == "net":
        return kinds.Network(parsed.target, parsed.number, timeout=TIMEOUT_SECONDS)
    if parsed.kind == "usb":
        number = parsed.number or 0
        return kinds.Usb(number >> 16, number & 0xFFFF)
    if parsed.kind == "serial":
        return kinds.Serial(parsed.target, parsed.number or 9600)
    return kinds.File(parsed.target)


#: rows per ``GS v 0`` band (printers buffer a band at a time)
BAND_ROWS = 256


def raster_bytes(image: Image.Image) -> bytes:
    """``image`` as ESC/POS raster bands (``GS v 0``): 1 bits are dots, rows MSB first.

    python-escpos's own image path converts through RGBA and grey at every
    call; a receipt image is 1-bit already, so it is packed directly (the
    same bytes, a tenth of the time).
    """
    # an image's dark pixels become 1 bits (in mode 1, black is 0)
    ink = image.convert("L").point(lambda v: 255 if v < 128 else 0).convert("1")
    width_bytes = (ink.width + 7) // 8
    out = bytearray()
    for top in range(0, ink.height, BAND_ROWS):
        band = ink.crop((0, top, width_bytes * 8, min(top + BAND_ROWS, ink.height)))
        out += b"\x1dv0\x00" + struct.pack("<HH", width_bytes, band.height)
        out += band.tobytes()
    return bytes(out)


def print_image(path: str, image: Image.Image, *, drawer: bool = False) -> None:
    """Print ``image`` on the printer at ``path``, cut the paper, kick the drawer if asked.

    Raises:
        ConfigError: not a printer path.
        PrinterError: the printer is offline, missing, or went away while printing.
    """
    printer = open_printer(path)
    try:
        printer.hw("INIT")
        printer._raw(raster_bytes(image))
        printer.cut()
        if drawer:
            printer.cashdraw(2)
    except (OSError, escpos_errors.Error) as exc:
        raise PrinterError(
            f"the receipt printer {path} stopped while printing",
            hint="check its paper and power, then print the receipt again",
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            printer.close()

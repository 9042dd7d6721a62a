"""Reading and writing the tables of import files: CSV (any of the encodings Excel writes) and XLSX.

:func:`read_table` takes a path, ``-`` (standard input) or bytes and gives a
:class:`Sheet`: the header and the rows as text cells, each row with its
number in the file (the header is row 1, as a spreadsheet counts).

==========================  ============================================================
file                        how it is read
==========================  ============================================================
XLSX (``PK`` zip magic)     openpyxl, read-only, the first sheet (or ``sheet``); numbers
                            that are whole are written without ``.0``; dates as ISO
CSV, UTF-8 with a BOM       ``utf-8-sig``
CSV, UTF-8                  ``utf-8`` when the bytes decode as UTF-8
CSV, anything else          ``cp1256`` (Windows-1256: how Excel saves Persian CSV)
``encoding`` given          that encoding, no guessing
==========================  ============================================================

Windows-1256 has no Persian yeh or kaf; Excel writes the Arabic letters
(``ي`` ``ك``) instead, so text read as cp1256 gets the Persian ones back
(``ی`` ``ک``).

The CSV delimiter is a comma, a semicolon or a tab, whichever the header uses.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from clubcore.errors import FormatError

__all__ = ["Sheet", "cell_text", "read_table", "write_table"]

_ZIP_MAGIC = b"PK\x03\x04"
_FALLBACK = "cp1256"
_PERSIAN_LETTERS = str.maketrans("يك", "یک")


@dataclass
class Sheet:
    """A table read from a file: its name (for messages), header, rows and encoding."""

    name: str
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str
    total: int | None = None


def _source_bytes(source: str | Path | bytes) -> tuple[str, bytes]:
    if isinstance(source, bytes):
        return "<bytes>", source
    if str(source) == "-":
        return "<stdin>", sys.stdin.buffer.read()
    path = Path(source)
    try:
        return str(path), path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror}") from exc


def read_table(
    source: str | Path | bytes, *, encoding: str | None = None, sheet: str | None = None,
    name: str | None = None,
) -> Sheet:  # fmt: skip
    """The table in ``source`` (a path, ``-`` for standard input, or the file's bytes);
    ``name`` is what messages call it (default: the path, ``<stdin>``, ``<bytes>``).

    Raises:
        FormatError: unreadable, empty, not decodable in ``encoding``, or no such sheet.
    """
    found, data = _source_bytes(source)
    name = name or found
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(name, data, sheet)
    text, used = _decode(name, data, encoding)
    if codecs.lookup(used).name == _FALLBACK:
        text = text.translate(_PERSIAN_LETTERS)
    return _read_csv(name, text, used)


def _decode(name: str, data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
            return data.decode(encoding), encoding
        except LookupError:
            raise FormatError(f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise FormatError(f"{name}: not {encoding} at byte {exc.start}") from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode(_FALLBACK, errors="replace"), _FALLBACK


def _read_csv(name: str, text: str, encoding: str) -> Sheet:
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError(f"{name}: the file is empty") from None
    except csv.Error as exc:
        raise FormatError(f"{name}: row 1: {exc}") from None
    total = max(text.count("\n") - 1 + (not text.endswith("\n")), 0)
    return Sheet(name, header, _csv_rows(name, reader), encoding, total)


def _csv_rows(name: str, reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FormatError(f"{name}: row {number + 1}: {exc}") from None
        number += 1
        if any(cell.strip() for cell in row):
            yield number, row


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text an operator sees (whole numbers without ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _read_xlsx(name: str, data: bytes, sheet: str | None) -> Sheet:
    from openpyxl import load_workbook  # only for XLSX files
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FormatError(f"{name}: not a readable XLSX workbook: {exc}") from exc
    if sheet is not None and sheet not in book.sheetnames:
        raise FormatError(f"{name}: no sheet {sheet!r} (has {', '.join(book.sheetnames)})")
    worksheet = book[sheet] if sheet else book.worksheets[0]
    rows = worksheet.iter_rows(values_only=True)
    try:
        header = [cell_text(v) for v in next(rows)]
    except StopIteration:
        raise FormatError(f"{name}: the sheet is empty") from None
    while header and not header[-1]:
        header.pop()
    total = max((worksheet.max_row or 1) - 1, 0)
    return Sheet(name, header, _xlsx_rows(rows, len(header)), "xlsx", total)


def _xlsx_rows(rows: Iterator[tuple[Any, ...]], width: int) -> Iterator[tuple[int, list[str]]]:
    for number, values in enumerate(rows, start=2):
        cells = [cell_text(v) for v in values[:width]]
        if any(c.strip() for c in cells):
            yield number, cells


def write_table(
    target: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[str]], *, xlsx: bool
) -> None:
    """Write a table as CSV (UTF-8 with a BOM, so Excel reads Persian) or XLSX."""
    if xlsx:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
        book.save(target)
        return
    stream = io.TextIOWrapper(target, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    stream.flush()
    stream.detach()

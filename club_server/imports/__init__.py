"""Importing and exporting the club's data as CSV or XLSX files (``docs/import-formats.md``).

=========================  ====================================  =======================
kind                       module                                key
=========================  ====================================  =======================
``products``               :mod:`club_server.imports.products`   sku
``member-prices``          :mod:`club_server.imports.pricing`    sku, tier
``category-discounts``     :mod:`club_server.imports.pricing`    category, tier
``offers``                 :mod:`club_server.imports.offers`     offer_id
``members``                :mod:`club_server.imports.members`    member_no
=========================  ====================================  =======================

:func:`import_file` reads a file (:mod:`~club_server.imports.files`) and runs
it (:mod:`~club_server.imports.run`); :func:`export_file` writes the same
format, which re-imports unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from club_server.admin.access import Action, Actor, require
from club_server.db import Database
from club_server.imports.files import read_table, write_table
from club_server.imports.formats import Kind
from club_server.imports.members import Members
from club_server.imports.offers import Offers
from club_server.imports.pricing import CategoryDiscounts, MemberPrices
from club_server.imports.products import Products
from club_server.imports.run import (
    ImportReport,
    Progress,
    RowError,
    export_context,
    import_table,
)

__all__ = [
    "KINDS",
    "ImportReport",
    "Progress",
    "RowError",
    "export_file",
    "import_file",
    "kind",
    "write_rejects",
]

KINDS: dict[str, Kind] = {
    k.name: k for k in (Products(), MemberPrices(), CategoryDiscounts(), Offers(), Members())
}


def kind(name: str) -> Kind:
    """The format called ``name``.

    Raises:
        KeyError: no such format.
    """
    return KINDS[name]


def import_file(
    database: Database, kind_name: str, source: str | Path | bytes, *, actor: Actor,
    now: datetime, dry_run: bool = False, skip_bad_rows: bool = False,
    encoding: str | None = None, unit: str | None = None, sheet: str | None = None,
    progress: Progress | None = None, name: str | None = None,
) -> ImportReport:  # fmt: skip
    """Import a file (a path, ``-`` for standard input, or its bytes) as ``actor``.

    ``name`` is what messages and the audit log call the file (default: its path).

    Raises:
        KeyError: an unknown kind.
        RequestRefusedError: 403 forbidden, ``actor`` may not import (nothing is read).
        FormatError: the file cannot be read, or its header does not fit the kind.
    """
    chosen = KINDS[kind_name]
    require(actor, Action.IMPORT)
    table = read_table(source, encoding=encoding, sheet=sheet, name=name)
    return import_table(database, chosen, table, actor=actor, now=now, dry_run=dry_run,
                        skip_bad_rows=skip_bad_rows, unit=unit, progress=progress)  # fmt: skip


def write_rejects(report: ImportReport, target: IO[bytes], *, xlsx: bool = False) -> None:
    """The refused rows as they were read, with an ``error`` column (the file re-imports
    once fixed: the ``error`` column is ignored)."""
    by_row: dict[int, list[str]] = {}
    cells: dict[int, tuple[str, ...]] = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append(f"{error.column}: {error.message}")
        cells.setdefault(error.row, error.cells)
    width = len(report.header)
    rows = ([*list(cells[r])[:width], *[""] * (width - len(cells[r])), "; ".join(by_row[r])]
            for r in sorted(by_row))  # fmt: skip
    write_table(target, [*report.header, "error"], rows, xlsx=xlsx)


def export_file(
    database: Database, kind_name: str, target: IO[bytes], *, xlsx: bool = False,
    unit: str | None = None, now: datetime,
) -> int:  # fmt: skip
    """Write every row of ``kind_name`` in its import format; returns the row count.

    Raises:
        KeyError: an unknown kind.
        FormatError: ``unit`` is not one of the club's.
    """
    chosen = KINDS[kind_name]
    count = 0
    with database.reading() as conn:
        context = export_context(conn, chosen, now, unit)
        header, rows = chosen.export_table(conn, context)

        def counted() -> Iterator[list[str]]:
            nonlocal count
            for row in rows:
                count += 1
                yield row

        write_table(target, header, counted(), xlsx=xlsx)
    return count

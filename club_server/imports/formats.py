"""What every import format shares: its columns, the header, and reading one row's cells.

A :class:`Kind` is one format (``products``, ``member-prices``, ...): the
table it writes, its key, the file's columns, how a row of cells becomes a
:class:`clubcore.records.Record` and a row of the table, and how a row of the
table becomes cells again (export). The subclasses live one per module.

Headers are matched without regard to case, outer spaces, and ``-`` or
spaces versus ``_``. A money column may name its unit: ``list_price_toman``
or ``list_price (rial)``; without one the file's unit is ``--unit``, or else
the club's display unit (the ``currency`` setting: ``IRT`` is toman).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table
from sqlalchemy.types import TypeEngine

from clubcore.errors import FormatError
from clubcore.money import Currency
from clubcore.records import Known, Problem, Record, RecordError, parse_amount

__all__ = [
    "Cells",
    "Column",
    "Context",
    "Header",
    "Kind",
    "clean_name",
    "money_text",
    "money_units",
    "percent_text",
    "read_header",
]

T = TypeVar("T")
_UNIT = re.compile(r"^(.*?)[ _]*(?:\(|\[)?\s*(rial|toman|minor|major)\s*(?:\)|\])?$")
#: columns a file may carry that no format reads (the reason of a rejects file)
IGNORED = frozenset({"error"})


def money_units(currency: Currency) -> dict[str, int]:
    """Unit names a file may use and their size in minor units (toman only for the rial)."""
    units = {"minor": 1, "major": currency.whole_unit}
    if currency.code == "IRR":
        units.update(rial=1, toman=10)
    return units


@dataclass(frozen=True)
class Context:
    """What reading rows needs besides the cells: units, the club's zone, what is known."""

    currency: Currency
    unit: int
    zone: ZoneInfo
    known: Known
    now: datetime
    phone_salt: bytes = b""
    #: the name of the unit money columns without one are in
    unit_name: str = "toman"
    #: what a kind read from the database for itself (:meth:`Kind.prepare`)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """A column of a format: its name, whether rows must fill it, whether it is money."""

    name: str
    required: bool = False
    money: bool = False


@dataclass
class Header:
    """The file's columns matched to a format's: index and money scale per column."""

    index: dict[str, int]
    scale: dict[str, int]
    extra: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: every read column (the format's and the extra ones) and its position
    positions: dict[str, int] = field(default_factory=dict)


def clean_name(name: str) -> str:
    """A header cell as a column name: lower case, ``_`` for spaces and dashes."""
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


def read_header(kind: Kind, header: Sequence[str], context: Context) -> Header:
    """Match ``header`` to ``kind``'s columns.

    Raises:
        FormatError: a required column is missing, a column is repeated or unknown, or a
            money column names a unit the currency does not have.
    """
    units = money_units(context.currency)
    known = {c.name: c for c in kind.columns}
    result = Header({}, {})
    for position, raw in enumerate(header):
        name = clean_name(raw)
        if not name or name in IGNORED:
            continue
        unit = _UNIT.match(name)
        if unit and unit.group(1) in known and known[unit.group(1)].money:
            name, scale = unit.group(1), units.get(unit.group(2))
            if scale is None:
                raise FormatError(f"column {raw!r}: {unit.group(2)} is not a unit of this club")
            result.scale[name] = scale
        if name in result.index or name in result.extra:
            raise FormatError(f"column {name!r} appears twice")
        if name in known:
            result.index[name] = position
        elif kind.accepts_extra(name):
            result.extra[name] = position
        else:
            names = ", ".join(c.name for c in kind.columns)
            raise FormatError(f"unknown column {raw!r} (the {kind.name} columns: {names})")
    missing = [c.name for c in kind.columns if c.required and c.name not in result.index]
    if missing:
        raise FormatError(f"missing column(s): {', '.join(missing)}")
    result.warnings.extend(kind.header_warnings(result))
    result.positions = {**result.extra, **result.index}
    return result


class Cells:
    """One row's cells by column name; readers collect problems instead of raising."""

    def __init__(self, row: Sequence[str], header: Header, context: Context) -> None:
        self.row = row
        self.header = header
        self.context = context
        self.problems: list[Problem] = []

    def raw(self, column: str) -> str:
        position = self.header.positions.get(column)
        if position is None or position >= len(self.row):
            return ""
        return self.row[position].strip()

    def get(self, column: str, reader: Callable[[str], T], *, required: bool = False) -> T | None:
        """``reader`` of the cell; None (and a problem when ``required``) if it is empty."""
        position = self.header.positions.get(column)
        text = (
            self.row[position].strip() if position is not None and position < len(self.row) else ""
        )
        if not text:
            if required:
                self.problems.append(Problem(column, "must not be empty"))
            return None
        try:
            return reader(text)
        except FormatError as exc:
            self.problems.append(Problem(column, str(exc)))
            return None

    def amount(self, column: str, *, required: bool = False) -> int | None:
        scale = self.header.scale.get(column, self.context.unit)
        return self.get(column, lambda text: parse_amount(text, scale), required=required)

    def done(self, build: Callable[[], Record]) -> Record:
        """``build()`` when every cell read well.

        Raises:
            RecordError: the problems found.
        """
        if self.problems:
            raise RecordError(self.problems)
        return build()


class Kind:
    """One import format. Subclasses set the class attributes and the four methods."""

    name: ClassVar[str]
    entity: ClassVar[str]
    table: ClassVar[Table]
    key: ClassVar[tuple[str, ...]]
    columns: ClassVar[tuple[Column, ...]]
    #: the table columns a row writes (the key first), in :meth:`to_row` order
    written: ClassVar[tuple[str, ...]]
    #: the table columns that decide "changed" (besides the key)
    compared: ClassVar[tuple[str, ...]]
    #: part of the rule set: publish once after writing
    pricing: ClassVar[bool] = True
    #: compared columns an empty cell leaves as they are (a phone the server never had)
    kept: ClassVar[tuple[str, ...]] = ()
    #: a column whose values must be unique across rows besides the key (:meth:`unique_values`)
    unique: ClassVar[str | None] = None
    #: what a new row gets for a :attr:`kept` column its file left empty
    insert_defaults: ClassVar[Mapping[str, Any]] = {}
    #: columns only the stage has (after :attr:`written` in :meth:`to_row`): name and type
    stage_columns: ClassVar[tuple[tuple[str, TypeEngine[Any]], ...]] = ()
    #: :meth:`after_write` writes rows of another table
    writes_more: ClassVar[bool] = False

    def accepts_extra(self, column: str) -> bool:
        """Whether a column outside :attr:`columns` is read (translations)."""
        return False

    def header_warnings(self, header: Header) -> list[str]:
        return []

    def known(self, conn: Connection) -> Known:
        """What rows of this kind are checked against, from the database."""
        raise NotImplementedError

    def prepare(self, conn: Connection) -> Mapping[str, Any]:
        """Anything :meth:`to_row` needs from the database (:attr:`Context.extra`)."""
        return {}

    def parse(self, cells: Cells) -> Record:
        """The record of one row.

        Raises:
            RecordError: a cell is unreadable.
        """
        raise NotImplementedError

    def to_row(self, record: Any, context: Context) -> tuple[Any, ...]:
        """The values of :attr:`written` for ``record``."""
        raise NotImplementedError

    def on_insert(self, context: Context) -> Mapping[str, Any]:
        """Values a new row gets besides :attr:`written` (never changed by an import)."""
        return {}

    def stamp(self, context: Context) -> Mapping[str, Any]:
        """Values a new or changed row gets (``updated_at``)."""
        return {}

    def unique_values(self, record: Any) -> tuple[str, ...]:
        """The values of :attr:`unique` in ``record`` (none: nothing to check)."""
        return ()

    def touched(self, conn: Connection, stage: Table) -> Iterator[int]:
        """Staged rows that change something besides :attr:`compared` (a product's
        other barcodes): they count as changed and are written."""
        return iter(())

    def after_write(self, conn: Connection, stage: Table, rows: list[int]) -> None:
        """Write what goes beside the table for the staged ``rows`` just written."""

    def conflicts(self, conn: Connection, stage: Table) -> Iterator[tuple[int, Problem]]:
        """Staged rows the database refuses as a whole: (row number, problem)."""
        return iter(())

    def export_header(self, context: Context) -> list[str]:
        """The header an export writes."""
        raise NotImplementedError

    def export_rows(self, conn: Connection, context: Context) -> Iterator[list[str]]:
        """The rows an export writes, as lists of text cells, in key order."""
        raise NotImplementedError

    def export_table(
        self, conn: Connection, context: Context
    ) -> tuple[list[str], Iterator[list[str]]]:
        """Header and rows of an export (re-imports unchanged)."""
        return self.export_header(context), self.export_rows(conn, context)


def percent_text(bp: int | None) -> str:
    """Basis points as a percentage without trailing zeros (1250 -> ``12.5``)."""
    if bp is None:
        return ""
    return f"{bp // 100}.{bp % 100:02d}".rstrip("0").rstrip(".")


def money_text(amount: int | None, scale: int) -> str:
    """``amount`` minor units in units of ``scale``, exactly (``1250.5``), no grouping."""
    if amount is None:
        return ""
    whole, rest = divmod(abs(amount), scale)
    sign = "-" if amount < 0 else ""
    if not rest:
        return f"{sign}{whole}"
    digits = len(str(scale)) - 1
    return f"{sign}{whole}.{str(rest).rjust(digits, '0').rstrip('0')}"

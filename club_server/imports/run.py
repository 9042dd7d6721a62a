"""Running an import: read and check every row, stage them, compare, write once.

:func:`import_table` reads a :class:`~club_server.imports.files.Sheet` row by
row; each row is read into a record (:mod:`clubcore.records`), checked against
what the club knows, against the rows before it (a key or phone twice), and
copied into a temporary *stage* table (COPY on PostgreSQL). Then, in SQL:

1. rows the database refuses as a whole (a phone another member holds) are errors;
2. any error and no ``skip_bad_rows``: nothing is written (the transaction
   rolls back); with it, the bad rows leave the stage and go to the report;
3. the stage is compared with the table: *new* (no such key), *changed* (a
   compared column differs, or what the kind keeps beside it: a product's
   barcodes), *unchanged*;
4. unless ``dry_run``: one change-log entry per new or changed key (in key
   order), one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` of those rows
   (and a product's barcodes in ``product_barcodes``), for the rule set's
   entities one :func:`club_server.rulesets.publish`, and one audit entry
   (:func:`club_server.admin.audit.record_audit`) naming who imported and the
   counts.

Who may import is :func:`club_server.admin.access.require` ``import``: the
command line (an admin), an operator or admin account, an API token of scope
``import``; anyone else is refused before anything is read.

Everything happens in one write transaction; a dry run rolls it back. An
import of the same file twice writes nothing the second time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import record_audit
from club_server.db import Database
from club_server.imports.files import Sheet
from club_server.imports.formats import (
    Cells,
    Context,
    Header,
    Kind,
    clean_name,
    money_units,
    read_header,
)
from club_server.rulesets import publish
from club_server.schema import changes
from club_server.settings import read_settings
from club_server.upserts import put_settings
from clubcore.errors import FormatError
from clubcore.records import Known, Problem, RecordError, problems
from clubcore.settings import PHONE_SALT

__all__ = ["ImportReport", "Progress", "RowError", "export_context", "import_table"]

Progress = Callable[[int, int | None], None]
_BATCH = 20_000
#: how many problems a report lists (its ``errors`` counts them all)
_SHOWN_PROBLEMS = 1_000


@dataclass(frozen=True)
class RowError:
    """A refused row: its number in the file, the column, what is wrong, and its cells."""

    row: int
    column: str
    message: str
    cells: tuple[str, ...] = ()


@dataclass
class ImportReport:
    """What an import found and did."""

    kind: str
    source: str
    encoding: str = ""
    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False
    rules_version: int | None = None
    header: list[str] = field(default_factory=list)
    #: seconds per phase: read (parse, check, stage), compare, write, publish
    timings: dict[str, float] = field(default_factory=dict)

    def error_lines(self, limit: int | None = None) -> list[str]:
        """``FILE:ROW: COLUMN: message`` per error (the first ``limit``)."""
        chosen = self.errors if limit is None else self.errors[:limit]
        return [f"{self.source}:{e.row}: {e.column}: {e.message}" for e in chosen]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "source": self.source, "encoding": self.encoding,
            "rows": self.rows, "new": self.new, "changed": self.changed,
            "unchanged": self.unchanged, "errors": len(self.errors), "written": self.written,
            "rules_version": self.rules_version, "warnings": self.warnings,
            "problems": [{"row": e.row, "column": e.column, "message": e.message}
                         for e in self.errors[:_SHOWN_PROBLEMS]],
        }  # fmt: skip

    def counts(self) -> dict[str, Any]:
        """What the audit log records of an import."""
        return {"source": self.source, "rows": self.rows, "new": self.new,
                "changed": self.changed, "unchanged": self.unchanged,
                "refused": len({e.row for e in self.errors}),
                "rules_version": self.rules_version}  # fmt: skip


class _Rollback(Exception):
    """Ends the write transaction without committing (errors, or a dry run)."""


@dataclass
class _Seen:
    """Keys and unique values already read: value -> the row that had it."""

    keys: dict[str, int] = field(default_factory=dict)
    unique: dict[str, int] = field(default_factory=dict)


def export_context(conn: Connection, kind: Kind, now: datetime, unit: str | None) -> Context:
    """The club's currency, unit and zone (no phone salt: nothing is hashed).

    Raises:
        FormatError: ``unit`` is not a unit of the club's currency.
    """
    settings = read_settings(conn)
    currency = settings.currency
    units = money_units(currency)
    name = unit or ("toman" if currency.display_divisor == 10 and "toman" in units else "major")
    if currency.code == "IRR" and currency.display_divisor == 1 and unit is None:
        name = "rial"
    if name not in units:
        raise FormatError(f"--unit {name}: not a unit of {currency.code} ({', '.join(units)})")
    return Context(currency, units[name], settings.timezone, Known(), now, b"", name)


def _context(conn: Connection, kind: Kind, now: datetime, unit: str | None) -> Context:
    context = export_context(conn, kind, now, unit)
    salt = b""
    if kind.name == "members":
        settings = read_settings(conn)
        if not settings.is_set(PHONE_SALT.key):
            put_settings(conn, {PHONE_SALT.key: secrets.token_bytes(16).hex()})
            settings = read_settings(conn)
        salt = settings.phone_salt
    return replace(context, known=kind.known(conn), phone_salt=salt, extra=kind.prepare(conn))


def _stage_table(kind: Kind) -> Table:
    columns = [Column(c, kind.table.c[c].type) for c in kind.written]
    columns += [Column(name, kind_of) for name, kind_of in kind.stage_columns]
    return Table("import_stage", MetaData(), Column("row_no", Integer), *columns,
                 Column("touched", Integer), prefixes=["TEMPORARY"])  # fmt: skip


def _check(kind: Kind, cells: Cells, known: Known, seen: _Seen, row_no: int) -> Any:
    """The record of a row, or raises RecordError with every problem found."""
    record = kind.parse(cells)
    found = problems(record, known)
    key = record.key
    first = seen.keys.setdefault(key, row_no)
    if first != row_no:
        found.append(Problem(kind.key[-1] if len(kind.key) == 1 else "/".join(kind.key),
                             f"{key} is also on row {first} (a key once per file)"))  # fmt: skip
    for value in kind.unique_values(record):
        holder = seen.unique.setdefault(value, row_no)
        if holder != row_no:
            found.append(Problem(kind.unique or "", f"{value} is also on row {holder}"))
    if found:
        raise RecordError(found)
    return record


def _read_rows(
    sheet: Sheet,
    kind: Kind,
    header: Header,
    context: Context,
    report: ImportReport,
) -> Iterator[tuple[Any, ...]]:
    """Stage rows (``row_no`` first) of the good rows; bad rows go to ``report.errors``."""
    seen = _Seen()
    for row_no, row in sheet.rows:
        report.rows += 1
        try:
            record = _check(kind, Cells(row, header, context), context.known, seen, row_no)
        except RecordError as exc:
            report.errors.extend(RowError(row_no, p.column, p.message, tuple(row))
                                 for p in exc.problems)  # fmt: skip
            continue
        yield (row_no, *kind.to_row(record, context))


def _stage(
    database: Database, conn: Connection, stage: Table, rows: Iterator[tuple[Any, ...]],
    report: ImportReport, progress: Progress | None, total: int | None,
) -> None:  # fmt: skip
    columns = [c.name for c in stage.columns if c.name != "touched"]
    reported = -1
    while batch := list(islice(rows, _BATCH)):
        database.bulk_insert(conn, stage, batch, columns)
        if progress:
            progress(report.rows, total)
            reported = report.rows
    if progress and reported != report.rows:
        progress(report.rows, total)


def _drop_conflicts(conn: Connection, kind: Kind, stage: Table, report: ImportReport) -> None:
    bad: dict[int, Problem] = dict(kind.conflicts(conn, stage))
    if not bad:
        return
    query = select(stage).where(stage.c.row_no.in_(bad))
    staged = {row.row_no: row._mapping for row in conn.execute(query)}
    names = [clean_name(h) for h in report.header]
    cells = {r: tuple(str(m.get(n) or "") for n in names) for r, m in staged.items()}
    for row_no, problem in sorted(bad.items()):
        report.errors.append(RowError(row_no, problem.column, problem.message, cells[row_no]))
    conn.execute(stage.delete().where(stage.c.row_no.in_(bad)))


def _touch(conn: Connection, kind: Kind, stage: Table) -> None:
    rows = list(kind.touched(conn, stage))
    for start in range(0, len(rows), 5_000):
        chosen = rows[start : start + 5_000]
        conn.execute(stage.update().where(stage.c.row_no.in_(chosen)).values(touched=1))


def _pending(kind: Kind, stage: Table) -> Any:
    """Stage rows that are new or differ from the table's row of the same key."""
    table = kind.table
    same_key = [table.c[k] == stage.c[k] for k in kind.key]
    return ~exists().where(*same_key, *[~d for d in _differs(kind, stage)])


def _differs(kind: Kind, stage: Table) -> list[Any]:
    """Per compared column: the stage row would change the table's (an empty cell of a
    :attr:`Kind.kept` column changes nothing)."""
    table = kind.table
    found: list[Any] = [stage.c.touched.is_not(None)]
    for column in kind.compared:
        differs = table.c[column].is_distinct_from(stage.c[column])
        found.append(and_(stage.c[column].is_not(None), differs) if column in kind.kept
                     else differs)  # fmt: skip
    return found


def _count(conn: Connection, kind: Kind, stage: Table, report: ImportReport) -> None:
    table = kind.table
    joined = stage.outerjoin(table, and_(*(table.c[k] == stage.c[k] for k in kind.key)))
    missing = table.c[kind.key[0]].is_(None)
    changed = and_(~missing, or_(*_differs(kind, stage)))
    query = select(
        func.count(),
        func.coalesce(func.sum(case((missing, 1), else_=0)), 0),
        func.coalesce(func.sum(case((changed, 1), else_=0)), 0),
    ).select_from(joined)
    total, new, changed_count = conn.execute(query).one()
    report.new, report.changed = int(new), int(changed_count)
    report.unchanged = int(total) - report.new - report.changed


def _write(conn: Connection, kind: Kind, stage: Table, context: Context, postgres: bool) -> None:
    table, pending = kind.table, _pending(kind, stage)
    keys = [stage.c[k] for k in kind.key]
    key_text = keys[0] if len(keys) == 1 else keys[0] + literal("|") + keys[1]
    conn.execute(changes.insert().from_select(
        ["entity", "key"], select(literal(kind.entity), key_text).where(pending).order_by(*keys)
    ))  # fmt: skip
    more = ([r for (r,) in conn.execute(select(stage.c.row_no).where(pending))]
            if kind.writes_more else [])  # fmt: skip
    stamp = dict(kind.stamp(context))
    extra = {**kind.on_insert(context), **stamp}
    defaults = kind.insert_defaults
    values: list[Any] = [
        func.coalesce(stage.c[c], literal(defaults[c], type_=table.c[c].type)).label(c)
        if c in defaults
        else stage.c[c]
        for c in kind.written
    ]
    values += [literal(v, type_=table.c[k].type).label(k) for k, v in extra.items()]
    insert = (pg_insert if postgres else sqlite_insert)(table)
    statement = insert.from_select(
        [*kind.written, *extra], select(*values).where(pending)
    ).on_conflict_do_update(
        index_elements=[table.c[k] for k in kind.key],
        set_={
            **{c: insert.excluded[c] for c in (*kind.compared, *stamp)},
            **{c: func.coalesce(insert.excluded[c], table.c[c]) for c in kind.kept},
        },
    )
    conn.execute(statement)
    if more:
        kind.after_write(conn, stage, more)


def import_table(
    database: Database, kind: Kind, sheet: Sheet, *, actor: Actor, now: datetime,
    dry_run: bool = False, skip_bad_rows: bool = False, unit: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:  # fmt: skip
    """Import ``sheet`` as rows of ``kind`` for ``actor`` (see the module's docstring).

    Raises:
        RequestRefusedError: 403 forbidden, ``actor`` may not import.
        FormatError: the header does not fit ``kind``, or ``unit`` is not the club's.
    """
    require(actor, Action.IMPORT)
    report = ImportReport(kind.name, sheet.name, sheet.encoding, header=list(sheet.header))
    try:
        with database.writing() as conn:
            _run(database, conn, kind, sheet, report, _Call(actor, now, dry_run, skip_bad_rows,
                                                            unit, progress))  # fmt: skip
    except _Rollback:
        report.written = False
    return report


@dataclass(frozen=True)
class _Call:
    """Who imports, when, and how."""

    actor: Actor
    now: datetime
    dry_run: bool
    skip_bad_rows: bool
    unit: str | None
    progress: Progress | None


def _run(
    database: Database, conn: Connection, kind: Kind, sheet: Sheet, report: ImportReport,
    call: _Call,
) -> None:  # fmt: skip
    now = call.now
    context = _context(conn, kind, now, call.unit)
    header = read_header(kind, sheet.header, context)
    report.warnings.extend(header.warnings)
    stage = _stage_table(kind)
    stage.create(conn)
    clock = _Phases(report)
    rows = _read_rows(sheet, kind, header, context, report)
    _stage(database, conn, stage, rows, report, call.progress, sheet.total)
    _drop_conflicts(conn, kind, stage, report)
    clock.lap("read")
    report.errors.sort(key=lambda e: e.row)
    if report.errors and not call.skip_bad_rows:
        raise _Rollback
    _touch(conn, kind, stage)
    _count(conn, kind, stage, report)
    clock.lap("compare")
    if call.dry_run:
        raise _Rollback
    if report.new or report.changed:
        _write(conn, kind, stage, context, database.is_postgres)
        clock.lap("write")
        if kind.pricing:
            report.rules_version = publish(conn, now)
            clock.lap("publish")
    stage.drop(conn)
    report.written = True
    record_audit(conn, call.actor, now, entity=kind.entity, key=f"import:{report.source}",
                 action="import", before=None, after=report.counts())  # fmt: skip


class _Phases:
    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.report.timings[name] = round(now - self.last, 3)
        self.last = now

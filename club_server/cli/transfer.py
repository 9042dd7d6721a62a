"""Files in and out: ``import`` and ``export`` (``docs/import-formats.md``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

import click

from club_server.admin.access import cli_actor
from club_server.cli.base import as_json_option, cli, db_option, emit_json, handle_errors, opened
from club_server.clock import utc_now
from club_server.imports import KINDS, ImportReport, export_file, import_file, write_rejects

__all__ = ["export_command", "import_command"]

_SHOWN_ERRORS = 50
_KIND = click.Choice(sorted(KINDS))


class _Progress:
    """A progress bar on a terminal; a plain line per batch in a pipe (both on stderr)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int | None) -> None:
        if not self.tty:
            of = f"/{total}" if total else ""
            click.echo(f"{self.label}: {done}{of} rows read", err=True)
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total or done, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _summary(report: ImportReport, dry_run: bool) -> str:
    counts = (f"{report.kind}: {report.rows} rows: {report.new} new, {report.changed} changed, "
              f"{report.unchanged} unchanged, {len(report.errors)} with errors")  # fmt: skip
    if report.written and not report.new + report.changed:
        return f"{counts}; nothing to write"
    if report.written:
        version = f" (rules version {report.rules_version})" if report.rules_version else ""
        return f"{counts}; written{version}"
    if dry_run and not (report.errors and report.new + report.changed + report.unchanged == 0):
        return f"{counts}; dry run: nothing written"
    return f"{counts}; nothing written"


def _rejects_path(file: str, rejects: Path | None) -> Path:
    if rejects is not None:
        return rejects
    if file == "-":
        return Path("import-rejects.csv")
    return Path(file).with_suffix(".rejects" + Path(file).suffix)


def _report_errors(report: ImportReport) -> None:
    for line in report.error_lines(_SHOWN_ERRORS):
        click.echo(f"error: {line}", err=True)
    if len(report.errors) > _SHOWN_ERRORS:
        click.echo(f"error: ... and {len(report.errors) - _SHOWN_ERRORS} more", err=True)


@cli.command("import")
@click.argument("kind", type=_KIND)
@click.argument("file")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--skip-bad-rows", is_flag=True,
              help="Write the good rows; write the bad ones to the rejects file.")  # fmt: skip
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="Where refused rows go [default: FILE.rejects.csv].")  # fmt: skip
@click.option("--encoding", help="The CSV's encoding [default: UTF-8 (BOM or not), else cp1256].")
@click.option("--unit", help="Money columns without a unit are in: rial, toman, minor, major "
              "[default: the club's display unit].")  # fmt: skip
@click.option("--sheet", help="The XLSX sheet [default: the first].")
@db_option
@as_json_option
@handle_errors
def import_command(
    kind: str, file: str, dry_run: bool, skip_bad_rows: bool, rejects: Path | None,
    encoding: str | None, unit: str | None, sheet: str | None, db_url: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Import KIND rows from FILE (CSV or XLSX; - for standard input), by key.

    Any bad row and nothing is written, unless --skip-bad-rows. Each error
    names the file, the row and the column.
    """
    progress = _Progress(f"{kind}")
    try:
        with opened(db_url) as database:
            report = import_file(database, kind, file, actor=cli_actor(), now=utc_now(),
                                 dry_run=dry_run,
                                 skip_bad_rows=skip_bad_rows, encoding=encoding, unit=unit,
                                 sheet=sheet, progress=progress)  # fmt: skip
    finally:
        progress.close()
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    _report_errors(report)
    if report.errors and skip_bad_rows:
        path = _rejects_path(file, rejects)
        with path.open("wb") as target:
            write_rejects(report, target, xlsx=path.suffix.lower() == ".xlsx")
        click.echo(
            f"{len({e.row for e in report.errors})} refused rows written to {path}", err=True
        )
    emit_json(report.as_dict()) if as_json else click.echo(_summary(report, dry_run))
    if report.errors and not skip_bad_rows:
        sys.exit(1)


@cli.command("export")
@click.argument("kind", type=_KIND)
@click.argument("file", default="-")
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx"]),
              help="[default: from FILE's extension, else csv]")  # fmt: skip
@click.option("--unit", help="Money columns in: rial, toman, minor, major [default: the club's].")
@db_option
@handle_errors
def export_command(
    kind: str, file: str, file_format: str | None, unit: str | None, db_url: str | None
) -> None:
    """Export every KIND row to FILE (- for standard output) in its import format."""
    xlsx = (file_format or Path(file).suffix.lower().lstrip(".")) == "xlsx"
    with opened(db_url) as database:
        if file == "-":
            count = _export(database, kind, sys.stdout.buffer, xlsx, unit)
        else:
            with Path(file).open("wb") as target:
                count = _export(database, kind, target, xlsx, unit)
    click.echo(f"{kind}: {count} rows exported", err=True)


def _export(database: Any, kind: str, target: IO[bytes], xlsx: bool, unit: str | None) -> int:
    return export_file(database, kind, target, xlsx=xlsx, unit=unit, now=utc_now())

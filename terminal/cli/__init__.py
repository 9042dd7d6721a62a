"""``club-terminal``: the terminal's command line, for technicians and scripts.

One click group (:mod:`terminal.cli.base`); one function per command, grouped
by subject in the modules below; every command has ``--help``. The global
``--data-dir`` (or ``$CLUB_TERMINAL_DATA_DIR``) says where the terminal keeps
its data. Errors meant for people (unknown SKU, wrong PIN, a malformed
``--item``) print one clear line on stderr and exit with status 1; nothing is
written.
"""

from __future__ import annotations

from terminal.cli import (
    app,
    cards,
    closing,
    data,
    doctor,
    lifecycle,
    receipts,
    reports,
    sales,
    shifts,
    staff,
    sync,
)
from terminal.cli.base import cli

__all__ = [
    "app",
    "cards",
    "cli",
    "closing",
    "data",
    "doctor",
    "lifecycle",
    "main",
    "receipts",
    "reports",
    "sales",
    "shifts",
    "staff",
    "sync",
]


def main() -> None:
    """Console-script entry point."""
    cli(obj={})

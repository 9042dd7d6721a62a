"""The ``club-server`` command: one click group, one function per command.

=====================================  ===============================================
command                                what it does
=====================================  ===============================================
``serve [--host] [--port]``            run the sync API (uvicorn)
``demo-data [--members] [--products]`` the demo store, with signed demo cards
``member add`` / ``member show``       add a member; show one with balance and cards
``terminal add --store`` / ``revoke``  a new terminal and its one-time code; revoke one
``terminal list [--store] [--json]``   every terminal: enrolled, revoked, version, last push
``card issue`` / ``card revoke``       sign a card (NDEF hex + QR text); denylist one
``keys generate|rotate|retire|list``   the club's signing keys
``report daily --store``               the store-wide daily report
``flags [--kind]``                     incidents first; balances, conflicts, held sales
``suspense list|release|discard``      points held in suspense (unknown members, held)
``settings show|set``                  the club's settings (checked; lanes get changes)
``db upgrade|current|history``         the database's schema (Alembic revisions)
``account`` / ``token`` / ``audit``     accounts and roles, API tokens, the audit log
``store add|set|list``                 stores, their names and time zones
``category`` / ``product``             the catalog, with translations and barcodes
``price`` / ``discount``               member prices and category percentages per tier
``offer set|enable|disable|list``      offers
``tiers set|retire|list``              tiers (``tiers recompute``: re-derive members')
``member search|update|merge|history`` members in the back office
``import KIND FILE [--dry-run]``       products, prices, offers, members from CSV/XLSX
``export KIND [FILE]``                 the same formats out (re-import unchanged)
=====================================  ===============================================

Every command takes ``--db URL`` (or ``CLUB_SERVER_DB``).
"""

from __future__ import annotations

from club_server.cli import accounts, admin, catalog, database, ops, settings, transfer
from club_server.cli.base import cli

__all__ = [
    "accounts",
    "admin",
    "catalog",
    "cli",
    "database",
    "main",
    "ops",
    "settings",
    "transfer",
]


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="club-server")

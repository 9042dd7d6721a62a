"""The terminal's settings table: reading it whole as typed settings, and writing rows.

What each key means, who owns it, its default and its parser are defined once
in :mod:`clubcore.settings`; this module only moves rows in and out of the
lane's ``settings`` table. Read with :func:`read_settings` once per use site
and take typed values from the :class:`~clubcore.settings.Settings` it returns.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlite_utils

from clubcore.settings import Settings

__all__ = ["put_settings", "read_settings"]


def read_settings(db: sqlite_utils.Database) -> Settings:
    """Every setting, as one typed object (see :mod:`clubcore.settings`)."""
    rows = db.execute("SELECT key, value FROM settings").fetchall()
    return Settings({str(key): str(value) for key, value in rows})


def put_settings(db: sqlite_utils.Database, values: Mapping[str, object]) -> None:
    """Set several settings at once (in the caller's transaction, if any)."""
    with db.atomic():
        for key, value in values.items():
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, str(value)],
            )

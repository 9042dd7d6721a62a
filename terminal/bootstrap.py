"""The one place that wires a terminal: store, clock, identity and services.

The Kivy app, the CLI and the tests all call :func:`bootstrap`; tests pass a
fixed clock or their own data directory, nothing else differs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import platformdirs
import sqlite_utils

from clubcore.errors import ConfigError
from clubcore.money import Currency
from clubcore.settings import Settings
from offline_store.db import DB_FILENAME, Checkpointer, open_db
from offline_store.settings import read_settings
from terminal.checkout import Checkout

__all__ = ["DATA_DIR_ENV", "Clock", "Terminal", "bootstrap", "default_data_dir"]

#: environment variable naming the data directory
DATA_DIR_ENV = "CLUB_TERMINAL_DATA_DIR"

Clock = Callable[[], datetime]


def default_data_dir() -> Path:
    """``$CLUB_TERMINAL_DATA_DIR``, else the per-user data directory."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(platformdirs.user_data_dir("club-terminal"))


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Terminal:
    """A wired terminal. Open one per thread that touches the database."""

    data_dir: Path
    db: sqlite_utils.Database
    clock: Clock
    checkpointer: Checkpointer | None = None

    @property
    def settings(self) -> Settings:
        """Every setting, read now (:mod:`clubcore.settings`); read once per use."""
        return read_settings(self.db)

    @property
    def terminal_id(self) -> str:
        return self.settings.terminal_id

    @property
    def store_id(self) -> str:
        return self.settings.store_id

    @cached_property
    def currency(self) -> Currency:
        """The club's currency and display unit (ConfigError when malformed)."""
        return self.settings.currency

    @cached_property
    def timezone(self) -> ZoneInfo:
        """The stores' time zone (ConfigError when unknown)."""
        return self.settings.timezone

    def local_now(self) -> datetime:
        return self.clock().astimezone(self.timezone)

    def checkout(self) -> Checkout:
        """A new, empty checkout session on this terminal."""
        return Checkout(self)

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.db.close()


def bootstrap(
    data_dir: str | Path | None = None,
    *,
    clock: Clock | None = None,
    background_checkpoints: bool = False,
) -> Terminal:
    """Open the terminal in ``data_dir`` (created if needed), migrating its database.

    Arguments:
        data_dir: where the terminal keeps its data [default: :func:`default_data_dir`].
        clock: returns the current time, timezone-aware [default: the system clock, UTC].
        background_checkpoints: for long-running terminals (the app, benchmarks):
            move WAL checkpoints off the commit path (:class:`Checkpointer`).

    Raises:
        ConfigError: the data directory cannot be created or written.
        StoreError: the database cannot be opened.
    """
    path = Path(data_dir) if data_dir is not None else default_data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError("data_dir", f"cannot create {path}: {exc.strerror}") from exc
    db = open_db(path / DB_FILENAME)
    terminal = Terminal(data_dir=path, db=db, clock=clock or utc_now)
    if background_checkpoints:
        terminal.checkpointer = Checkpointer(path / DB_FILENAME)
        terminal.checkpointer.start(db)
    return terminal

"""Shared fixtures: a real terminal on a real SQLite file, with a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from offline_store.db import open_db
from terminal.bootstrap import Terminal, bootstrap
from terminal.demo_data import seed
from tests.pcsc_stack import insert, pcscd  # noqa: F401  (the real PC/SC stack, for every test)

#: 09:30 UTC is 13:00 in Tehran
FIXED_NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


class FixedClock:
    """A clock tests can move."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "terminal.db"


@pytest.fixture
def fresh_db(db_path: Path) -> Iterator[sqlite_utils.Database]:
    db = open_db(db_path)
    yield db
    db.close()


@pytest.fixture
def empty_terminal(tmp_path: Path, clock: FixedClock) -> Iterator[Terminal]:
    terminal = bootstrap(tmp_path / "data", clock=clock)
    yield terminal
    terminal.close()


@pytest.fixture
def terminal(empty_terminal: Terminal, clock: FixedClock) -> Terminal:
    """A terminal seeded with a small demo store (200 members, 120 products)."""
    seed(empty_terminal.db, members=200, products=120, now=clock())
    return empty_terminal

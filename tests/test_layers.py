"""The layers import what the design allows them to, checked in fresh interpreters."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import club_server
import clubcore
import offline_store
import sync
import terminal.readers
import terminal.receipts

LAYERS = {
    # package: modules it must never import (directly or through others)
    # the domain core may use pydantic (the wire models) but no I/O library or upper layer
    "clubcore": [
        "kivy",
        "requests",
        "sqlite_utils",
        "sqlite3",
        "sqlalchemy",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "urllib3",
        "psycopg",
        "terminal",
        "sync",
        "offline_store",
        "club_server",
    ],
    "offline_store": ["kivy", "requests", "fastapi", "sqlalchemy", "terminal", "sync"],
    "terminal.readers": ["kivy", "requests", "fastapi", "sqlalchemy", "sync", "club_server"],
    "sync": ["kivy", "fastapi", "sqlalchemy", "club_server", "terminal.ui"],
    "club_server": ["kivy", "terminal", "offline_store", "sync", "requests"],
    # receipts print from the CLI too: no Kivy, no network client, no server
    "terminal.receipts": ["kivy", "requests", "fastapi", "sqlalchemy", "sync", "club_server"],
}
PACKAGES = {
    "clubcore": clubcore,
    "offline_store": offline_store,
    "terminal.readers": terminal.readers,
    "terminal.receipts": terminal.receipts,
    "sync": sync,
    "club_server": club_server,
}


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_layer_imports_only_what_it_may(package: str) -> None:
    modules = [package] + [
        f"{package}.{m.name}" for m in pkgutil.iter_modules(PACKAGES[package].__path__)
    ]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    for banned in LAYERS[package]:
        code += (
            f"assert not [m for m in sys.modules if m == {banned!r} or "
            f"m.startswith({banned + '.'!r})], {banned!r}\n"
        )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]

"""A full disk, for real: the terminal's data on a small tmpfs, filled up.

``club-terminal sale`` (and ``sync``) must end in one ``error:`` line with a
hint and exit status 74 (a data problem), record nothing, and the next sale
after space is freed must work. Needs root (to mount); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.cli.base import EXIT_DATA

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or sys.platform != "linux", reason="mounting a tmpfs needs root"
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def club_terminal(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "terminal", "--data-dir", str(data_dir), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def fill(disk: Path) -> Path:
    """Fill the file system up (a filler file grown until ENOSPC)."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        block = b"\0" * (1 << 16)
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError:
            pass
    return filler


def count(data_dir: Path, table: str) -> int:
    db = sqlite3.connect(data_dir / "terminal.db")
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


def test_a_sale_on_a_full_disk_ends_in_clear_words(small_disk: Path) -> None:
    data_dir = small_disk / "lane"
    seeded = club_terminal(data_dir, "demo-data", "--members", "200", "--products", "120")
    assert seeded.returncode == 0, seeded.stderr
    db = sqlite3.connect(data_dir / "terminal.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no WAL space left over to write into
    db.close()
    sales, outbox = count(data_dir, "sales"), count(data_dir, "outbox")
    filler = fill(small_disk)

    full = club_terminal(data_dir, "sale", "--item", "P000001:2")
    assert full.returncode == EXIT_DATA, full.stderr
    lines = full.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and "is full" in lines[0], full.stderr
    assert any(line.startswith("hint: ") and "free some space" in line for line in lines), lines
    assert "Traceback" not in full.stderr

    filler.unlink()
    assert (count(data_dir, "sales"), count(data_dir, "outbox")) == (sales, outbox)
    again = club_terminal(data_dir, "sale", "--item", "P000001:2", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sale"]["sale_id"]
    assert (count(data_dir, "sales"), count(data_dir, "outbox")) == (sales + 1, outbox + 1)


def test_record_sale_maps_a_full_disk_and_rolls_back(small_disk: Path) -> None:
    from clubcore.errors import StoreFullError
    from terminal.bootstrap import bootstrap
    from terminal.demo_data import seed

    terminal = bootstrap(small_disk / "lane")
    try:
        seed(terminal.db, members=50, products=30, now=terminal.clock())
        terminal.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sales = count(terminal.data_dir, "sales")
        checkout = terminal.checkout()
        checkout.add("P000001")
        filler = fill(small_disk)
        with pytest.raises(StoreFullError) as caught:
            checkout.complete("cash")
        assert caught.value.hint and "free some space" in caught.value.hint
        filler.unlink()
        assert count(terminal.data_dir, "sales") == sales
        retry = terminal.checkout()
        retry.add("P000001")
        retry.complete("cash")
        assert count(terminal.data_dir, "sales") == sales + 1
    finally:
        terminal.close()


@pytest.fixture
def read_only_view(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a writable data directory, the same directory through a read-only bind mount)."""
    source, view = tmp_path / "lane", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    done = subprocess.run(["mount", "--bind", str(source), str(view)], check=False)
    if done.returncode:
        pytest.skip("cannot bind-mount")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        yield source, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def test_a_read_only_data_directory_is_named_as_such(read_only_view: tuple[Path, Path]) -> None:
    source, view = read_only_view
    seeded = club_terminal(source, "demo-data", "--members", "50", "--products", "30")
    assert seeded.returncode == 0, seeded.stderr
    sales = count(source, "sales")

    doctor = club_terminal(view, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["database"]["status"] == "fail"
    assert "not writable (a read-only file system)" in checks["database"]["detail"]
    assert "damaged" not in checks["database"]["detail"]

    sale = club_terminal(view, "sale", "--item", "P000001")
    assert sale.returncode == EXIT_DATA, sale.stderr
    assert sale.stderr.startswith("error: "), sale.stderr
    assert "cannot be written (a read-only file system)" in sale.stderr
    assert "hint: " in sale.stderr and "Traceback" not in sale.stderr
    assert count(source, "sales") == sales

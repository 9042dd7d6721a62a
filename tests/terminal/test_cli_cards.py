"""The card commands, end to end: demo cards, the sim reader and the real PC/SC stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from terminal import demo_cards
from terminal.cli import cli
from tests.pcsc_stack import READER
from tests.readers.vpcd import Ntag215, VirtualCard


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], obj={})


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("cards") / "data"
    result = run(data_dir, "demo-data", "--members", "300", "--products", "60")
    assert result.exit_code == 0, result.output
    return data_dir


def load_cards(data_dir: Path) -> dict[str, demo_cards.DemoCard]:
    return {c.label: c for c in demo_cards.load(data_dir / demo_cards.DEMO_CARDS_FILE)}


@pytest.mark.parametrize("label", ["gold", "vip", "qr-gold", "uid-only", "unsynced"])
def test_read_accepts_valid_demo_cards(seeded: Path, label: str) -> None:
    result = run(seeded, "read", "--demo-card", label, "--json", "--timeout", "5")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["accepted"] is True
    assert data["member_no"] == load_cards(seeded)[label].member_no
    assert data["flagged_unsynced"] is (label == "unsynced")


@pytest.mark.parametrize(
    "label", ["expired", "revoked", "forged", "cloned", "copied-uid", "unknown-key", "stranger"]
)
def test_read_refuses_bad_cards_with_the_reason_and_exit_3(seeded: Path, label: str) -> None:
    result = run(seeded, "read", "--demo-card", label, "--json", "--timeout", "5")
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["accepted"] is False
    assert data["reason"] == load_cards(seeded)[label].expect
    assert data["message"]


def test_read_times_out_with_exit_4(seeded: Path) -> None:
    result = run(seeded, "read", "--reader", "sim", "--timeout", "0.3")
    assert result.exit_code == 4
    assert "no card within 0.3 s" in result.stderr


def test_read_rejects_an_unknown_reader_path_clearly(seeded: Path) -> None:
    result = run(seeded, "read", "--reader", "bluetooth:foo", "--timeout", "1")
    assert result.exit_code == 1
    assert "unknown reader path 'bluetooth:foo'" in result.stderr


def test_read_a_signed_card_through_pcscd(
    seeded: Path, insert: Callable[[VirtualCard], VirtualCard]
) -> None:
    gold = load_cards(seeded)["gold"]
    tag = Ntag215(bytes.fromhex(gold.ndef or ""), uid=bytes.fromhex(gold.uid or ""))
    env = {**os.environ, "CLUB_TERMINAL_DATA_DIR": str(seeded)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "terminal",
            "read",
            "--reader",
            f"pcsc:{READER}",
            "--json",
            "--timeout",
            "20",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the reader reports ready before the card is presented
            if "ready" in line:
                break
        insert(tag)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert (data["accepted"], data["member_no"], data["tier"]) == (True, gold.member_no, "gold")
    assert data["kind"] == "nfc-type2" and data["strength"] == "signed"
    assert data["uid"] == gold.uid


def test_card_write_then_read_through_pcscd(
    seeded: Path, insert: Callable[[VirtualCard], VirtualCard]
) -> None:
    gold = load_cards(seeded)["gold"]
    blank = Ntag215(uid=bytes.fromhex(gold.uid or ""))
    insert(blank)
    result = run(
        seeded,
        "card",
        "write",
        "--reader",
        f"pcsc:{READER}",
        "--ndef",
        gold.ndef or "",
        "--expect-uid",
        gold.uid or "",
    )
    assert result.exit_code == 0, result.output
    assert "read back and verified" in result.stdout
    assert bytes(blank.memory[16 : 16 + 2 + len(gold.ndef or "") // 2])[2:] == bytes.fromhex(
        gold.ndef or ""
    )
    wrong = run(
        seeded,
        "card",
        "write",
        "--reader",
        f"pcsc:{READER}",
        "--ndef",
        gold.ndef or "",
        "--expect-uid",
        "04000000000000",
    )
    assert wrong.exit_code == 1 and "error:" in wrong.stderr


def test_card_write_validates_its_input(seeded: Path) -> None:
    result = run(seeded, "card", "write", "--reader", "sim", "--ndef", "zz")
    assert result.exit_code == 1 and "hexadecimal" in result.stderr
    result = run(seeded, "card", "write", "--reader", "sim", "--ndef", "d1")
    assert result.exit_code == 1 and "needs a pcsc: or nfc: reader" in result.stderr


def test_readers_lists_the_virtual_pcsc_readers(seeded: Path, pcscd: object) -> None:
    result = run(seeded, "readers", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert f"pcsc:{READER}" in data["pcsc"]["readers"]
    assert data["nfc"]["devices"] == []  # no USB readers on this machine

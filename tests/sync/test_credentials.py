from __future__ import annotations

import stat
from pathlib import Path

import pytest

from clubcore.errors import ConfigError
from sync.credentials import CREDENTIAL_FILENAME, Credential, load_credential, save

CRED = Credential("https://club.example", "T1", "S1", "T1.very-secret")


def test_saved_with_mode_0600_and_read_back(tmp_path: Path) -> None:
    path = save(tmp_path, CRED)
    assert path == tmp_path / CREDENTIAL_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credential(tmp_path) == CRED
    save(tmp_path, Credential("https://club.example", "T2", "S1", "T2.other"))
    assert load_credential(tmp_path).terminal_id == "T2"
    assert not list(tmp_path.glob("*.tmp"))


def test_the_secret_is_not_in_repr_or_str(tmp_path: Path) -> None:
    assert "very-secret" not in repr(CRED) and "very-secret" not in str(CRED)


def test_a_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = save(tmp_path, CRED)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="may be read by others") as info:
        load_credential(tmp_path)
    assert info.value.hint and "chmod 600" in info.value.hint


def test_missing_or_malformed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not provisioned") as info:
        load_credential(tmp_path)
    assert info.value.hint and "provision" in info.value.hint
    path = tmp_path / CREDENTIAL_FILENAME
    path.write_text('{"terminal_id": "T1"}')
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="malformed"):
        load_credential(tmp_path)

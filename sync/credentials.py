"""The terminal's credential: a file in the data directory, readable only by its user.

Enrollment (:mod:`sync.enroll`) returns ``<terminal_id>.<secret>`` once; it is
written to ``credential.json`` in the data directory, created with mode 0600
(written to a temporary file of the same mode, then renamed, so a crash
leaves the old file or the new one). The server URL, terminal id and store id
sit beside it (they are also settings; they are not secret). A file that
others may read is refused. The secret never appears in a message, a log
line or ``repr()``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from clubcore.errors import ConfigError
from clubcore.logs import register_secret

__all__ = ["CREDENTIAL_FILENAME", "Credential", "load_credential", "save"]

CREDENTIAL_FILENAME = "credential.json"


@dataclass(frozen=True, slots=True)
class Credential:
    """Who this terminal is to the club server, and its secret."""

    server_url: str
    terminal_id: str
    store_id: str
    token: str = field(repr=False)

    def __post_init__(self) -> None:
        register_secret(self.token)  # never in a log line, whoever logs what

    def __str__(self) -> str:
        return f"terminal {self.terminal_id} of store {self.store_id} at {self.server_url}"


def save(data_dir: Path, credential: Credential) -> Path:
    """Write the credential to ``data_dir/credential.json`` with mode 0600.

    Arguments:
        data_dir: the terminal's data directory (must exist).
        credential: what enrollment returned.

    Returns:
        the file's path.

    Raises:
        ConfigError: the file cannot be written.
    """
    path = data_dir / CREDENTIAL_FILENAME
    tmp = path.with_name(path.name + ".tmp")
    payload = {
        "server_url": credential.server_url,
        "terminal_id": credential.terminal_id,
        "store_id": credential.store_id,
        "credential": credential.token,
    }
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(payload, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError("credential", f"cannot write {path}: {exc.strerror}") from exc
    return path


def load_credential(data_dir: Path) -> Credential:
    """The credential saved in ``data_dir``.

    Raises:
        ConfigError: there is none (the terminal is not provisioned), others
            may read the file, or it is malformed.
    """
    path = data_dir / CREDENTIAL_FILENAME
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            "credential",
            f"{path} does not exist: this terminal is not provisioned",
            hint="run 'club-terminal provision --server URL --code CODE'",
        ) from None
    except OSError as exc:
        raise ConfigError("credential", f"cannot read {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            "credential", f"{path} may be read by others", hint=f"run 'chmod 600 {path}'"
        )
    try:
        data = json.loads(text)
        return Credential(
            server_url=_text(data, "server_url"),
            terminal_id=_text(data, "terminal_id"),
            store_id=_text(data, "store_id"),
            token=_text(data, "credential"),
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError("credential", f"{path} is malformed") from exc


def _text(data: object, key: str) -> str:
    if not isinstance(data, dict) or not isinstance(data.get(key), str) or not data[key]:
        raise ValueError(f"{key} missing")
    return str(data[key])

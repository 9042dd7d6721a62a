"""The club's card-signing keys: Ed25519 private keys in files, public keys in ``card_keys``.

A private key is a file ``club-key-<id>-<first 16 hex digits of its public
key>.ed25519`` holding the 32-byte seed in hex, created with mode 0600 in a
keys directory of mode 0700 (next to a SQLite database by default). The
database holds only public keys; each is a change terminals pull.

Rotation: ``rotate`` makes a new key the signing key; older keys stay valid
for verification (``retired_at`` null) until ``retire`` is called for them,
after which terminals refuse cards signed by them.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url

from club_server.clock import iso
from club_server.db import Database
from club_server.schema import card_keys
from club_server.upserts import upsert
from clubcore.cardformat import (
    MAX_KEY_ID,
    generate_private_key,
    private_key_from_seed,
    private_key_seed,
    public_key_bytes,
)
from clubcore.errors import ConfigError, FormatError, NotFoundError

__all__ = [
    "default_keys_dir",
    "generate_key",
    "key_path",
    "list_keys",
    "retire_key",
    "rotate_key",
    "signing_key",
]


def default_keys_dir(database: Database) -> Path:
    """``keys/`` next to a SQLite file; else a directory of this database's own in the
    per-user data directory, ``keys/<host>-<port>-<database>`` (never one shared by
    every PostgreSQL database on the machine). Production names its own
    (``CLUB_SERVER_KEYS``)."""
    path = database.sqlite_path
    if path is not None:
        return path.parent / "keys"
    url = make_url(database.url)
    name = f"{url.host or 'local'}-{url.port or 5432}-{url.database or 'default'}"
    return _LEGACY_DIR / re.sub(r"[^A-Za-z0-9_.-]", "_", name)


#: where keys of every PostgreSQL database went before (read, never written, for their files)
_LEGACY_DIR = Path(platformdirs.user_data_dir("club-server")) / "keys"


def key_path(keys_dir: Path, key_id: int, public_hex: str) -> Path:
    """Where the private key of ``key_id`` with this public key lives."""
    return keys_dir / f"club-key-{key_id}-{public_hex[:16]}.ed25519"


def _write_private(keys_dir: Path, key_id: int, key: Ed25519PrivateKey) -> Path:
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_path(keys_dir, key_id, public_key_bytes(key).hex())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("keys", f"{path} exists already; not overwriting a key") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(private_key_seed(key).hex() + "\n")
    return path


def _has_signing_key(conn: Connection) -> bool:
    query = select(card_keys.c.key_id).where(card_keys.c.signing == 1)
    return conn.execute(query).first() is not None


def generate_key(conn: Connection, keys_dir: Path, now: datetime) -> tuple[int, Path]:
    """Create the club's first signing key.

    Raises:
        ConfigError: a signing key exists already (use :func:`rotate_key`).
    """
    if _has_signing_key(conn):
        raise ConfigError("keys", "a signing key exists already", hint="use 'keys rotate'")
    return rotate_key(conn, keys_dir, now)


def rotate_key(conn: Connection, keys_dir: Path, now: datetime) -> tuple[int, Path]:
    """Create a new signing key; older keys stop signing but still verify.

    Returns:
        the new key id and its private key file.

    Raises:
        ConfigError: every key id is used, or the key file exists already.
    """
    key_id = int(conn.execute(select(func.max(card_keys.c.key_id))).scalar() or 0) + 1
    if key_id > MAX_KEY_ID:
        raise ConfigError("keys", f"key ids are 1..{MAX_KEY_ID}; all are used")
    key = generate_private_key()
    path = _write_private(keys_dir, key_id, key)
    conn.execute(card_keys.update().where(card_keys.c.signing == 1).values(signing=0))
    upsert(
        conn,
        "card_keys",
        {
            "key_id": key_id,
            "public_key": public_key_bytes(key).hex(),
            "retired_at": None,
            "created_at": iso(now),
            "signing": 1,
        },
    )
    return key_id, path


def retire_key(conn: Connection, key_id: int, now: datetime) -> None:
    """Retire a key: terminals refuse cards signed with it from now on.

    Raises:
        NotFoundError: no such key.
    """
    query = select(card_keys.c.key_id).where(card_keys.c.key_id == key_id)
    if conn.execute(query).first() is None:
        raise NotFoundError(f"no card key {key_id}")
    upsert(conn, "card_keys", {"key_id": key_id, "retired_at": iso(now), "signing": 0})


def signing_key(conn: Connection, keys_dir: Path) -> tuple[int, Ed25519PrivateKey]:
    """The current signing key id and its private key, from its file.

    Raises:
        ConfigError: no signing key, or its file is missing or does not match.
    """
    row = conn.execute(
        select(card_keys.c.key_id, card_keys.c.public_key).where(card_keys.c.signing == 1)
    ).first()
    if row is None:
        raise ConfigError("keys", "the club has no signing key", hint="run 'keys generate'")
    path = key_path(keys_dir, row.key_id, row.public_key)
    legacy = key_path(_LEGACY_DIR, row.key_id, row.public_key)
    if not path.exists() and keys_dir.parent == _LEGACY_DIR and legacy.exists():
        path = legacy  # written by an older version into the shared directory; the name is exact
    try:
        key = private_key_from_seed(bytes.fromhex(path.read_text().strip()))
    except (OSError, ValueError, FormatError) as exc:
        raise ConfigError("keys", f"cannot read the private key {path}: {exc}") from exc
    if public_key_bytes(key).hex() != row.public_key:
        raise ConfigError("keys", f"{path} does not hold the key registered as {row.key_id}")
    return int(row.key_id), key


def list_keys(conn: Connection) -> list[dict[str, Any]]:
    """Every key: id, public key (hex), created, signing, retired."""
    query = select(card_keys).order_by(card_keys.c.key_id)
    return [dict(row._mapping) for row in conn.execute(query)]

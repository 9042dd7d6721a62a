"""The offline store as the card verifier's directory: keys, denylist, members.

:class:`StoreCardDirectory` implements :class:`terminal.verifier.CardDirectory`
structurally (the store does not import the terminal). UIDs are stored as
upper-case hex; card serials as decimal text.
"""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from clubcore.identity import e164_lookup_key
from clubcore.member import MemberSummary, UidCard
from clubcore.originality import OriginalityPolicy
from offline_store.settings import read_settings

__all__ = ["StoreCardDirectory", "add_public_key", "revoke_card"]


class StoreCardDirectory:
    """Card keys, the denylist and members, read from the terminal's database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def public_key(self, key_id: int) -> bytes | None:
        row = self.db.execute(
            "SELECT public_key FROM card_keys WHERE key_id = ? AND retired_at IS NULL", [key_id]
        ).fetchone()
        return bytes(row[0]) if row else None

    def is_revoked(self, serial: int) -> bool:
        row = self.db.execute("SELECT 1 FROM denylist WHERE serial = ?", [str(serial)]).fetchone()
        return row is not None

    def is_uid_revoked(self, uid: bytes) -> bool:
        row = self.db.execute("SELECT 1 FROM denylist WHERE uid = ?", [uid.hex().upper()])
        return row.fetchone() is not None

    def member(self, member_no: str) -> MemberSummary | None:
        row = self.db.execute(
            "SELECT member_no, display_name, tier FROM members "
            "WHERE member_no = ? AND status = 'active'",
            [member_no],
        ).fetchone()
        return MemberSummary(*row) if row else None

    def card_for_uid(self, uid: bytes) -> UidCard | None:
        # a signed card first: its UID must never identify anyone on its own
        row = self.db.execute(
            "SELECT member_no, kind FROM cards WHERE uid = ? ORDER BY kind = 'uid-only' LIMIT 1",
            [uid.hex().upper()],
        ).fetchone()
        return UidCard(str(row[0]), row[1] == "uid-only") if row else None

    def originality_policy(self) -> OriginalityPolicy:
        """The club's ``cards.*`` settings.

        Raises:
            ConfigError: a stored key is malformed.
        """
        return read_settings(self.db).originality_policy

    def member_for_phone(self, e164: str) -> str | None:
        salt = read_settings(self.db).phone_salt
        row = self.db.execute(
            "SELECT member_no FROM members WHERE phone_hash = ? LIMIT 1",
            [e164_lookup_key(e164, salt)],
        ).fetchone()
        return str(row[0]) if row else None


def add_public_key(db: sqlite_utils.Database, key_id: int, public_key: bytes) -> None:
    """Trust ``public_key`` for cards signed under ``key_id``."""
    with db.atomic():
        db.execute(
            "INSERT INTO card_keys (key_id, public_key) VALUES (?, ?) ON CONFLICT (key_id) "
            "DO UPDATE SET public_key = excluded.public_key, retired_at = NULL",
            [key_id, public_key],
        )


def revoke_card(
    db: sqlite_utils.Database, serial: int, uid: bytes | None, reason: str, now: datetime
) -> None:
    """Put a card on the denylist (lost, stolen, replaced)."""
    with db.atomic():
        db.execute(
            "INSERT OR REPLACE INTO denylist (serial, uid, reason, listed_at) VALUES (?, ?, ?, ?)",
            [str(serial), uid.hex().upper() if uid else None, reason, now.isoformat()],
        )

"""Issuing and revoking membership cards (signed with the club's current key).

``issue_card`` signs the card for a chip UID (the NDEF message to write with
``club-terminal card write``) and, with the same serial, a printed QR form
signed over an empty UID. ``revoke_card`` puts the serial on the denylist.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Connection, cast, func, select

from club_server.clock import iso
from club_server.counters import next_value
from club_server.keys import signing_key
from club_server.schema import cards, members
from club_server.upserts import upsert
from clubcore.cardformat import CardFields, encode_ndef, encode_text
from clubcore.cardformat import issue_card as sign
from clubcore.errors import FormatError, NotFoundError, UnknownMemberError
from clubcore.identity import parse_member_number

__all__ = ["issue_card", "revoke_card"]


def _next_serial(conn: Connection) -> int:
    """The next card serial (serials the server issues are decimal text)."""

    def initial() -> int:
        query = select(func.max(cast(cards.c.serial, BigInteger)))
        return int(conn.execute(query).scalar() or 0) + 1

    return next_value(conn, "card_serial", initial)


def issue_card(
    conn: Connection,
    keys_dir: Path,
    member_no: str,
    uid: bytes | None,
    expires: date,
    now: datetime,
) -> dict[str, Any]:
    """Register and sign a new card for ``member_no``.

    Returns:
        serial, member_no, key_id, uid (hex), expires, ndef (hex, None without
        a UID) and qr (the ``CT1:`` text of the printed form).

    Raises:
        UnknownMemberError: no such member.
        ConfigError: no signing key, or its file is unreadable.
        FormatError: a member number that does not fit a card, or a too long UID.
    """
    member_no = parse_member_number(member_no)  # as typed: any digits, spaces, dashes
    exists = conn.execute(select(members.c.member_no).where(members.c.member_no == member_no))
    if exists.first() is None:
        raise UnknownMemberError(f"no member {member_no!r}")
    key_id, key = signing_key(conn, keys_dir)
    serial = _next_serial(conn)
    try:
        fields = CardFields(key_id, int(member_no), serial, expires)
        chip = sign(fields, uid, key) if uid else None
    except ValueError as exc:
        raise FormatError(f"cannot issue this card: {exc}") from exc
    printed = sign(fields, b"", key)
    uid_hex = uid.hex().upper() if uid else None
    upsert(
        conn,
        "cards",
        {
            "serial": str(serial),
            "uid": uid_hex,
            "member_no": member_no,
            "kind": "signed" if uid else "printed",
            "expires": expires.isoformat(),
            "updated_at": iso(now),
            "key_id": key_id,
        },
    )
    return {
        "serial": str(serial),
        "member_no": member_no,
        "key_id": key_id,
        "uid": uid_hex,
        "expires": expires.isoformat(),
        "ndef": encode_ndef(chip).hex() if chip else None,
        "qr": encode_text(printed),
    }


def revoke_card(conn: Connection, serial: str, reason: str, now: datetime) -> int:
    """Put a card on the denylist; returns the change seq.

    Raises:
        NotFoundError: no card has this serial.
    """
    row = conn.execute(select(cards.c.uid).where(cards.c.serial == serial)).first()
    if row is None:
        raise NotFoundError(f"no card with serial {serial!r}")
    return upsert(
        conn,
        "denylist",
        {"serial": serial, "uid": row.uid, "reason": reason, "listed_at": iso(now)},
    )

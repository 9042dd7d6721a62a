"""Members on the server: adding one, and everything the club knows about one.

The server keeps personal data (full name, phone) that never leaves it;
terminals get the protocol's columns only, with the phone as a salted hash
(:func:`clubcore.identity.phone_lookup_key`, salt in the ``phone_salt``
setting). Member numbers and phones are read with :mod:`clubcore.identity`,
as on the lanes: Persian or Arabic-Indic digits, ``+98``/``0098``/``98``/``0``
prefixes, spaces and dashes are all accepted.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from club_server.clock import iso
from club_server.counters import next_value
from club_server.schema import cards, members, points_ledger, tiers
from club_server.settings import read_settings
from club_server.upserts import put_settings, upsert
from clubcore.demo_rows import member_number
from clubcore.errors import FormatError, RequestRefusedError, UnknownMemberError
from clubcore.identity import e164_lookup_key, normalise_phone, parse_member_number
from clubcore.settings import PHONE_SALT

__all__ = ["add_member", "phone_taken", "show_member"]


def _phone_salt(conn: Connection) -> bytes:
    settings = read_settings(conn)
    if settings.is_set(PHONE_SALT.key):
        return settings.phone_salt
    salt = secrets.token_bytes(16)
    put_settings(conn, {PHONE_SALT.key: salt.hex()})
    return salt


def phone_taken(conn: Connection, e164: str, member_no: str | None = None) -> None:
    """Refuse a phone another (unmerged) member has: one phone belongs to one member.

    Raises:
        RequestRefusedError: 409 ``phone-taken``.
    """
    query = select(members.c.member_no).where(
        members.c.phone == e164, members.c.merged_into.is_(None)
    )
    if member_no is not None:
        query = query.where(members.c.member_no != member_no)
    other = conn.execute(query).scalar()
    if other is not None:
        raise RequestRefusedError(409, "phone-taken", f"phone {e164} belongs to member {other}")


def _new_number(conn: Connection) -> str:
    def initial() -> int:
        return int(conn.execute(select(func.count()).select_from(members)).scalar() or 0)

    while True:
        number = member_number(next_value(conn, "member_index", initial))
        taken = select(members.c.member_no).where(members.c.member_no == number)
        if conn.execute(taken).first() is None:
            return number


def add_member(
    conn: Connection,
    *,
    display_name: str,
    tier: str,
    now: datetime,
    member_no: str | None = None,
    phone: str | None = None,
    segments: str = "",
    full_name: str | None = None,
) -> str:
    """Add a member; returns the member number (a new Luhn-checked one if not given).

    Raises:
        FormatError: a malformed member number or phone, an unknown tier, or a
            number that exists already.
        RequestRefusedError: 409 ``phone-taken``, another member has the phone.
    """
    if member_no is not None:
        member_no = parse_member_number(member_no)
    in_use = select(tiers.c.code).where(tiers.c.code == tier, tiers.c.retired_at.is_(None))
    if conn.execute(in_use).first() is None:
        raise FormatError(f"unknown or retired tier {tier!r}")
    number = member_no or _new_number(conn)
    if conn.execute(select(members.c.member_no).where(members.c.member_no == number)).first():
        raise FormatError(f"member {number} exists already")
    e164 = normalise_phone(phone) if phone else None
    if e164:
        phone_taken(conn, e164)
    phone_hash = e164_lookup_key(e164, _phone_salt(conn)) if e164 else None
    upsert(
        conn,
        "members",
        {
            "member_no": number,
            "display_name": display_name,
            "tier": tier,
            "segments": segments,
            "phone_hash": phone_hash,
            "points_balance": 0,
            "spend_12m": 0,
            "status": "active",
            "updated_at": iso(now),
            "full_name": full_name,
            "phone": e164,
            "joined_at": iso(now),
        },
    )
    return number


def show_member(conn: Connection, member_no: str) -> dict[str, Any]:
    """A member's row, cards and last 20 ledger entries.

    Arguments:
        member_no: as typed (:func:`clubcore.identity.parse_member_number`).

    Raises:
        FormatError: not a member number.
        UnknownMemberError: no such member.
    """
    member_no = parse_member_number(member_no)
    row = conn.execute(select(members).where(members.c.member_no == member_no)).first()
    if row is None:
        raise UnknownMemberError(f"no member {member_no!r}")
    member = dict(row._mapping)
    member["cards"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(cards).where(cards.c.member_no == member_no).order_by(cards.c.serial)
        )
    ]
    member["ledger"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(points_ledger)
            .where(points_ledger.c.member_no == member_no)
            .order_by(points_ledger.c.entry_id.desc())
            .limit(20)
        )
    ]
    return member

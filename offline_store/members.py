"""Members, their cards and points balances in the local cache.

A member's balance is the server's ledger sum as of the last sync
(``points_base``) plus this terminal's entries that ``points_base`` does not
include yet: those the server has not acknowledged (``pending``), and those it
acknowledged at a change-log position (``change_seq``) beyond the delta cursor
this terminal has applied (see docs/sync-protocol.md). Nothing overwrites a
balance in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from clubcore.errors import UnknownMemberError
from clubcore.identity import parse_member_number, phone_lookup_key
from clubcore.pricing import Customer
from offline_store.settings import read_settings

__all__ = [
    "Member",
    "get_member",
    "member_by_phone",
    "member_by_phone_hash",
    "pending_redemptions",
    "points_balance",
]


@dataclass(frozen=True, slots=True)
class Member:
    """What the lane knows of a member."""

    member_no: str
    display_name: str
    tier: str
    segments: frozenset[str]
    points_balance: int
    spend_12m: int
    status: str

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def customer(self) -> Customer:
        """The member as pricing sees them."""
        return Customer(self.member_no, self.tier, self.segments)


_SELECT = (
    "SELECT m.member_no, m.display_name, m.tier, m.segments, m.spend_12m, m.status, "
    "m.points_base + COALESCE((SELECT SUM(points) FROM points_ledger l "
    "WHERE l.member_no = m.member_no AND (l.state = 'pending' OR l.change_seq > "
    "COALESCE((SELECT CAST(cursor AS INTEGER) FROM sync_cursors WHERE stream = 'changes'), 0))"
    "), 0) "
    "FROM members m "
)


def _member(row: tuple[object, ...] | None) -> Member | None:
    if row is None:
        return None
    member_no, name, tier, segments, spend, status, balance = row
    return Member(
        member_no=str(member_no),
        display_name=str(name),
        tier=str(tier),
        segments=frozenset(s for s in str(segments).split(",") if s),
        points_balance=int(balance),  # type: ignore[call-overload]
        spend_12m=int(spend),  # type: ignore[call-overload]
        status=str(status),
    )


def get_member(db: sqlite_utils.Database, member_no: str) -> Member:
    """The member with this number, as typed (:func:`clubcore.identity.parse_member_number`).

    Raises:
        FormatError: not a member number.
        UnknownMemberError: no such member in the cache.
    """
    member_no = parse_member_number(member_no)
    member = _member(db.execute(_SELECT + "WHERE m.member_no = ?", [member_no]).fetchone())
    if member is None:
        raise UnknownMemberError(
            f"no member with number {member_no}", hint="check the number, or sync the terminal"
        )
    return member


def member_by_phone(db: sqlite_utils.Database, phone: str) -> Member:
    """The member with this mobile number, as typed (:mod:`clubcore.identity`).

    The cache keeps only the club's salted lookup key of each phone.

    Raises:
        FormatError: not an Iranian mobile number.
        UnknownMemberError: no member has that phone.
    """
    return member_by_phone_hash(db, phone_lookup_key(phone, read_settings(db).phone_salt))


def member_by_phone_hash(db: sqlite_utils.Database, phone_hash: str) -> Member:
    """The member whose phone hashes to ``phone_hash``.

    Raises:
        UnknownMemberError: no member has that phone.
    """
    row = db.execute(_SELECT + "WHERE m.phone_hash = ? LIMIT 1", [phone_hash]).fetchone()
    member = _member(row)
    if member is None:
        raise UnknownMemberError("no member with this phone number")
    return member


def points_balance(db: sqlite_utils.Database, member_no: str) -> int:
    """The member's available points (see the module docstring)."""
    return get_member(db, member_no).points_balance


def pending_redemptions(db: sqlite_utils.Database, member_no: str) -> int:
    """Points this lane redeemed for the member that the server has not acknowledged yet."""
    row = db.execute(
        "SELECT COALESCE(-SUM(points), 0) FROM points_ledger "
        "WHERE member_no = ? AND kind = 'redeem' AND state = 'pending'",
        [member_no],
    ).fetchone()
    return int(row[0])

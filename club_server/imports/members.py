"""The ``members`` format: one member a row, keyed by member number.

Columns: ``member_no``, ``display_name``, ``tier`` (required); ``phone``
(an Iranian mobile in any common form, kept in E.164 on the server; lanes get
its salted hash), ``segments`` (separated by ``,`` ``;`` or ``،``),
``full_name`` (server only), ``status`` (``active``, ``suspended``,
``closed``; default ``active``: :data:`clubcore.records.MEMBER_STATUSES`).
A member merged into another is refused (and not exported). One phone belongs to one member: a phone
twice in the file, or held by another member not in the file, is an error;
an empty phone cell leaves a member's phone as it is (an export has no phone
for members whose number the server only holds hashed).
A new member starts with no points and no spend; an import never touches a
member's points or spend.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Table, exists, select

from club_server.clock import iso
from club_server.imports.formats import Cells, Column, Context, Kind
from club_server.known import tier_codes
from club_server.schema import members
from clubcore.identity import e164_lookup_key, normalise_phone, parse_member_number
from clubcore.records import Known, MemberRecord, Problem, Record, parse_text

__all__ = ["Members"]

_SEGMENTS = re.compile(r"[,;،]")
#: the usual forms, read without the general path (a million rows add up)
_PLAIN_NUMBER = re.compile(r"[1-9][0-9]{0,13}", re.ASCII)
_PLAIN_MOBILE = re.compile(r"09[0-9]{9}", re.ASCII)


def _number(text: str) -> str:
    return text if _PLAIN_NUMBER.fullmatch(text) else parse_member_number(text)


def _phone(text: str) -> str:
    return "+98" + text[1:] if _PLAIN_MOBILE.fullmatch(text) else normalise_phone(text)


def _segments(text: str) -> tuple[str, ...]:
    found: list[str] = []
    for part in _SEGMENTS.split(text):
        value = parse_text(part, required=False)
        if value and value not in found:
            found.append(value)
    return tuple(found)


class Members(Kind):
    name = "members"
    entity = "members"
    table = members
    key = ("member_no",)
    columns = (
        Column("member_no", True), Column("display_name", True), Column("tier", True),
        Column("phone"), Column("segments"), Column("full_name"), Column("status"),
    )  # fmt: skip
    written = ("member_no", "display_name", "tier", "segments", "phone_hash", "status",
               "full_name", "phone")  # fmt: skip
    compared = written[1:]
    pricing = False
    kept = ("phone_hash", "phone")
    #: a column holding a value that must be unique across rows (besides the key)
    unique = "phone"

    def known(self, conn: Connection) -> Known:
        return Known(tiers=tier_codes(conn))

    def parse(self, cells: Cells) -> Record:
        number = cells.get("member_no", _number, required=True)
        name = cells.get("display_name", parse_text, required=True)
        tier = cells.get("tier", parse_text, required=True)
        phone = cells.get("phone", _phone)
        segments = cells.get("segments", _segments) or ()
        full_name = cells.get("full_name", parse_text)
        status = cells.get("status", parse_text) or "active"
        return cells.done(
            lambda: MemberRecord(str(number), str(name), str(tier), phone, segments,
                                 full_name, status)
        )  # fmt: skip

    def unique_values(self, record: MemberRecord) -> tuple[str, ...]:
        return (record.phone,) if record.phone else ()

    def to_row(self, record: MemberRecord, context: Context) -> tuple[Any, ...]:
        phone_hash = e164_lookup_key(record.phone, context.phone_salt) if record.phone else None
        return (record.member_no, record.display_name, record.tier, ",".join(record.segments),
                phone_hash, record.status, record.full_name, record.phone)  # fmt: skip

    def on_insert(self, context: Context) -> Mapping[str, Any]:
        return {"points_balance": 0, "spend_12m": 0, "joined_at": iso(context.now)}

    def stamp(self, context: Context) -> Mapping[str, Any]:
        return {"updated_at": iso(context.now)}

    def conflicts(self, conn: Connection, stage: Table) -> Iterator[tuple[int, Problem]]:
        """Rows whose phone another member holds and keeps (not in the file, or an empty
        phone cell there)."""
        others = members.alias("other")
        mine = stage.alias("mine")
        query = select(stage.c.row_no, stage.c.phone, others.c.member_no).where(
            stage.c.phone.is_not(None),
            others.c.phone == stage.c.phone,
            others.c.member_no != stage.c.member_no,
            ~exists().where(mine.c.member_no == others.c.member_no, mine.c.phone.is_not(None)),
        )
        for row_no, phone, holder in conn.execute(query):
            yield row_no, Problem("phone", f"{phone} belongs to member {holder}")
        merged = select(stage.c.row_no, members.c.member_no, members.c.merged_into).where(
            members.c.member_no == stage.c.member_no, members.c.merged_into.is_not(None)
        )
        for row_no, number, survivor in conn.execute(merged):
            yield row_no, Problem("member_no", f"member {number} was merged into {survivor}")

    def export_header(self, context: Context) -> list[str]:
        return [c.name for c in self.columns]

    def export_rows(self, conn: Connection, context: Context) -> Iterator[list[str]]:
        query = select(members.c.member_no, members.c.display_name, members.c.tier,
                       members.c.phone, members.c.segments, members.c.full_name,
                       members.c.status).where(members.c.merged_into.is_(None)
                                               ).order_by(members.c.member_no)  # fmt: skip
        for row in conn.execute(query):
            yield [value or "" for value in row]

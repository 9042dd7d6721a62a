from __future__ import annotations

import pytest

from clubcore.errors import FormatError, UnknownMemberError
from offline_store import members
from terminal.bootstrap import Terminal
from terminal.demo_data import member_number


def add_entry(terminal: Terminal, member_no: str, points: int, state: str, seq: int | None) -> None:
    terminal.db.execute(
        "INSERT INTO points_ledger (member_no, kind, points, created_at, state, change_seq) "
        "VALUES (?, 'earn', ?, '2026-11-22T00:00:00+00:00', ?, ?)",
        [member_no, points, state, seq],
    )


def set_cursor(terminal: Terminal, cursor: int) -> None:
    terminal.db.execute(
        "INSERT OR REPLACE INTO sync_cursors VALUES ('changes', ?, '2026-11-22T00:00:00+00:00')",
        [str(cursor)],
    )


def test_balance_is_base_plus_entries_the_base_does_not_include(terminal: Terminal) -> None:
    member_no = member_number(9)
    terminal.db.execute("UPDATE members SET points_base = 1000 WHERE member_no = ?", [member_no])
    add_entry(terminal, member_no, 10, "pending", None)  # not acknowledged: counts
    add_entry(terminal, member_no, 200, "confirmed", 50)  # acknowledged at change 50
    add_entry(terminal, member_no, 3000, "confirmed", 80)  # acknowledged at change 80
    assert members.get_member(terminal.db, member_no).points_balance == 4210
    set_cursor(terminal, 50)  # the base now includes change 50
    assert members.get_member(terminal.db, member_no).points_balance == 4010
    set_cursor(terminal, 80)
    assert members.get_member(terminal.db, member_no).points_balance == 1010


def test_lookup_by_number_and_phone_hash(terminal: Terminal) -> None:
    member = members.get_member(terminal.db, member_number(1))
    assert member.member_no == member_number(1) and member.active
    with pytest.raises(UnknownMemberError, match="no member with number 1"):
        members.get_member(terminal.db, "1")
    with pytest.raises(UnknownMemberError):
        members.member_by_phone_hash(terminal.db, "00" * 32)


def test_lookups_take_numbers_and_phones_as_typed(terminal: Terminal) -> None:
    number = member_number(1)
    persian = number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert members.get_member(terminal.db, f"00{persian}").member_no == number
    # demo member i has the phone +98912 and i in 7 digits
    for typed in ("۰۹۱۲ ۰۰۰ ۰۰۰۱", "+98-912-000-0001", "989120000001", "٠٩١٢٠٠٠٠٠٠١"):
        assert members.member_by_phone(terminal.db, typed).member_no == number
    with pytest.raises(FormatError):
        members.member_by_phone(terminal.db, "12345")

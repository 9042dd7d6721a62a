"""Offers in the cache and their translations; the rule set from settings."""

from __future__ import annotations

import json

import pytest

from clubcore.demo_rows import member_number
from clubcore.errors import ConfigError
from offline_store.pricing_data import load_rules, offer_texts, offers_for
from offline_store.settings import put_settings
from terminal.bootstrap import Terminal


def test_demo_offers_come_with_their_persian_words(terminal: Terminal) -> None:
    offers = {o.offer_id: o for o in offers_for(terminal.db, member_number(0), terminal.clock())}
    birthday = offers["BDAY-0"]
    assert birthday.text_in("en") == ("Happy birthday!", "20% off all bakery today")
    title, message = birthday.text_in("fa")
    assert title == "تولدتان مبارک!" and "۲۰٪" in message
    assert birthday.text_in("de") == birthday.text_in("en")  # untranslated: the offer's own words


def test_translations_are_read_from_the_texts_column() -> None:
    raw = json.dumps({"fa": {"title": "عنوان", "message": "پیام"}, "ar": {"title": "x"}})
    assert offer_texts(raw) == (("ar", "x", ""), ("fa", "عنوان", "پیام"))
    assert offer_texts("{}") == ()


@pytest.mark.parametrize(
    "raw",
    [None, "", "not json", "[]", '"fa"', '{"fa": "title"}', '{"fa": {"message": "no title"}}'],
)
def test_malformed_translations_are_left_out(raw: str | None) -> None:
    assert offer_texts(raw) == ()


def test_a_malformed_translation_does_not_hide_the_offer(terminal: Terminal) -> None:
    terminal.db.execute("UPDATE offers SET texts = '{broken' WHERE offer_id = 'BDAY-0'")
    offers = {o.offer_id: o for o in offers_for(terminal.db, member_number(0), terminal.clock())}
    assert offers["BDAY-0"].text_in("fa") == ("Happy birthday!", "20% off all bakery today")


def test_the_lane_reads_its_rules_through_it(terminal: Terminal) -> None:
    put_settings(terminal.db, {"points.point_value": "250"})
    assert load_rules(terminal.db).points.point_value == 250
    put_settings(terminal.db, {"points.point_value": "lots"})
    with pytest.raises(ConfigError, match="must be a whole number"):
        load_rules(terminal.db)


def test_an_offer_is_judged_active_by_its_times_in_any_utc_offset(terminal: Terminal) -> None:
    # 09:30 UTC is 13:00 at +03:30: as text "…T13:00+03:30" sorts after "…T09:30+00:00",
    # yet the offer started at 09:29:59 UTC and ends at 09:30:01 UTC
    now = terminal.clock()
    terminal.db.execute(
        "UPDATE offers SET starts_at = ?, ends_at = ? WHERE offer_id = 'BDAY-0'",
        ["2026-11-22T12:59:59+03:30", "2026-11-21T23:30:01-10:00"],
    )
    assert "BDAY-0" in {o.offer_id for o in offers_for(terminal.db, member_number(0), now)}
    later = now.replace(second=1)
    assert "BDAY-0" not in {o.offer_id for o in offers_for(terminal.db, member_number(0), later)}

"""The club's settings (``club_server.settings``): checks, rules_version and the change log."""

from __future__ import annotations

from typing import Any

import pytest

from club_server.changes import current_cursor
from club_server.db import Database
from club_server.settings import (
    SETTINGS,
    change_settings,
    parse_pairs,
    read_settings,
    show_settings,
)
from club_server.upserts import put_settings
from clubcore.errors import ConfigError
from clubcore.points import PointsPolicy
from tests.card_fakes import MAKER_PUBLIC_KEY
from tests.club_server.conftest import Lane
from tests.club_server.test_changes import changes


def _set(db: Database, *args: str) -> dict[str, tuple[str | None, str]]:
    with db.writing() as conn:
        return change_settings(conn, parse_pairs(args))


def _value(db: Database, key: str) -> str | None:
    with db.reading() as conn:
        return read_settings(conn).raw(key)


def test_show_lists_every_known_key_hides_the_salt_and_keeps_unknown_ones(demo: Database) -> None:
    with demo.writing() as conn:
        put_settings(conn, {"legacy.thing": "1"})
    with demo.reading() as conn:
        rows = {row["key"]: row for row in show_settings(conn)}
    assert set(SETTINGS) < set(rows)
    assert rows["currency"]["value"] == "IRT" and rows["currency"]["settable"]
    assert rows["phone_salt"]["value"] == "(hidden)" and not rows["phone_salt"]["settable"]
    assert rows["velocity.max_sales"]["value"] is None
    assert rows["points.min_redeem"]["rules"] and not rows["timezone"]["rules"]
    legacy = rows["legacy.thing"]
    assert (legacy["value"], legacy["settable"], legacy["rules"]) == ("1", False, False)
    assert legacy["description"] == "not a setting the club knows"


def test_a_change_reaches_lanes_as_deltas(client: Any, lane: Lane, demo: Database) -> None:
    cursor = client.get("/v1/snapshot", headers=lane.headers).json()["cursor"]
    changed = _set(demo, "points.min_redeem", "50", "velocity.max_sales", "0",
                   "timezone", "Asia/Tehran")  # fmt: skip
    assert changed == {"points.min_redeem": ("100", "50"), "velocity.max_sales": (None, "0"),
                       "rules_version": ("1", "2")}  # fmt: skip
    page = changes(client, lane, cursor)
    rows = [(c["entity"], c["op"], c["row"]) for c in page["changes"]]
    assert rows == [
        ("settings", "upsert", ["points.min_redeem", "50"]),
        ("settings", "upsert", ["velocity.max_sales", "0"]),
        ("settings", "upsert", ["rules_version", "2"]),
    ]


def test_rules_version_rises_once_per_rule_change_unless_given(database: Database) -> None:
    assert _set(database, "currency", "EUR", "offline.max_age_hours", "48") == {
        "currency": (None, "EUR"),
        "offline.max_age_hours": (None, "48"),
    }
    assert _value(database, "rules_version") is None  # not part of the rule set
    _set(database, "points.min_redeem", "10", "policy.redeem_uid_only", "yes")
    assert _value(database, "rules_version") == "1"  # one bump for the whole command
    assert _set(database, "points.min_redeem", "10") == {}  # unchanged: no bump
    _set(database, "points.point_value", "50", "rules_version", "7")
    assert _value(database, "rules_version") == "7"
    _set(database, "rules_version", "8")
    assert _value(database, "points.point_value") == "50"
    for stale in ("8", "3"):
        with pytest.raises(ConfigError, match="rules_version: may only go up; it is 8 now"):
            _set(database, "points.point_value", "60", "rules_version", stale)
    assert _value(database, "points.point_value") == "50"


def test_a_malformed_stored_rules_version_must_be_replaced(database: Database) -> None:
    with database.writing() as conn:
        put_settings(conn, {"rules_version": "v2"})
    with pytest.raises(ConfigError, match="rules_version: the stored value 'v2'"):
        _set(database, "points.min_redeem", "10")
    _set(database, "points.min_redeem", "10", "rules_version", "3")
    assert _value(database, "rules_version") == "3"


def test_a_refused_change_writes_nothing(database: Database) -> None:
    _set(database, "rules_version", "4")
    with database.reading() as conn:
        before = (show_settings(conn), current_cursor(conn))
    with pytest.raises(ConfigError, match="rules_version"):
        _set(database, "currency", "USD", "points.min_redeem", "5", "rules_version", "4")
    with database.reading() as conn:
        assert (show_settings(conn), current_cursor(conn)) == before


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("colour", "red"), "colour: unknown setting"),
        (("phone_salt", "00" * 16), "phone_salt: cannot be changed"),
        (("currency", "GBP"), "currency: 'GBP' is not one of IRR, IRT, EUR, USD"),
        (("timezone", "Mars/Olympus"), "timezone: 'Mars/Olympus' is not a time zone"),
        (("timezone", "../etc/passwd"), "timezone: '../etc/passwd' is not a time zone"),
        (("timezone", "localtime"), "timezone: 'localtime' is not a time zone"),
        (("rules_version", "two"), "rules_version: 'two' is not a whole number"),
        (("rules_version", "-1"), "rules_version: -1 is out of range"),
        (("points.earn_per_amount", "0"), "points.earn_per_amount: 0 is out of range"),
        (("points.point_value", "1.5"), "points.point_value: '1.5' is not a whole number"),
        (("points.max_redeem_bp", "10001"), r"points.max_redeem_bp: 10001 is out of range \(0"),
        (("points.min_redeem", "0"), "points.min_redeem: 0 is out of range"),
        (("offline.redeem_cap_points", "-5"), "offline.redeem_cap_points: -5 is out of range"),
        (("offline.max_age_hours", "0"), "offline.max_age_hours: 0 is out of range"),
        (("offline.max_age_hours", "9000"), r"offline.max_age_hours: 9000 .*\(1..8760\)"),
        (("policy.redeem_uid_only", "true"), "policy.redeem_uid_only: 'true' is not one of yes"),
        (("velocity.max_sales", "-1"), "velocity.max_sales: -1 is out of range"),
        (("velocity.window_minutes", ""), "velocity.window_minutes: '' is not a whole number"),
        (("velocity.store_hop_minutes", "100001"), "velocity.store_hop_minutes: 100001"),
        (("cards.originality_keys", "04zz"), "cards.originality_keys: is not hex"),
        (("cards.originality_keys", "04" + "00" * 32), "cards.originality_keys: 04000000"),
        (("cards.require_originality", "1"), "cards.require_originality: '1' is not one of"),
        (("currency", "EUR", "currency", "USD"), "currency: given twice"),
        (("currency", "EUR", "timezone"), "timezone: no value given"),
    ],
)
def test_bad_keys_and_values_are_refused_naming_the_key(
    args: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{problem}"):
        parse_pairs(args)


def test_values_are_stored_in_one_spelling() -> None:
    assert parse_pairs(["points.min_redeem", " +0050", "velocity.max_sales", "1_000"]) == {
        "points.min_redeem": "50",
        "velocity.max_sales": "1000",
    }


@pytest.mark.parametrize("field", ["earn_per_amount", "point_value", "max_redeem_bp", "min_redeem"])
def test_points_ranges_are_the_lanes(field: str) -> None:
    """The lowest value the server takes builds a lane's PointsPolicy; one less is refused."""
    parse = SETTINGS[f"points.{field}"].parse
    assert parse is not None
    lowest = next(n for n in range(-1, 3) if _accepts(parse, n))
    PointsPolicy(**{field: lowest})
    with pytest.raises(ValueError):
        PointsPolicy(**{field: lowest - 1})


def _accepts(parse: Any, value: int) -> bool:
    try:
        parse(str(value))
    except ValueError:
        return False
    return True


def test_originality_keys_are_stored_as_canonical_hex() -> None:
    key = MAKER_PUBLIC_KEY.hex()
    stored = parse_pairs(["cards.originality_keys", f" {key.upper()} ,, {key[:2]}{key[2:]} "])
    assert stored == {"cards.originality_keys": f"{key},{key}"}
    assert parse_pairs(["cards.originality_keys", ""]) == {"cards.originality_keys": ""}

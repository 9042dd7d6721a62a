"""clubcore.settings: one definition per key, its default beside it, owners stated."""

from __future__ import annotations

import pytest

from clubcore import settings as s
from clubcore.errors import ConfigError
from clubcore.money import CURRENCIES
from clubcore.originality import OriginalityPolicy
from clubcore.points import POLICY_SETTINGS, PointsPolicy
from tests.card_fakes import MAKER_PUBLIC_KEY


def test_defaults_when_nothing_is_set() -> None:
    empty = s.Settings({})
    assert empty.rules_version == 0 and not empty.has_store_data
    assert empty.currency_name == s.DEFAULT_CURRENCY == "IRT"
    assert empty.currency == CURRENCIES["IRT"]
    assert empty.redeem_cap_points == 5_000 and empty.max_age_hours == 72
    assert not empty.redeem_uid_only and empty.phone_salt == b""
    assert (empty.terminal_id, empty.store_id) == ("unprovisioned", "unprovisioned")
    assert empty.server_url is None and not empty.provisioned
    assert empty.language == "en" and empty.pin_min_length == 4
    assert not empty.fullscreen and empty.kiosk_size == (1280, 800)
    assert empty.points_policy == PointsPolicy()


def test_readers_default_depends_on_provisioning_only_when_unset() -> None:
    assert s.Settings({}).readers == ("sim",)
    assert s.Settings({"sync.server_url": "https://club.example"}).readers == ("pcsc", "wedge")
    assert s.Settings({"readers": "nfc:usb, wedge", "sync.server_url": "x"}).readers == (
        "nfc:usb",
        "wedge",
    )


def test_stored_values_are_parsed() -> None:
    values = {
        "rules_version": "7",
        "currency": "EUR",
        "offline.redeem_cap_points": "0",
        "policy.redeem_uid_only": "yes",
        "kiosk.size": "800x480",
        "kiosk.fullscreen": "yes",
        "phone_salt": "00ff",
    }
    parsed = s.Settings(values)
    assert parsed.rules_version == 7 and parsed.currency.code == "EUR"
    assert parsed.redeem_cap_points == 0 and parsed.redeem_uid_only
    assert parsed.kiosk_size == (800, 480) and parsed.fullscreen
    assert parsed.phone_salt == b"\x00\xff"


@pytest.mark.parametrize(
    ("key", "value", "read"),
    [
        ("rules_version", "x", lambda v: v.rules_version),
        ("currency", "GBP", lambda v: v.currency),
        ("offline.redeem_cap_points", "-1", lambda v: v.redeem_cap_points),
        ("offline.max_age_hours", "0", lambda v: v.max_age_hours),
        ("policy.redeem_uid_only", "true", lambda v: v.redeem_uid_only),
        ("pins.min_length", "3", lambda v: v.pin_min_length),
        ("kiosk.size", "big", lambda v: v.kiosk_size),
        ("timezone", "Mars/Base", lambda v: v.timezone),
        ("phone_salt", "zz", lambda v: v.phone_salt),
        ("cards.originality_keys", "04" + "00" * 32, lambda v: v.originality_policy),
        ("cards.require_originality", "on", lambda v: v.originality_policy),
    ],
)
def test_a_malformed_value_names_its_key_when_read(key: str, value: str, read: object) -> None:
    settings = s.Settings({key: value})
    with pytest.raises(ConfigError) as caught:
        read(settings)  # type: ignore[operator]
    assert caught.value.key == key


def test_every_key_has_one_owner_and_the_owners_do_not_overlap() -> None:
    assert s.CLUB_KEYS.isdisjoint(s.LANE_KEYS)
    assert set(POLICY_SETTINGS) <= s.CLUB_KEYS
    assert {"currency", "offline.redeem_cap_points", "offline.max_age_hours"} <= s.CLUB_KEYS
    assert {"readers", "ui.language", "pins.min_length", "kiosk.fullscreen",
                           "kiosk.size", "printer.path", "printer.paper_mm",
                           "printer.drawer"} == s.LANE_KEYS  # fmt: skip
    for key, spec in s.SPECS.items():
        assert spec.key == key and spec.doc


def test_originality_policy() -> None:
    assert s.Settings({}).originality_policy == OriginalityPolicy((), False)
    assert not s.Settings({}).originality_policy.enabled
    key = MAKER_PUBLIC_KEY.hex()
    parsed = s.Settings(
        {"cards.originality_keys": f"{key}, {key}", "cards.require_originality": "yes"}
    )
    assert parsed.originality_policy == OriginalityPolicy((MAKER_PUBLIC_KEY,) * 2, True)
    assert {"cards.originality_keys", "cards.require_originality"} <= s.CLUB_KEYS

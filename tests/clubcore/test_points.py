"""The points policy read from the club's settings."""

from __future__ import annotations

import pytest

from clubcore.errors import ConfigError
from clubcore.points import POLICY_SETTINGS, PointsPolicy, policy_from_settings


def test_missing_settings_take_the_defaults_and_given_ones_are_read() -> None:
    assert POLICY_SETTINGS == (
        "points.earn_per_amount",
        "points.point_value",
        "points.max_redeem_bp",
        "points.min_redeem",
    )
    assert policy_from_settings({}) == PointsPolicy()
    read = policy_from_settings({"points.point_value": "50", "points.min_redeem": None})
    assert read == PointsPolicy(point_value=50)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"points.point_value": "1.5"}, "points.point_value"),
        ({"points.min_redeem": "many"}, "points.min_redeem"),
        ({"points.max_redeem_bp": "10001"}, "points"),
        ({"points.earn_per_amount": "0"}, "points"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(values: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy_from_settings(values)
    assert info.value.key == key

"""clubcore.tiers: the tier for a spend, and the way to the next one."""

from __future__ import annotations

import pytest

from clubcore.tiers import Tier, tier_for_spend, tier_progress

TIERS = [
    Tier("basic", "Basic", 1, 0),
    Tier("silver", "Silver", 2, 1_000),
    Tier("gold", "Gold", 3, 4_000),
    Tier("vip", "VIP", 9, 0, assignable=False),
]


def test_progress_towards_the_next_tier() -> None:
    standing = tier_progress(TIERS, "silver", 3_000)
    assert standing.current == TIERS[1] and standing.next == TIERS[2]
    assert (standing.to_next, standing.progress) == (1_000, 0.75)
    over = tier_progress(TIERS, "basic", 5_000)  # not recomputed yet: never past 100 %
    assert (over.next, over.to_next, over.progress) == (TIERS[1], 0, 1.0)


@pytest.mark.parametrize("code", ["gold", "vip", "unknown"])
def test_no_next_tier_at_the_top_for_invited_tiers_or_unknown_codes(code: str) -> None:
    standing = tier_progress(TIERS, code, 100)
    assert (standing.next, standing.to_next, standing.progress) == (None, 0, 1.0)
    assert standing.current is (
        None if code == "unknown" else next(t for t in TIERS if t.code == code)
    )


def test_tier_for_spend() -> None:
    assert tier_for_spend(TIERS, 999).code == "basic"
    assert tier_for_spend(TIERS, 4_000).code == "gold"

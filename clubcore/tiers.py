"""Membership tiers are data, not code.

A tier has a rank (higher is better), an entry threshold on rolling
12-month spend, a points earn multiplier and a list of benefits. A tier that
is not *assignable* by spend (a VIP group) is given by the club.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Tier", "TierProgress", "next_tier", "tier_for_spend", "tier_progress"]


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of the club.

    Attributes:
        code: stable identifier (``gold``).
        name: display name.
        rank: ordering; the base tier has the lowest rank.
        min_spend: rolling 12-month spend (minor units) to enter the tier.
        earn_multiplier_bp: points multiplier in basis points (10000 = 1x).
        assignable: False for invitation-only tiers (VIP), never reached by spend.
        benefits: short benefit texts shown to the cashier and customer.
    """

    code: str
    name: str
    rank: int
    min_spend: int = 0
    earn_multiplier_bp: int = 10_000
    assignable: bool = True
    benefits: tuple[str, ...] = field(default=())


def tier_for_spend(tiers: Iterable[Tier], spend: int) -> Tier:
    """The highest assignable tier whose threshold ``spend`` reaches.

    Raises:
        ValueError: no assignable tier has a threshold of 0 or less (no base tier).
    """
    reached = [t for t in tiers if t.assignable and t.min_spend <= spend]
    if not reached:
        raise ValueError("the tier set has no base tier (an assignable tier with min_spend 0)")
    return max(reached, key=lambda t: (t.rank, t.code))


def next_tier(tiers: Iterable[Tier], current: Tier) -> Tier | None:
    """The next assignable tier above ``current``, or None at the top."""
    above = [t for t in tiers if t.assignable and t.rank > current.rank]
    return min(above, key=lambda t: (t.rank, t.code)) if above else None


@dataclass(frozen=True, slots=True)
class TierProgress:
    """Where a member stands on the way to the next tier.

    Attributes:
        current: the member's tier, or None when the code is unknown.
        next: the next assignable tier by spend, or None (top, unknown, or a
            tier given by the club such as VIP, which spend does not leave).
        to_next: spend (minor units) still needed to reach ``next``; 0 without one.
        progress: 0..1 of the way from nothing to ``next``'s threshold; 1 without one.
    """

    current: Tier | None
    next: Tier | None
    to_next: int
    progress: float


def tier_progress(tiers: Iterable[Tier], tier_code: str, spend_12m: int) -> TierProgress:
    """How far rolling 12-month ``spend_12m`` is from the tier above ``tier_code``."""
    tiers = list(tiers)
    current = next((t for t in tiers if t.code == tier_code), None)
    above = next_tier(tiers, current) if current is not None and current.assignable else None
    if above is None:
        return TierProgress(current, None, 0, 1.0)
    to_next = max(above.min_spend - spend_12m, 0)
    progress = min(spend_12m / above.min_spend, 1.0) if above.min_spend else 1.0
    return TierProgress(current, above, to_next, progress)

"""Membership tiers are data, not code.

A tier has a rank (higher is better), an entry threshold on rolling
12-month spend, a points earn multiplier and a list of benefits. A tier that
is not *assignable* by spend (a VIP group) is given by the club.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Tier", "next_tier", "tier_for_spend"]


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

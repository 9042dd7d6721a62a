"""Points: earned per amount spent times the tier multiplier, redeemed as a discount.

A balance is always the sum of a ledger of entries (earn, redeem, adjust,
expire); nothing here keeps a counter. The functions are pure.

Earning: ``floor(paid * multiplier_bp / (earn_per_amount * 10000))`` points,
where ``paid`` is what the customer pays after any points discount (points do
not earn points).

Redeeming: each point is worth ``point_value`` minor units. One redemption
may pay at most ``max_redeem_bp`` of the basket total, never more than the
balance, and never more than an extra cap the caller imposes (the offline
policy's remaining allowance).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields

from clubcore.errors import ConfigError, RedemptionError
from clubcore.money import BP_ONE, percent_of

__all__ = [
    "POLICY_SETTINGS",
    "LedgerKind",
    "PointsPolicy",
    "max_redeemable",
    "points_earned",
    "policy_from_settings",
    "redemption_discount",
]


class LedgerKind(enum.StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    ADJUST = "adjust"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class PointsPolicy:
    """The club's points rules.

    Attributes:
        earn_per_amount: minor units spent for one point at a 1x multiplier.
        point_value: minor units one redeemed point takes off the bill.
        max_redeem_bp: the largest share of a basket total points may pay.
        min_redeem: the fewest points one redemption may use.
    """

    earn_per_amount: int = 10_000
    point_value: int = 100
    max_redeem_bp: int = 5_000
    min_redeem: int = 1

    def __post_init__(self) -> None:
        if self.earn_per_amount <= 0 or self.point_value <= 0:
            raise ValueError("earn_per_amount and point_value must be positive")
        if not 0 <= self.max_redeem_bp <= BP_ONE:
            raise ValueError("max_redeem_bp must be within 0..10000")
        if self.min_redeem < 1:
            raise ValueError("min_redeem must be at least 1")


#: the club settings that make up a :class:`PointsPolicy` (``points.<field>``)
POLICY_SETTINGS: tuple[str, ...] = tuple(f"points.{f.name}" for f in fields(PointsPolicy))


def policy_from_settings(values: Mapping[str, str | None]) -> PointsPolicy:
    """The points policy from the club's settings (text); a missing key takes the default.

    The lane (``offline_store.pricing_data.load_rules``) and the club server's sale
    checks read the same settings through this.

    Raises:
        ConfigError: a value is not a whole number (named by its key), or out
            of range (key ``points``).
    """
    numbers: dict[str, int] = {}
    for key in POLICY_SETTINGS:
        raw = values.get(key)
        if raw is None:
            continue
        try:
            numbers[key.removeprefix("points.")] = int(raw)
        except ValueError:
            raise ConfigError(key, f"must be a whole number, not {raw!r}") from None
    try:
        return PointsPolicy(**numbers)
    except ValueError as exc:
        raise ConfigError("points", str(exc)) from exc


def points_earned(paid: int, multiplier_bp: int, policy: PointsPolicy) -> int:
    """Points earned on ``paid`` minor units at a tier multiplier (basis points)."""
    if paid <= 0 or multiplier_bp <= 0:
        return 0
    return (paid * multiplier_bp) // (policy.earn_per_amount * BP_ONE)


def max_redeemable(
    total: int, balance: int, policy: PointsPolicy, extra_cap: int | None = None
) -> int:
    """The most points one redemption may use on a basket of ``total`` minor units."""
    by_cap = percent_of(max(total, 0), policy.max_redeem_bp) // policy.point_value
    limit = min(max(balance, 0), by_cap)
    if extra_cap is not None:
        limit = min(limit, max(extra_cap, 0))
    return limit


def redemption_discount(
    points: int, total: int, balance: int, policy: PointsPolicy, extra_cap: int | None = None
) -> int:
    """The discount, in minor units, for redeeming ``points`` on ``total``.

    Raises:
        RedemptionError: negative points, fewer than the minimum, more than the
            balance, the basket cap or ``extra_cap``.
    """
    if points == 0:
        return 0
    if points < 0:
        raise RedemptionError("points to redeem must be positive")
    if points < policy.min_redeem:
        raise RedemptionError(f"at least {policy.min_redeem} points must be redeemed at once")
    if points > balance:
        raise RedemptionError(
            f"the member has {max(balance, 0)} points; {points} cannot be redeemed"
        )
    limit = max_redeemable(total, balance, policy, extra_cap)
    if points > limit:
        raise RedemptionError(
            f"at most {limit} points can be redeemed on this sale",
            hint="points may pay part of a sale only, within the club's limits",
        )
    return points * policy.point_value

"""The daily member-sales report: one record, assembled the same way on the lane and the server.

Figures are net: voids and refunds are negative records on the day they
happen. "Sales" counts records of kind ``sale``; "returns" counts voids and
refunds. The 80/20 figure is the share of member sales (net amount) made by
the top 20 % of that day's members by amount (rounded up to whole members).
The terminal computes it from its own records (``scope`` ``lane``), the club
server across the store's lanes (``scope`` ``store``); both run the same SQL
shapes and call :func:`assemble` with the results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["DailyReport", "Totals", "assemble"]


@dataclass(frozen=True, slots=True)
class DailyReport:
    business_date: str
    currency: str
    scope: str
    sales_count: int
    returns_count: int
    total: int
    member_total: int
    non_member_total: int
    member_sales_count: int
    member_share: float
    member_count_share: float
    list_total: int
    member_discount: int
    points_discount: int
    discount_given: int
    points_earned: int
    points_redeemed: int
    members_served: int
    top20_share: float
    by_tier: list[dict[str, Any]] = field(default_factory=list)
    by_hour: list[dict[str, Any]] = field(default_factory=list)
    top_members: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Totals:
    """The day's sums, in the order the reports' totals query returns them."""

    sales: int
    returns: int
    total: int
    member_total: int
    member_sales: int
    list_total: int
    member_discount: int
    points_discount: int
    points_earned: int
    points_redeemed: int


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def assemble(
    business_date: str,
    currency: str,
    scope: str,
    totals: Totals,
    members: Sequence[dict[str, Any]],
    by_tier: list[dict[str, Any]],
    by_hour: list[dict[str, Any]],
    top: int = 10,
) -> DailyReport:
    """The report from the day's totals and its members ordered by net amount, best first."""
    top_total = sum(m["total"] for m in members[: math.ceil(len(members) * 0.2)])
    t = totals
    return DailyReport(
        business_date=business_date,
        currency=currency,
        scope=scope,
        sales_count=t.sales,
        returns_count=t.returns,
        total=t.total,
        member_total=t.member_total,
        non_member_total=t.total - t.member_total,
        member_sales_count=t.member_sales,
        member_share=_ratio(t.member_total, t.total),
        member_count_share=_ratio(t.member_sales, t.sales),
        list_total=t.list_total,
        member_discount=t.member_discount,
        points_discount=t.points_discount,
        discount_given=t.member_discount + t.points_discount,
        points_earned=t.points_earned,
        points_redeemed=t.points_redeemed,
        members_served=len(members),
        top20_share=_ratio(top_total, t.member_total),
        by_tier=by_tier,
        by_hour=by_hour,
        top_members=list(members[:top]),
    )

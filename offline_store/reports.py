"""Daily member-sales figures from this lane's own records.

All figures are net: voids and refunds are negative records on the day they
happen, so they subtract. "Sales" counts records of kind ``sale``; "returns"
counts voids and refunds. The 80/20 figure is the share of member sales
(net amount) made by the top 20 % of that day's members, by amount (rounded up
to whole members).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import sqlite_utils

__all__ = ["DailyReport", "daily_report"]


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


_TOTALS = """
SELECT
  COALESCE(SUM(kind = 'sale'), 0), COALESCE(SUM(kind != 'sale'), 0),
  COALESCE(SUM(total), 0),
  COALESCE(SUM(CASE WHEN member_no IS NOT NULL THEN total END), 0),
  COALESCE(SUM(kind = 'sale' AND member_no IS NOT NULL), 0),
  COALESCE(SUM(subtotal_list), 0), COALESCE(SUM(member_discount), 0),
  COALESCE(SUM(points_discount), 0), COALESCE(SUM(points_earned), 0),
  COALESCE(SUM(points_redeemed), 0)
FROM sales WHERE business_date = ?
"""

_BY_TIER = """
SELECT COALESCE(tier, 'non-member') AS tier, SUM(kind = 'sale') AS sales, SUM(total) AS total,
       SUM(member_discount + points_discount) AS discount, SUM(points_earned) AS points_earned
FROM sales WHERE business_date = ? GROUP BY 1 ORDER BY total DESC
"""

_BY_HOUR = """
SELECT hour, SUM(kind = 'sale') AS sales, SUM(total) AS total,
       SUM(CASE WHEN member_no IS NOT NULL THEN total ELSE 0 END) AS member_total
FROM sales WHERE business_date = ? GROUP BY hour ORDER BY hour
"""

_MEMBERS = """
SELECT s.member_no, m.display_name, m.tier, SUM(s.total) AS total, SUM(s.kind = 'sale') AS visits
FROM sales s LEFT JOIN members m USING (member_no)
WHERE s.business_date = ? AND s.member_no IS NOT NULL
GROUP BY s.member_no ORDER BY total DESC, s.member_no
"""


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def daily_report(
    db: sqlite_utils.Database, business_date: date, currency: str, top: int = 10
) -> DailyReport:
    """The day's figures for this lane (``scope`` is ``lane``)."""
    day = business_date.isoformat()
    (sales, returns, total, member_total, member_sales, list_total, member_discount,
     points_discount, earned, redeemed) = db.execute(_TOTALS, [day]).fetchone()  # fmt: skip
    members = list(db.query(_MEMBERS, [day]))
    top_n = math.ceil(len(members) * 0.2)
    top_total = sum(m["total"] for m in members[:top_n])
    return DailyReport(
        business_date=day,
        currency=currency,
        scope="lane",
        sales_count=sales,
        returns_count=returns,
        total=total,
        member_total=member_total,
        non_member_total=total - member_total,
        member_sales_count=member_sales,
        member_share=_ratio(member_total, total),
        member_count_share=_ratio(member_sales, sales),
        list_total=list_total,
        member_discount=member_discount,
        points_discount=points_discount,
        discount_given=member_discount + points_discount,
        points_earned=earned,
        points_redeemed=redeemed,
        members_served=len(members),
        top20_share=_ratio(top_total, member_total),
        by_tier=list(db.query(_BY_TIER, [day])),
        by_hour=list(db.query(_BY_HOUR, [day])),
        top_members=members[:top],
    )

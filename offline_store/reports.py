"""Daily member-sales figures from this lane's own records.

The figures and their definitions are :mod:`clubcore.reports`; this module
runs the lane's queries and hands the results to
:func:`clubcore.reports.assemble`.
"""

from __future__ import annotations

from datetime import date

import sqlite_utils

from clubcore.reports import DailyReport, Totals, assemble

__all__ = ["DailyReport", "daily_report"]  # DailyReport is clubcore.reports.DailyReport


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


def daily_report(
    db: sqlite_utils.Database, business_date: date, currency: str, top: int = 10
) -> DailyReport:
    """The day's figures for this lane (``scope`` is ``lane``)."""
    day = business_date.isoformat()
    totals = Totals(*db.execute(_TOTALS, [day]).fetchone())
    members = list(db.query(_MEMBERS, [day]))
    by_tier, by_hour = list(db.query(_BY_TIER, [day])), list(db.query(_BY_HOUR, [day]))
    return assemble(day, currency, "lane", totals, members, by_tier, by_hour, top)

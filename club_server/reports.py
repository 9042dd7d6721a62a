"""The store-wide daily report: the terminal's report across every lane of a store.

Same fields and definitions as :class:`offline_store.reports.DailyReport`
(net figures, voids and refunds subtract; the 80/20 share is that of the top
20 % of the day's members by amount), with ``scope`` ``"store"``. The SQL is
portable (no boolean sums) and every sum is cast to BIGINT so PostgreSQL
answers integers, not decimals.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from clubcore.reports import DailyReport, Totals, assemble

__all__ = ["store_daily_report"]

_S = "CAST(COALESCE(SUM({}), 0) AS BIGINT)"
_IS_SALE = "CASE WHEN kind = 'sale' THEN 1 ELSE 0 END"
_NOT_SALE = "CASE WHEN kind <> 'sale' THEN 1 ELSE 0 END"
_MEMBER_TOTAL = "CASE WHEN member_no IS NOT NULL THEN total ELSE 0 END"
_MEMBER_SALE = "CASE WHEN kind = 'sale' AND member_no IS NOT NULL THEN 1 ELSE 0 END"
_WHERE = "WHERE store_id = :store AND business_date = :day"

_TOTALS = f"""
SELECT {_S.format(_IS_SALE)}, {_S.format(_NOT_SALE)}, {_S.format("total")},
       {_S.format(_MEMBER_TOTAL)}, {_S.format(_MEMBER_SALE)}, {_S.format("subtotal_list")},
       {_S.format("member_discount")}, {_S.format("points_discount")},
       {_S.format("points_earned")}, {_S.format("points_redeemed")}
FROM sales {_WHERE}
"""

_BY_TIER = f"""
SELECT COALESCE(tier, 'non-member') AS tier, {_S.format(_IS_SALE)} AS sales,
       {_S.format("total")} AS total,
       {_S.format("member_discount + points_discount")} AS discount,
       {_S.format("points_earned")} AS points_earned
FROM sales {_WHERE} GROUP BY COALESCE(tier, 'non-member') ORDER BY total DESC, tier
"""

_BY_HOUR = f"""
SELECT hour, {_S.format(_IS_SALE)} AS sales, {_S.format("total")} AS total,
       {_S.format(_MEMBER_TOTAL)} AS member_total
FROM sales {_WHERE} GROUP BY hour ORDER BY hour
"""

_MEMBERS = f"""
SELECT s.member_no, MAX(m.display_name) AS display_name, MAX(m.tier) AS tier,
       {_S.format("s.total")} AS total,
       {_S.format("CASE WHEN s.kind = 'sale' THEN 1 ELSE 0 END")} AS visits
FROM sales s LEFT JOIN members m ON m.member_no = s.member_no
WHERE s.store_id = :store AND s.business_date = :day AND s.member_no IS NOT NULL
GROUP BY s.member_no ORDER BY total DESC, s.member_no
"""


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(text(sql), params)]


def store_daily_report(
    conn: Connection, store_id: str, business_date: date, currency: str, top: int = 10
) -> DailyReport:
    """The day's figures for every lane of ``store_id`` (``scope`` is ``store``)."""
    params = {"store": store_id, "day": business_date.isoformat()}
    totals = Totals(*conn.execute(text(_TOTALS), params).one())
    members = _rows(conn, _MEMBERS, params)
    by_tier, by_hour = _rows(conn, _BY_TIER, params), _rows(conn, _BY_HOUR, params)
    return assemble(params["day"], currency, "store", totals, members, by_tier, by_hour, top)

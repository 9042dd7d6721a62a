"""The store-wide daily report, from the club server (``GET /v1/reports/daily``).

The server answers the same fields as the lane's own report
(:class:`offline_store.reports.DailyReport`) with ``"scope": "store"``; the
answer is checked (:class:`clubcore.wire.WireDailyReport`) and returned as
that class, so the terminal prints both the same way.
"""

from __future__ import annotations

from datetime import date

from clubcore.errors import ProtocolError, ServerUnreachableError
from clubcore.reports import DailyReport
from clubcore.wire import WireDailyReport
from sync.http import SyncClient

__all__ = ["store_daily_report"]


def store_daily_report(client: SyncClient, day: date, *, deadline: float = 30.0) -> DailyReport:
    """The daily report of this terminal's store across all lanes.

    Arguments:
        client: a client with this terminal's credential.
        day: the business date.
        deadline: seconds for the whole call, retries included.

    Returns:
        the report, ``scope`` ``store``.

    Raises:
        ServerUnreachableError: offline (the hint says the lane's own report works).
        ServerRejectedError, TerminalRevokedError: the server refused.
        ProtocolError: the answer is not a daily report.
    """
    try:
        answer = client.get_model(
            "/v1/reports/daily", WireDailyReport, {"date": day.isoformat()}, deadline=deadline
        )
    except ServerUnreachableError as exc:
        raise ServerUnreachableError(
            f"the store-wide report needs the club server: {exc.message}",
            hint="this lane's own report works offline: 'club-terminal report daily' "
            "without --store",
        ) from exc
    if answer.scope != "store":
        raise ProtocolError(f"GET /v1/reports/daily: not a store report (scope {answer.scope!r})")
    return DailyReport(**answer.model_dump())

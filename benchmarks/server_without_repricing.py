"""``club-server`` with the re-pricing of pushed sales bypassed: the ingest benchmark's baseline.

Only for measuring what re-pricing costs (``docs/benchmarks.md``): everything
else a push does (the arithmetic, returns, unknown members, the points limits,
the ledger, velocity) runs as in the real server. Never serve a club with it::

    CLUB_BENCH_SERVER="$PWD/.venv/bin/python -m benchmarks.server_without_repricing" \\
        .venv/bin/python -m benchmarks.sync --phases ingest --terminals 200 ...
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from club_server import sales
from club_server.cli import main
from clubcore.sale import Sale, SaleKind

_hold = sales._Checker.hold


def _hold_without_repricing(self: Any, sale: Sale) -> tuple[str, str] | None:
    """Unknown members and returns as the server holds them; a sale only over the limits."""
    if sale.kind is not SaleKind.SALE or (sale.member_no and sale.member_no not in self.people):
        return _hold(self, sale)
    return self._over_limit(sale)  # type: ignore[no-any-return]


def _no_rule_sets(conn: Any, versions: Any, now: datetime) -> dict[int, Any]:
    return {}


if __name__ == "__main__":
    sales._Checker.hold = _hold_without_repricing  # type: ignore[method-assign]
    setattr(sales, "snapshots", _no_rule_sets)  # noqa: B010  (replaced for the baseline)
    sys.argv = ["club-server", *sys.argv[1:]]
    main()

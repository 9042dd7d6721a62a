"""The app worker's session (no Kivy): the technician's health check of the sync backlog."""

from __future__ import annotations

from offline_store import outbox
from terminal.bootstrap import Terminal
from terminal.ui.session import UISession


def test_the_health_check_reports_held_and_refused_sales_apart(terminal: Terminal) -> None:
    for _ in range(3):
        checkout = terminal.checkout()
        checkout.add("P000001")
        checkout.complete()
    keys = [row[0] for row in terminal.db.execute("SELECT idempotency_key FROM outbox")]
    session = UISession(terminal)
    checks = {c.key: c for c in session.health({"sim": "ready"})}
    assert checks["tech.check.held"].ok and checks["tech.check.refused"].ok
    with terminal.db.atomic():
        outbox.mark_held(terminal.db, keys[0], None, "over the limit", "now")
        outbox.mark_held(terminal.db, keys[1], None, "over the limit", "now")
        outbox.mark_refused(terminal.db, keys[2], None, "rejected: no", "now")
    checks = {c.key: c for c in session.health({"sim": "ready"})}
    held, refused = checks["tech.check.held"], checks["tech.check.refused"]
    assert (held.ok, held.detail) == (False, "2")
    assert (refused.ok, refused.detail) == (False, "1")
    assert session.sync_panel().status.held == 2

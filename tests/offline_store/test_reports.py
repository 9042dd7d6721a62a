from __future__ import annotations

from datetime import date, timedelta

from offline_store.reports import daily_report
from terminal.bootstrap import Terminal
from terminal.demo_data import DEMO_MANAGER_PIN, member_number
from terminal.refunds import void_sale
from tests.conftest import FixedClock


def ring(terminal: Terminal, member: str | None, sku: str, qty: int) -> int:
    checkout = terminal.checkout()
    if member:
        checkout.identify(member)
    checkout.add(sku, qty)
    return checkout.complete().total


def test_daily_figures_net_of_voids(terminal: Terminal, clock: FixedClock) -> None:
    non_member = ring(terminal, None, "P000001", 1)
    big = ring(terminal, member_number(0), "P000001", 10)
    clock.now += timedelta(hours=2)
    small = [ring(terminal, member_number(i), "P000002", 1) for i in range(1, 5)]
    voided = terminal.checkout()
    voided.add("P000003")
    void_sale(terminal, voided.complete().sale_id, DEMO_MANAGER_PIN)

    report = daily_report(terminal.db, date(2026, 11, 22), "IRT")
    member_total = big + sum(small)
    assert report.sales_count == 7 and report.returns_count == 1
    assert report.total == non_member + member_total
    assert report.member_total == member_total
    assert report.member_share == round(member_total / report.total, 4)
    assert report.members_served == 5
    assert report.top20_share == round(big / member_total, 4)  # top 20 % of 5 = 1 member
    assert report.top_members[0]["member_no"] == member_number(0)
    assert [h["hour"] for h in report.by_hour] == [13, 15]
    assert sum(h["total"] for h in report.by_hour) == report.total
    assert sum(t["total"] for t in report.by_tier) == report.total
    assert report.discount_given == report.list_total - report.total  # no points redeemed


def test_another_day_is_empty(terminal: Terminal) -> None:
    ring(terminal, None, "P000001", 1)
    report = daily_report(terminal.db, date(2026, 11, 21), "IRT")
    assert (report.sales_count, report.total, report.member_share) == (0, 0, 0.0)

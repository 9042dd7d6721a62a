"""Text renderings of sales and reports for the CLI (the UI renders its own)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

from clubcore.money import Currency, format_amount
from clubcore.reports import DailyReport
from clubcore.sale import Sale

__all__ = ["receipt_text", "report_csv", "report_text"]


def _table(rows: Iterable[Iterable[object]], header: list[str], right: set[int]) -> list[str]:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [fmt(cells[0]), "  ".join("-" * w for w in widths), *map(fmt, cells[1:])]


def receipt_text(sale: Sale, currency: Currency, member_name: str | None = None,
                 balance: int | None = None) -> str:  # fmt: skip
    """A receipt: lines with list and member prices, savings, points and totals."""

    def money(amount: int) -> str:
        return format_amount(amount, currency)

    title = {"sale": "SALE", "void": "VOID", "refund": "REFUND"}[sale.kind]
    number = f" no. {sale.sale_no}" if sale.sale_no is not None else ""
    out = [
        f"{title}{number} {sale.sale_id}",
        f"{sale.created_at:%Y-%m-%d %H:%M} UTC  terminal {sale.terminal_id}  store {sale.store_id}",
    ]
    if sale.cashier_id:
        out.append(f"cashier {sale.cashier_id}")
    if sale.ref_sale_id:
        out.append(f"refers to sale {sale.ref_sale_id}")
    if sale.member_no:
        who = f"{member_name} " if member_name else ""
        out.append(f"member {who}({sale.member_no}, {sale.tier}) identified by {sale.id_method}")
    else:
        out.append("non-member: list prices")
    rows = [
        (
            line.name,
            line.quantity,
            money(line.list_unit),
            money(line.unit_price),
            money(line.line_total),
            money(line.list_total - line.line_total) if line.list_total != line.line_total else "",
        )
        for line in sale.lines
    ]
    out += [
        "",
        *_table(rows, ["item", "qty", "list", "price", "total", "saved"], {1, 2, 3, 4, 5}),
        "",
    ]
    out.append(f"list total       {money(sale.subtotal_list)}")
    out.append(f"member savings   {money(sale.member_discount)}")
    if sale.points_redeemed:
        out.append(f"points redeemed  {sale.points_redeemed} = {money(sale.points_discount)}")
    out.append(f"TOTAL            {money(sale.total)}  ({sale.tender})")
    for payment in sale.payments:
        ref = f"  ref {payment.reference}" if payment.reference else ""
        handed = f"  handed over {money(payment.tendered)}" if payment.tendered else ""
        out.append(f"  {payment.tender:<14} {money(payment.amount)}{handed}{ref}")
    if any(p.change for p in sale.payments):
        out.append(f"CHANGE           {money(sum(p.change for p in sale.payments))}")
    if sale.member_no:
        out.append(f"points earned    {sale.points_earned}")
        if balance is not None:
            out.append(f"points balance   {balance}")
    out.append(f"priced with rule set v{sale.rules_version}")
    return "\n".join(out)


def _summary(r: DailyReport, money: Callable[[int], str]) -> list[str]:
    discounts = f"member prices {money(r.member_discount)}, points {money(r.points_discount)}"
    return [
        f"Daily member sales {r.business_date} ({r.scope} data)",
        "",
        f"sales            {r.sales_count} (+{r.returns_count} voids/refunds)",
        f"net total        {money(r.total)}",
        f"members          {money(r.member_total)} = {r.member_share:.1%} of sales, "
        f"{r.member_count_share:.1%} of receipts",
        f"non-members      {money(r.non_member_total)}",
        f"discount given   {money(r.discount_given)} ({discounts})",
        f"points           {r.points_earned} earned, {r.points_redeemed} redeemed",
        f"80/20            top 20% of {r.members_served} members made "
        f"{r.top20_share:.1%} of member sales",
    ]


def report_text(report: DailyReport, currency: Currency) -> str:
    """The daily report as tables for a terminal."""

    def money(amount: int) -> str:
        return format_amount(amount, currency)

    tiers = (
        [t["tier"], t["sales"], money(t["total"]), money(t["discount"]), t["points_earned"]]
        for t in report.by_tier
    )
    hours = (
        [f"{h['hour']:02d}:00", h["sales"], money(h["total"]), money(h["member_total"])]
        for h in report.by_hour
    )
    top = (
        [m["member_no"], m["display_name"] or "?", m["tier"] or "?", m["visits"], money(m["total"])]
        for m in report.top_members
    )
    return "\n".join(
        [
            *_summary(report, money),
            "",
            "By tier",
            *_table(tiers, ["tier", "sales", "total", "discount", "points"], {1, 2, 3, 4}),
            "",
            "By hour",
            *_table(hours, ["hour", "sales", "total", "members"], {1, 2, 3}),
            "",
            "Top members",
            *_table(top, ["member", "name", "tier", "visits", "total"], {3, 4}),
        ]
    )


def report_csv(report: DailyReport) -> str:
    """The daily report in long CSV form: section, key, field, value (amounts in minor units)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "key", "field", "value"])
    data: dict[str, Any] = report.as_dict()
    for name in ("by_tier", "by_hour", "top_members"):
        keyed = {"by_tier": "tier", "by_hour": "hour", "top_members": "member_no"}[name]
        for row in data.pop(name):
            for field_name, value in row.items():
                if field_name != keyed:
                    writer.writerow([name, row[keyed], field_name, value])
    for field_name, value in data.items():
        writer.writerow(["summary", "", field_name, value])
    return buffer.getvalue()

"""What a receipt says: a sale with its store, lane, cashier and member, in one language.

A :class:`Receipt` holds finished text in *logical* order (the order it is
read in); drawing it (:mod:`terminal.receipts.image`) shapes and reorders
Persian. Amounts are whole display units (toman): a receipt never shows a
fraction of a toman (:func:`clubcore.money.to_display_units`).
Dates are local; Jalali in Persian.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlite_utils

from clubcore.errors import UnknownMemberError
from clubcore.money import Currency, to_display_units
from clubcore.sale import Sale, SaleLine
from clubcore.tiers import tier_progress
from offline_store import members, pricing_data
from terminal.ui.i18n import Lang

#: an amount in minor units -> its text on the receipt
Money = Callable[[int], str]

__all__ = ["Receipt", "ReceiptContext", "ReceiptItem", "build_receipt", "receipt_context"]


@dataclass(frozen=True, slots=True)
class ReceiptItem:
    """One line of the sale: name, ``qty x price`` (and the list price when lower), total."""

    name: str
    detail: str
    total: str
    list_detail: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt's text, section by section, in logical order."""

    lang: str
    header: tuple[str, ...]
    title: str
    items: tuple[ReceiptItem, ...]
    totals: tuple[tuple[str, str], ...]
    payments: tuple[tuple[str, str], ...]
    member: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()
    qr: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptContext:
    """What a receipt needs besides the sale (read from the lane's store)."""

    store: str
    lane: str
    timezone: ZoneInfo
    currency: Currency
    cashier: str | None = None
    member_name: str | None = None
    balance: int | None = None
    progress: tuple[int, str] | None = None  # (spend still needed, next tier's code)
    offer: str | None = None
    extra: tuple[str, ...] = field(default=())


def receipt_context(
    db: sqlite_utils.Database,
    sale: Sale,
    *,
    store: str,
    timezone: ZoneInfo,
    currency: Currency,
    lang: str = "en",
) -> ReceiptContext:
    """The context of ``sale`` from the lane's store: cashier, member, tier progress, offer."""
    cashier = None
    if sale.cashier_id:
        row = db.execute("SELECT name FROM staff WHERE staff_id = ?", [sale.cashier_id]).fetchone()
        cashier = str(row[0]) if row else sale.cashier_id
    context = ReceiptContext(store, sale.terminal_id, timezone, currency, cashier)
    if sale.member_no is None:
        return context
    try:
        member = members.get_member(db, sale.member_no)
    except UnknownMemberError:
        return context
    progress = tier_progress(pricing_data.load_tiers(db).values(), member.tier, member.spend_12m)
    offers = pricing_data.offers_for(db, member.member_no, sale.created_at)
    personal = [o for o in offers if o.target_member == member.member_no] or offers
    offer = None
    if personal:
        title, message = personal[0].text_in(lang)
        offer = f"{title}: {message}" if message else title
    return ReceiptContext(
        store,
        sale.terminal_id,
        timezone,
        currency,
        cashier,
        member.display_name,
        member.points_balance,
        (progress.to_next, progress.next.code) if progress.next else None,
        offer,
    )


def _ltr(text: str) -> str:
    """``text`` followed by a left-to-right mark, so a Latin name's final "." stays with it
    inside a Persian line (bidi would move it to the name's other side)."""
    return f"{text}\u200e"


def build_receipt(sale: Sale, context: ReceiptContext, lang: Lang) -> Receipt:
    """The receipt of ``sale`` in ``lang``."""

    def money(amount: int) -> str:
        return lang.num(to_display_units(amount, context.currency))

    unit = lang.unit(context.currency)
    local = sale.created_at.astimezone(context.timezone)
    when = f"{lang.date(local.date())} {lang.digits(local.strftime('%H:%M'))}"
    header = [context.store, lang.t("receipt.lane", lane=context.lane)]
    if context.cashier:
        header.append(lang.t("receipt.cashier", name=_ltr(context.cashier)))
    number = lang.num(sale.sale_no) if sale.sale_no is not None else "-"
    header += [lang.t("receipt.number", number=number), when]
    items = tuple(_item(line, money, lang) for line in sale.lines)
    totals = [(lang.t("receipt.list_total"), money(sale.subtotal_list))]
    if sale.member_discount:
        totals.append((lang.t("receipt.savings"), money(sale.member_discount)))
    if sale.points_discount:
        points = lang.num(abs(sale.points_redeemed))
        totals.append((lang.t("receipt.points_paid", points=points), money(sale.points_discount)))
    totals.append((lang.t("receipt.total", unit=unit), money(sale.total)))
    return Receipt(
        lang=lang.code,
        header=tuple(header),
        title=lang.t(f"receipt.kind.{sale.kind}"),
        items=items,
        totals=tuple(totals),
        payments=_payments(sale, money, lang),
        member=_member(sale, context, money, lang),
        footer=(lang.t("receipt.thanks"),),
        qr=sale.sale_id,
    )


def _item(line: SaleLine, money: Money, lang: Lang) -> ReceiptItem:
    qty = lang.num(abs(line.quantity))
    detail = f"{qty} × {money(line.unit_price)}"
    listed = ""
    if line.list_unit != line.unit_price:
        listed = lang.t("receipt.list_price", price=money(line.list_unit))
    return ReceiptItem(line.name, detail, money(line.line_total), listed)


def _payments(sale: Sale, money: Money, lang: Lang) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str]] = []
    for payment in sale.payments:
        label = lang.t(f"tender.{payment.tender}")
        if payment.reference:
            label = f"{label} ({lang.t('receipt.reference')} {lang.digits(payment.reference)})"
        rows.append((label, money(payment.amount)))
        if payment.tendered is not None and payment.change:
            rows.append((lang.t("receipt.handed_over"), money(payment.tendered)))
            rows.append((lang.t("receipt.change"), money(payment.change)))
    if not sale.payments:
        rows.append((lang.t(f"tender.{sale.tender}"), money(sale.total)))
    return tuple(rows)


def _member(sale: Sale, context: ReceiptContext, money: Money, lang: Lang) -> tuple[str, ...]:
    if sale.member_no is None:
        return ()
    tier = lang.t_or(f"tier.{sale.tier}", sale.tier or "")
    name = _ltr(context.member_name or sale.member_no)
    rows = [
        lang.t("receipt.member", name=name, tier=tier),
        lang.t("receipt.member_no", number=lang.digits(sale.member_no)),
    ]
    rows.append(lang.t("receipt.points_earned", points=lang.num(sale.points_earned)))
    if sale.points_redeemed:
        rows.append(lang.t("receipt.points_redeemed", points=lang.num(sale.points_redeemed)))
    if context.balance is not None:
        rows.append(lang.t("receipt.balance", points=lang.num(context.balance)))
    if context.progress is not None:
        needed, code = context.progress
        amount = f"{money(needed)} {lang.unit(context.currency)}"
        rows.append(lang.t("member.progress", amount=amount, tier=lang.t_or(f"tier.{code}", code)))
    if context.offer:
        rows.append(context.offer)
    return tuple(rows)

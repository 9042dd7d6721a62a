"""How a sale is paid: cash with change, card with the bank's reference, or both.

A sale's *payments* are what the customer handed over, by tender, in the
order taken. Points are not a payment: a redemption is a discount already
inside the sale's ``total`` (:mod:`clubcore.pricing`), so "points, card and
cash in one sale" is a redemption and two payments.

Rules (:func:`check_payments` states them; both ends check them):

- every payment's ``amount`` is positive and the amounts add up to the
  sale's ``total`` exactly (integer minor units; nothing is rounded here);
- cash: ``tendered`` is what the customer handed over, at least ``amount``;
  the change due is ``tendered - amount``. At most one cash payment per sale,
  and it is the last one taken (change comes out of the last cash handed over);
- card: no ``tendered``; ``reference`` is the bank terminal's reference
  number (its retrieval reference), required for a card payment taken at
  the till;
- a sale of total 0 (all paid in points) has no payment.

A sale paid one way has :class:`~clubcore.sale.Tender` ``cash`` or ``card``;
paid several ways, ``split``. A void or refund pays back the way the sale
was paid; a split sale is paid back in cash.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clubcore.errors import TenderError

__all__ = [
    "MAX_REFERENCE",
    "Payment",
    "Tender",
    "cash_payment",
    "change_due",
    "check_payments",
    "quick_amounts",
    "remaining",
    "tender_of",
]

#: the most characters a card reference may have (RRNs are 12 digits; some banks add letters)
MAX_REFERENCE = 40


class Tender(enum.StrEnum):
    """How a sale was paid: one tender, or ``split`` (its payments say how)."""

    CASH = "cash"
    CARD = "card"
    SPLIT = "split"


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment of a sale: ``amount`` of the total, by ``tender``.

    Attributes:
        tender: cash or card (never split).
        amount: the part of the sale's total this payment covers (minor units).
        tendered: cash only: what the customer handed over (at least ``amount``).
        reference: card only: the bank terminal's reference number.
    """

    tender: Tender
    amount: int
    tendered: int | None = None
    reference: str | None = None

    @property
    def change(self) -> int:
        """The change due on this payment (cash handed over beyond its amount)."""
        if self.tendered is None:
            return 0
        return self.tendered - self.amount


def cash_payment(amount: int, tendered: int | None = None) -> Payment:
    """A cash payment of ``amount``, ``tendered`` handed over (exact money if None)."""
    return Payment(Tender.CASH, amount, amount if tendered is None else tendered)


def change_due(payments: Iterable[Payment]) -> int:
    """The change the customer gets back, over all payments."""
    return sum(p.change for p in payments)


def remaining(total: int, payments: Iterable[Payment]) -> int:
    """What is still to pay of ``total`` after ``payments`` (never below zero)."""
    return max(total - sum(p.amount for p in payments), 0)


def tender_of(payments: Sequence[Payment]) -> Tender:
    """The sale's tender: the one tender used, ``split`` for several, cash for none."""
    kinds = {p.tender for p in payments}
    if len(kinds) > 1 or len(payments) > 1:
        return Tender.SPLIT
    return payments[0].tender if payments else Tender.CASH


def check_payments(total: int, payments: Sequence[Payment]) -> list[str]:
    """What is wrong with ``payments`` for a sale of ``total``; empty when nothing."""
    problems: list[str] = []
    if total > 0 and not payments:
        problems.append("a sale with something to pay needs a payment")
    paid = sum(p.amount for p in payments)
    if payments and paid != total:
        problems.append(f"the payments add up to {paid}, not the total {total}")
    cash = [n for n, p in enumerate(payments) if p.tender is Tender.CASH]
    if len(cash) > 1:
        problems.append("at most one cash payment per sale")
    elif cash and cash[0] != len(payments) - 1:
        problems.append("the cash payment is the last one taken")
    for n, payment in enumerate(payments, 1):
        problems += [f"payment {n}: {p}" for p in _payment_problems(payment)]
    return problems


def _payment_problems(payment: Payment) -> list[str]:
    problems: list[str] = []
    if payment.amount <= 0:
        problems.append(f"amount {payment.amount} is not positive")
    if payment.tender is Tender.CASH:
        if payment.tendered is None or payment.tendered < payment.amount:
            problems.append("cash handed over must be at least the amount")
        if payment.reference is not None:
            problems.append("a cash payment has no reference")
    elif payment.tender is Tender.CARD:
        if payment.tendered is not None:
            problems.append("a card payment has no amount handed over")
        ref = payment.reference
        if ref is not None and not (0 < len(ref) <= MAX_REFERENCE and ref.isprintable()):
            problems.append(f"a card reference is 1..{MAX_REFERENCE} printable characters")
    else:
        problems.append(f"tender {payment.tender} is not cash or card")
    return problems


def quick_amounts(due: int, notes: Sequence[int], limit: int = 4) -> list[int]:
    """Amounts a customer is likely to hand over for ``due``: exact, then rounded up to notes.

    For each note value (smallest first), ``due`` rounded up to a multiple of
    it; duplicates dropped, at most ``limit``, ascending. ``notes`` are in
    minor units (toman notes are ``10 x`` in rial).

    Raises:
        TenderError: ``due`` negative or a note not positive.
    """
    if due < 0 or any(note <= 0 for note in notes):
        raise TenderError("the amount due and the note values must be positive")
    amounts = {due} if due else set()
    for note in sorted(notes):
        amounts.add(-(-due // note) * note if due else note)
    return sorted(amounts)[:limit]

"""Money as an integer count of the currency's minor unit. Never float.

Rounding rule (the only one in the project): a percentage is held in basis
points (1 bp = 0.01 %), and ``percent_of(amount, bp)`` rounds half up to the
nearest minor unit, computed in integers: ``(amount * bp + 5000) // 10000``.
A discounted unit price is ``amount - percent_of(amount, bp)``, so the
customer gets the half unit. Line totals are ``unit price * quantity``, so a
basket's total is exactly the sum of its lines.

Display: the Iranian rial has no minor unit in practice and prices are often
shown in toman (10 rial); :class:`Currency` carries the display divisor.
People are shown whole display units: :func:`to_display_units` rounds half
up (away from zero for negatives) to a whole toman, on screens, receipts and
the manager's figures; stored amounts are never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BP_ONE",
    "CURRENCIES",
    "Currency",
    "apply_percent",
    "format_amount",
    "percent_of",
    "round_for_display",
    "to_display_units",
]

#: 100 % in basis points
BP_ONE = 10_000


def percent_of(amount: int, bp: int) -> int:
    """``bp`` basis points of ``amount`` minor units, rounded half up.

    Arguments:
        amount: a non-negative amount in minor units.
        bp: basis points, 0..10000.

    Raises:
        ValueError: a negative amount, or bp outside 0..10000.
    """
    if amount < 0:
        raise ValueError(f"amount must not be negative: {amount}")
    if not 0 <= bp <= BP_ONE:
        raise ValueError(f"basis points must be within 0..10000: {bp}")
    return (amount * bp + BP_ONE // 2) // BP_ONE


def apply_percent(amount: int, bp: int) -> int:
    """``amount`` less ``bp`` basis points of it (the customer keeps the rounding)."""
    return amount - percent_of(amount, bp)


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency: ISO code, how amounts are stored, how they are shown.

    Attributes:
        code: ISO 4217 code (``IRR``).
        minor_digits: decimal digits of the stored minor unit (IRR: 0, EUR: 2).
        display_divisor: stored units per displayed unit (toman: 10 rial).
        display_symbol: the unit shown to people (``toman``).
    """

    code: str
    minor_digits: int
    display_divisor: int = 1
    display_symbol: str = ""

    @property
    def whole_unit(self) -> int:
        """Minor units in one whole display unit (toman: 10 rial; euro: 100 cents)."""
        return int(10**self.minor_digits * self.display_divisor)


CURRENCIES: dict[str, Currency] = {
    "IRR": Currency("IRR", 0, 1, "rial"),
    "IRT": Currency("IRR", 0, 10, "toman"),
    "EUR": Currency("EUR", 2, 1, "€"),
    "USD": Currency("USD", 2, 1, "$"),
}


def format_amount(amount: int, currency: Currency) -> str:
    """``amount`` minor units as a grouped decimal string in the display unit.

    Amounts that do not divide by the display divisor keep the remainder as
    decimals (12,345 rial shown in toman is ``1,234.5``), so nothing is hidden.
    """
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    scale = currency.whole_unit
    digits = currency.minor_digits + len(str(currency.display_divisor)) - 1
    whole, frac = divmod(amount, scale)
    text = f"{whole:,}"
    decimals = str(frac).rjust(digits, "0")
    # always show the currency's own decimals; show display-unit fractions only when nonzero
    kept = decimals[: currency.minor_digits] + decimals[currency.minor_digits :].rstrip("0")
    if kept:
        text = f"{text}.{kept}"
    suffix = f" {currency.display_symbol}" if currency.display_symbol else ""
    return f"{sign}{text}{suffix}"


def to_display_units(amount: int, currency: Currency) -> int:
    """``amount`` minor units as a whole number of display units, half up (away from zero).

    Toman: 822,796 rial -> 82,280 toman; -822,796 -> -82,280.
    """
    unit = currency.whole_unit
    whole = (abs(amount) + unit // 2) // unit
    return -whole if amount < 0 else whole


def round_for_display(amount: int, currency: Currency) -> int:
    """``amount`` rounded to a whole display unit, still in minor units (for
    :func:`format_amount`): a currency without minor digits (rial shown in toman)
    shows no fraction of a toman; one with cents keeps its cents."""
    if currency.minor_digits:
        return amount
    return to_display_units(amount, currency) * currency.whole_unit

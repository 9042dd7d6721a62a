"""Calendar dates as people and lanes write them: ISO ``YYYY-MM-DD`` or Jalali ``1405-09-10``.

:func:`parse_day` is the one strict reader of a date given as text (a query's
``date``, an operator's option). It takes exactly four digits, a dash, two
digits, a dash and two digits (Latin, Persian or Arabic-Indic digits); a year
before :data:`JALALI_BEFORE` is a Solar Hijri (Jalali) year, converted with
``jdatetime``, any later year a Gregorian one. Nothing else is a date: no
timestamps (``0.0``), no week dates, no times.
"""

from __future__ import annotations

import re
from datetime import date

import jdatetime

from clubcore.errors import FormatError

__all__ = ["JALALI_BEFORE", "parse_day"]

#: years below this are Jalali (1405 is 2026); Gregorian dates this early are not business days
JALALI_BEFORE = 1700
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
#: Persian (U+06F0..) and Arabic-Indic (U+0660..) digits read as 0-9
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def parse_day(text: str) -> date:
    """The Gregorian date ``text`` names (ISO ``2026-12-01`` or Jalali ``1405-09-10``).

    Raises:
        FormatError: not ``YYYY-MM-DD``, or not a day of its calendar.
    """
    found = _DAY.fullmatch(text.translate(_DIGITS)) if len(text) == 10 else None
    if found is None:
        raise FormatError(f"a date is YYYY-MM-DD (ISO or Jalali), not {text[:20]!r}")
    year, month, day = (int(part) for part in found.groups())
    try:
        if year < JALALI_BEFORE:
            gregorian: date = jdatetime.date(year, month, day).togregorian()
            return gregorian
        return date(year, month, day)
    except ValueError:
        raise FormatError(f"{text} is not a day of its calendar") from None

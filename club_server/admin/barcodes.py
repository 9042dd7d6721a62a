"""Product barcodes: EAN-13, EAN-8 and UPC-A, with their check digits validated.

The check is python-stdnum's (:mod:`stdnum.ean`); this module only says which
lengths a product may carry and turns its errors into ours. Persian and
Arabic-Indic digits, spaces and dashes are accepted and normalised away.
"""

from __future__ import annotations

from stdnum import ean
from stdnum.exceptions import ValidationError

from clubcore.errors import FormatError
from clubcore.identity import normalise_digits

__all__ = ["KINDS", "normalise_barcode"]

#: the lengths we accept, by what they are called
KINDS = {13: "EAN-13", 12: "UPC-A", 8: "EAN-8"}


def normalise_barcode(text: str) -> str:
    """The barcode's digits, once its check digit is right.

    Raises:
        FormatError: not 8, 12 or 13 digits, or a wrong check digit.
    """
    digits = normalise_digits(text).replace(" ", "").replace("-", "")
    if not digits.isdigit() or len(digits) not in KINDS:
        raise FormatError(f"barcode {text!r} is not an EAN-13, UPC-A or EAN-8 (8, 12 or 13 digits)")
    try:
        return str(ean.validate(digits))
    except ValidationError:
        raise FormatError(f"barcode {text!r}: wrong {KINDS[len(digits)]} check digit") from None

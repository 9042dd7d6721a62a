"""A recorded sale, void or refund, and its wire form.

A sale is never edited or deleted once recorded. A void (the whole sale) or a
refund (some lines) is a new record of kind ``void`` / ``refund`` that
references the original; its quantities, amounts and points are negative, so
sums over all records give net figures.

The ``sale_id`` is also the idempotency key the sync protocol pushes it with.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from clubcore.errors import FormatError
from clubcore.pricing import PricedBasket, PricedLine

__all__ = [
    "LINE_FIELDS",
    "SALE_FIELDS",
    "Sale",
    "SaleKind",
    "SaleLine",
    "Tender",
    "new_sale_id",
]

WIRE_VERSION = 1


class SaleKind(enum.StrEnum):
    SALE = "sale"
    VOID = "void"
    REFUND = "refund"


class Tender(enum.StrEnum):
    CASH = "cash"
    CARD = "card"


def new_sale_id() -> str:
    """A fresh, globally unique sale id (a UUID4 in canonical text form)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class SaleLine:
    line_no: int
    sku: str
    name: str
    category: str
    quantity: int
    list_unit: int
    unit_price: int
    source: str
    offer_id: str | None = None
    stacked_offer_id: str | None = None

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    def values(self) -> tuple[object, ...]:
        """The fields in declaration order (cheaper than ``dataclasses.astuple``)."""
        return tuple(getattr(self, name) for name in LINE_FIELDS)

    @property
    def list_total(self) -> int:
        return self.list_unit * self.quantity

    @classmethod
    def from_priced(cls, line: PricedLine) -> SaleLine:
        return cls(
            line.line_no,
            line.sku,
            line.name,
            line.category,
            line.quantity,
            line.list_unit,
            line.unit_price,
            str(line.source),
            line.offer_id,
            line.stacked_offer_id,
        )


@dataclass(frozen=True, slots=True)
class Sale:
    """One recorded transaction, as stored locally and pushed to the server."""

    sale_id: str
    kind: SaleKind
    terminal_id: str
    store_id: str
    created_at: datetime
    business_date: date
    hour: int
    rules_version: int
    currency: str
    subtotal_list: int
    member_discount: int
    subtotal: int
    points_redeemed: int
    points_discount: int
    total: int
    points_earned: int
    tender: Tender
    lines: tuple[SaleLine, ...] = field(default=())
    member_no: str | None = None
    tier: str | None = None
    id_method: str | None = None
    ref_sale_id: str | None = None
    staff_id: str | None = None
    reason: str | None = None

    @classmethod
    def from_basket(
        cls, basket: PricedBasket, *, tender: Tender, id_method: str | None, **context: Any
    ) -> Sale:
        """A new sale from a priced basket; ``context`` gives ids, times and currency."""
        customer = basket.customer
        return cls(
            kind=SaleKind.SALE,
            rules_version=basket.rules_version,
            subtotal_list=basket.subtotal_list,
            member_discount=basket.member_discount,
            subtotal=basket.subtotal,
            points_redeemed=basket.points_redeemed,
            points_discount=basket.points_discount,
            total=basket.total,
            points_earned=basket.points_earned,
            tender=tender,
            lines=tuple(SaleLine.from_priced(line) for line in basket.lines),
            member_no=customer.member_no if customer else None,
            tier=customer.tier if customer else None,
            id_method=id_method if customer else None,
            **context,
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready wire form (see docs/sync-protocol when it exists)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in SALE_FIELDS}
        data["v"] = WIRE_VERSION
        data["kind"] = str(self.kind)
        data["tender"] = str(self.tender)
        data["created_at"] = self.created_at.isoformat()
        data["business_date"] = self.business_date.isoformat()
        data["lines"] = [dict(zip(LINE_FIELDS, line.values(), strict=True)) for line in self.lines]
        return data

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Sale:
        """Parse the wire form.

        Raises:
            FormatError: a missing, extra or mistyped field.
        """
        try:
            fields = dict(data)
            if fields.pop("v", None) != WIRE_VERSION:
                raise ValueError(f"unsupported wire version {data.get('v')!r}")
            fields["kind"] = SaleKind(fields["kind"])
            fields["tender"] = Tender(fields["tender"])
            fields["created_at"] = datetime.fromisoformat(fields["created_at"])
            fields["business_date"] = date.fromisoformat(fields["business_date"])
            fields["lines"] = tuple(SaleLine(**line) for line in fields["lines"])
            return cls(**fields)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"malformed sale record: {exc}") from exc


#: field names, in order; ``SALE_FIELDS`` leaves out ``lines``
LINE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(SaleLine))
SALE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Sale) if f.name != "lines")

"""Immutable snapshots the worker hands to the screens (no Kivy, no database).

The worker builds them from the services' results, so a screen renders from
plain values and never reaches back into the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clubcore.pricing import Offer
from clubcore.reports import DailyReport

__all__ = [
    "BasketView",
    "HealthCheck",
    "LineView",
    "ManagerView",
    "MemberView",
    "ProductView",
    "RedeemInfo",
    "SaleDone",
    "SaleRow",
    "TestRead",
]


@dataclass(frozen=True, slots=True)
class LineView:
    """One basket line."""

    line_no: int
    sku: str
    name: str
    quantity: int
    list_total: int
    line_total: int
    savings: int
    source: str


@dataclass(frozen=True, slots=True)
class MemberView:
    """The identified member, as the member panel shows them."""

    member_no: str
    name: str
    tier: str
    tier_name: str
    points_balance: int
    next_tier: str | None  # code of the next tier by spend, None at the top
    next_tier_name: str
    to_next: int  # spend still needed (minor units)
    progress: float  # 0..1 towards the next tier
    offers: tuple[Offer, ...]  # the member's own (their words: Offer.text_in)
    id_method: str  # a clubcore.identity.IdMethod value; "" when not known
    unsynced: bool = False


@dataclass(frozen=True, slots=True)
class BasketView:
    """The priced basket and its customer."""

    lines: tuple[LineView, ...]
    subtotal_list: int
    member_discount: int
    points_redeemed: int
    points_discount: int
    total: int
    points_earned: int
    member: MemberView | None
    read_at: float | None = None  # CardRead.monotonic that led here, for latency probes

    @property
    def items(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product button."""

    sku: str
    name: str
    list_price: int
    member_only: bool


@dataclass(frozen=True, slots=True)
class RedeemInfo:
    """What the redemption dialog shows."""

    balance: int
    max_points: int
    max_amount: int
    min_redeem: int
    max_redeem_bp: int
    offline_cap: int
    current: int


@dataclass(frozen=True, slots=True)
class SaleDone:
    """A completed, durably recorded sale."""

    sale_id: str
    total: int
    tender: str
    points_earned: int
    basket: BasketView


@dataclass(frozen=True, slots=True)
class SaleRow:
    """One of today's records on the manager screen."""

    sale_id: str
    kind: str
    time: str  # HH:MM local
    total: int
    member_no: str | None
    returned: bool  # has a void or refund already


@dataclass(frozen=True, slots=True)
class ManagerView:
    """The manager screen's data: the day's report and today's records."""

    report: DailyReport
    sales: tuple[SaleRow, ...]
    pending: int
    store_wide: bool = False  # False: this lane's own data


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One line of the technician's health check."""

    key: str  # strings key of the check's name
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class TestRead:
    """The result of a technician's test read."""

    source: str
    kind: str
    accepted: bool
    member_no: str = ""
    strength: str = ""
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)

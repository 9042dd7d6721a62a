"""The admin API's requests and answers (pydantic): one definition for HTTP, CLI and OpenAPI.

Requests refuse unknown fields (a typo is an error, not a silent no-op);
answers are what the services return. Translations are objects keyed by a
two-letter language code (``{"fa": "شیر", "en": "Milk"}``); the row's plain
``name`` is what lanes show (the wire carries one name).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from club_server.admin.barcodes import normalise_barcode
from clubcore.errors import FormatError
from clubcore.wire import IsoTime, Str, Text

__all__ = [
    "Account",
    "AccountIn",
    "AccountUpdate",
    "AuditEntry",
    "Category",
    "CategoryDiscount",
    "CategoryDiscountIn",
    "CategoryIn",
    "Done",
    "LoginRequest",
    "Member",
    "MemberMerge",
    "MemberPrice",
    "MemberPriceIn",
    "MemberUpdate",
    "Offer",
    "OfferIn",
    "OfferText",
    "Product",
    "ProductIn",
    "Session",
    "Store",
    "StoreIn",
    "Tier",
    "TierIn",
    "TierRetire",
    "Token",
    "TokenCreated",
    "TokenIn",
    "WhoAmI",
]

Lang = Annotated[str, Field(pattern=r"^[a-z]{2}$")]
Names = Annotated[dict[Lang, Text], Field(max_length=8)]
Money = Annotated[int, Field(ge=0, le=10**15)]
BasisPoints = Annotated[int, Field(ge=0, le=10_000)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Done(Answer):
    """What was done, for an action without another answer (a delete, a sign-out)."""

    done: str


# -- accounts -----------------------------------------------------------------------------


class LoginRequest(Request):
    username: Text
    password: Annotated[str, Field(min_length=1, max_length=200)]


class Session(Answer):
    token: str = Field(description="the bearer token (cs_…), shown once")
    expires_at: str
    username: str
    role: str


class WhoAmI(Answer):
    kind: str = Field(description="account or token")
    name: str
    role: str
    stores: list[str]


class AccountIn(Request):
    username: Code
    role: Literal["admin", "operator", "store_manager"]
    password: Annotated[str, Field(min_length=10, max_length=200)]
    stores: list[Code] = Field(default_factory=list, description="a store manager's stores")


class AccountUpdate(Request):
    role: Literal["admin", "operator", "store_manager"] | None = None
    stores: list[Code] | None = None
    password: Annotated[str, Field(min_length=10, max_length=200)] | None = None
    disabled: StrictBool | None = None


class Account(Answer):
    username: str
    role: str
    stores: list[str]
    created_at: str
    disabled_at: str | None


class TokenIn(Request):
    name: Text
    scope: Literal["import"] = "import"
    expires_at: IsoTime | None = None


class TokenCreated(Answer):
    token_id: str
    token: str = Field(description="the secret (ct_…): shown once, stored only as a hash")
    scope: str
    expires_at: str | None


class Token(Answer):
    token_id: str
    name: str
    scope: str
    created_by: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class AuditEntry(Answer):
    entry_id: int
    at: str
    actor: str
    entity: str
    key: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# -- catalog ------------------------------------------------------------------------------


class CategoryIn(Request):
    name: Text
    names: Names = Field(default_factory=dict)
    parent: Code | None = None


class Category(Answer):
    code: str
    name: str
    names: dict[str, str]
    parent: str | None


class ProductIn(Request):
    name: Text
    names: Names = Field(default_factory=dict)
    category: Code
    list_price: Money
    member_only: StrictBool = False
    active: StrictBool = True
    barcodes: Annotated[list[str], Field(max_length=20)] = Field(
        default_factory=list, description="EAN-13, UPC-A or EAN-8; the first is the lanes'"
    )

    @field_validator("barcodes")
    @classmethod
    def _check_digits(cls, values: list[str]) -> list[str]:
        try:
            found = [normalise_barcode(v) for v in values]
        except FormatError as exc:
            raise ValueError(str(exc)) from None
        if len(set(found)) != len(found):
            raise ValueError("a barcode is listed twice")
        return found


class Product(Answer):
    sku: str
    name: str
    names: dict[str, str]
    category: str
    list_price: int
    member_only: bool
    active: bool
    barcodes: list[str]
    updated_at: str


class MemberPriceIn(Request):
    price: Money
    above_list: StrictBool = Field(False, description="allow a member price above list price")


class MemberPrice(Answer):
    sku: str
    tier: str
    price: int


class CategoryDiscountIn(Request):
    percent_bp: BasisPoints = Field(description="basis points: 500 is 5 %")


class CategoryDiscount(Answer):
    category: str
    tier: str
    percent_bp: int


class OfferText(Request):
    title: Text
    message: Str = ""


class OfferIn(Request):
    title: Text
    message: Str = ""
    texts: Annotated[dict[Lang, OfferText], Field(max_length=8)] = Field(default_factory=dict)
    unit_price: Money | None = None
    percent_bp: BasisPoints | None = None
    sku: Code | None = None
    category: Code | None = None
    target: Literal["all", "tier", "segment", "member"] = "all"
    target_value: Code | None = Field(None, description="the tier, segment or member number")
    starts_at: IsoTime | None = None
    ends_at: IsoTime | None = None
    stacks: StrictBool = False
    enabled: StrictBool = True

    @model_validator(mode="after")
    def _consistent(self) -> OfferIn:
        if (self.unit_price is None) == (self.percent_bp is None):
            raise ValueError("an offer has either unit_price or percent_bp")
        if self.unit_price is not None and self.sku is None:
            raise ValueError("a unit_price offer names its sku")
        if (self.target == "all") != (self.target_value is None):
            raise ValueError("target_value names the tier, segment or member (none for all)")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("the offer ends before it starts")
        return self


class Offer(Answer):
    offer_id: str
    title: str
    message: str
    texts: dict[str, dict[str, str]]
    unit_price: int | None
    percent_bp: int | None
    sku: str | None
    category: str | None
    target: str
    target_value: str | None
    starts_at: str | None
    ends_at: str | None
    stacks: bool
    enabled: bool


class TierIn(Request):
    name: Text
    names: Names = Field(default_factory=dict)
    rank: Annotated[int, Field(ge=0, le=1000)]
    min_spend: Money = 0
    earn_multiplier_bp: Annotated[int, Field(ge=0, le=100_000)] = 10_000
    assignable: StrictBool = Field(True, description="False: members are put in it by the club")
    benefits: Annotated[list[Text], Field(max_length=20)] = Field(default_factory=list)


class Tier(Answer):
    code: str
    name: str
    names: dict[str, str]
    rank: int
    min_spend: int
    earn_multiplier_bp: int
    assignable: bool
    benefits: list[str]
    retired_at: str | None


class TierRetire(Request):
    move_to: Code = Field(description="the tier its members move to")


# -- members and stores -------------------------------------------------------------------


class MemberUpdate(Request):
    display_name: Text | None = None
    full_name: Text | None = None
    phone: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="a mobile number; empty text removes it"
    )
    tier: Code | None = None
    segments: Annotated[list[Code], Field(max_length=20)] | None = None
    status: Literal["active", "suspended", "closed"] | None = None


class Member(Answer):
    member_no: str
    display_name: str
    full_name: str | None
    phone: str | None
    tier: str
    segments: list[str]
    status: str
    points_balance: int
    spend_12m: int
    joined_at: str | None
    updated_at: str
    merged_into: str | None


class MemberMerge(Request):
    survivor: Code
    absorbed: Code = Field(description="this member's ledger, cards and sales move to the survivor")


class Store(Answer):
    store_id: str
    name: str
    timezone: str | None
    created_at: str


class StoreIn(Request):
    name: Text | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="IANA name, e.g. Asia/Tehran"
    )


def when(value: datetime | None) -> str | None:
    """A model's time as the database stores it."""
    return value.isoformat() if value else None

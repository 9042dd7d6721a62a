"""The admin API's requests and answers (pydantic): one definition for HTTP, CLI and OpenAPI.

Requests refuse unknown fields (a typo is an error, not a silent no-op);
answers are what the services return. The models give requests their shape
only: the rules a product, a price, a discount, an offer or a member must
keep (prices not negative, member price and list price, barcodes' check
digits, an offer's schedule, known tiers and categories, phones) are
:mod:`clubcore.records`', which the services apply, as the importer does.
Translations are objects keyed by a two-letter language code
(``{"fa": "شیر", "en": "Milk"}``); the row's plain ``name`` is what lanes show
(the wire carries one name).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic.config import JsonDict

from clubcore.records import LANGUAGE, MAX_AMOUNT, MemberStatus
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
    "ImportProblem",
    "ImportReportOut",
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

Lang = Annotated[str, Field(pattern=LANGUAGE)]
#: by language code: a key that is no language code is refused (422), as documented
LANGUAGE_KEYS = Field(max_length=8, json_schema_extra={"additionalProperties": False})
Names = Annotated[dict[Lang, Text], LANGUAGE_KEYS]
#: money in minor units (rial); a tier's thresholds are checked here, a row's in clubcore.records
Money = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
Amount = Annotated[int, Field(description="minor units (rial), at least 0")]
BasisPoints = Annotated[int, Field(description="basis points: 500 is 5 %; 0 to 10000")]
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
    list_price: Amount
    member_only: StrictBool = False
    active: StrictBool = True
    barcodes: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] = Field(
        default_factory=list, description="EAN-13, UPC-A or EAN-8; the first is the lanes'"
    )


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
    price: Amount
    above_list: StrictBool = Field(False, description="allow a member price above list price")


class MemberPrice(Answer):
    sku: str
    tier: str
    price: int


class CategoryDiscountIn(Request):
    percent_bp: BasisPoints


class CategoryDiscount(Answer):
    category: str
    tier: str
    percent_bp: int


class OfferText(Request):
    title: Text
    message: Str = ""


#: the rule of ``OfferIn._target_shape``, in the document
_TARGET_SHAPE: JsonDict = {
    "if": {"properties": {"target": {"const": "all"}}},
    "then": {"properties": {"target_value": {"type": "null"}}},
    "else": {"required": ["target_value"], "properties": {"target_value": {"type": "string"}}},
}


class OfferIn(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_TARGET_SHAPE)

    title: Text
    message: Str = ""
    texts: Annotated[dict[Lang, OfferText], LANGUAGE_KEYS] = Field(default_factory=dict)
    unit_price: Amount | None = None
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
    def _target_shape(self) -> OfferIn:
        if (self.target == "all") != (self.target_value is None):
            raise ValueError("target_value names the tier, segment or member (none for all)")
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
    status: MemberStatus | None = Field(None, description="merged is a merge's doing only")


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


class ImportProblem(Answer):
    """One problem of a refused row: its number in the file (the header is row 1)."""

    row: int
    column: str
    message: str


class ImportReportOut(Answer):
    """What an import found and did (``club-server import --json`` prints the same)."""

    kind: str
    source: str
    encoding: str
    rows: int
    new: int
    changed: int
    unchanged: int
    errors: int = Field(description="how many problems (a row may have several)")
    written: bool = Field(description="false: nothing was written (errors, or a dry run)")
    rules_version: int | None
    warnings: list[str]
    problems: list[ImportProblem] = Field(description="the first 1,000 problems, by row")

"""The sync protocol's messages (``docs/sync-protocol.md``), defined once for both ends.

Every request and response body of protocol v1 is a pydantic model here: the
club server declares them on its routes (so its OpenAPI document describes
them) and the terminal's client validates the server's answers with them.
Types are strict where it matters: a boolean is not a number, a number is
not text. Bounds are those of the protocol (:data:`MAX_SALES` sales per
push, :data:`MAX_LINES` lines per sale, amounts within
``±``:data:`AMOUNT_LIMIT`).

=====================================  =================================================
message                                model
=====================================  =================================================
any 4xx/5xx                            :class:`ErrorBody`
``GET /v1/health``                     :class:`Health`
``POST /v1/enroll``                    :class:`EnrollRequest` -> :class:`EnrollResponse`
``GET /v1/snapshot``                   :class:`Manifest`
``GET /v1/snapshot/{entity}``          NDJSON rows, then :class:`NextLine`
                                       (:func:`snapshot_page_schema`, :func:`row_schemas`)
``GET /v1/changes``                    :class:`ChangesPage` (rows typed per entity)
``POST /v1/sales``                     :class:`SalesPush` of :class:`WireSale` ->
                                       :class:`SalesResults` of :data:`SaleResult`
``GET /v1/reports/daily``              :class:`WireDailyReport`
``POST /v1/credential/rotate``         :class:`Rotation` (pending or active)
``POST /v1/decommission``              :class:`Decommissioned`
=====================================  =================================================

Validating raises :class:`pydantic.ValidationError`; each end maps it where
the message enters (the server answers 422 or a per-item ``rejected``, the
terminal raises ``ProtocolError``), with :func:`summary` as the text.

A sale's wire form is :class:`WireSale`; :func:`sale_to_wire`,
:func:`sale_from_wire` and :func:`canonical_sale` convert. The canonical
body (sorted keys, no spaces, UTF-8) is what the server hashes for
idempotency, so it must never change for the same sale.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    JsonValue,
    PlainSerializer,
    RootModel,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from clubcore.errors import FormatError
from clubcore.sale import Sale, SaleKind, SaleLine
from clubcore.tender import MAX_REFERENCE, Payment, Tender
from clubcore.wire_rows import ENTITY_SHAPES, row_type

__all__ = [
    "AMOUNT_LIMIT",
    "LATER_SALE_FIELDS",
    "MAX_CHANGES",
    "MAX_COLUMNS",
    "MAX_DEVICE_KEY",
    "MAX_DEVICE_KEYS",
    "MAX_DEVICE_TEXT",
    "MAX_LINES",
    "MAX_PAYMENTS",
    "MAX_POSITION",
    "MAX_SALES",
    "MAX_TEXT",
    "WIRE_VERSION",
    "ChangesPage",
    "Decommissioned",
    "DeviceInfo",
    "EnrollRequest",
    "EnrollResponse",
    "EntityInfo",
    "ErrorBody",
    "Health",
    "Manifest",
    "NextLine",
    "OptionalText",
    "Rotation",
    "RotationActive",
    "RotationPending",
    "SaleAccepted",
    "SaleHeld",
    "SaleRefused",
    "SaleResult",
    "SalesPush",
    "SalesResults",
    "Str",
    "Text",
    "WireDailyReport",
    "WireLine",
    "WirePayment",
    "WireSale",
    "canonical_sale",
    "clean_text",
    "parse_wire_sale",
    "printable",
    "row_schemas",
    "sale_from_wire",
    "sale_to_wire",
    "snapshot_page_schema",
    "summary",
]

WIRE_VERSION = 1
MAX_SALES = 500
MAX_LINES = 1_000
MAX_CHANGES = 10_000
#: columns of an entity, entities of a manifest, tiers of a report at most
MAX_COLUMNS = 64
#: the largest amount, count or position a sale may carry (either sign)
AMOUNT_LIMIT = 10**15
#: the largest change-log position or count (a signed 64-bit integer in both databases)
MAX_POSITION = 2**63 - 1

#: the most text one field may carry, anywhere in the protocol
MAX_TEXT = 4_000
#: the enroll ``device`` object: keys, characters of a key and of a text value at most
MAX_DEVICE_KEYS = 16
MAX_DEVICE_KEY = 64
MAX_DEVICE_TEXT = 200


def clean_text(value: str) -> bool:
    """Whether ``value`` is text a database can store: no NUL, no lone surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(value: str) -> str:
    if not clean_text(value):
        raise ValueError("text must not hold NUL or a lone surrogate")
    return value


#: what every text field carries besides its bounds: the JSON schema says "no NUL", and the
#: validator refuses NUL and lone surrogates (which PostgreSQL and UTF-8 refuse)
_NO_NUL = Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})
_CLEAN = AfterValidator(_clean)
#: the protocol's text types, one definition with three bounds: any text of a message,
#: a required short text (an id, a name) and an optional longer one
Str = Annotated[StrictStr, Field(max_length=MAX_TEXT), _NO_NUL, _CLEAN]
Text = Annotated[StrictStr, Field(min_length=1, max_length=200), _NO_NUL, _CLEAN]
OptionalText = Annotated[StrictStr, Field(max_length=500), _NO_NUL, _CLEAN] | None


def _whole(value: object) -> object:
    """A JSON number without a fraction (``65.0``) as the whole number it is: JSON Schema's
    ``integer`` holds it, so a sender may write it; booleans and text stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: a whole number as JSON writes it (``65`` or ``65.0``; never ``true``, ``"65"`` or ``65.5``),
#: applied after the bounds so that the schema keeps them as ``minimum`` and ``maximum``
_WHOLE = BeforeValidator(_whole)
Amount = Annotated[StrictInt, Field(ge=-AMOUNT_LIMIT, le=AMOUNT_LIMIT), _WHOLE]
Position = Annotated[StrictInt, Field(ge=0, le=MAX_POSITION), _WHOLE]
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _aware_time(value: object) -> object:
    """ISO 8601 text with a UTC offset -> datetime (an aware datetime passes through)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and 0 < len(value) <= 200:
        parsed = datetime.fromisoformat(value)
    else:
        raise ValueError("must be ISO 8601 text")
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset")
    return parsed


def _iso_date(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError("must be a YYYY-MM-DD date")
    return date.fromisoformat(value)


#: a time with offset; written back exactly as ``datetime.isoformat`` writes it
IsoTime = Annotated[
    datetime,
    BeforeValidator(_aware_time),
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    PlainSerializer(date.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date"}),
]


class Message(BaseModel):
    """A protocol message; fields the receiver does not know are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def printable(message: str) -> str:
    """``message`` with NUL and lone surrogates escaped, so any answer can carry it."""
    if clean_text(message):
        return message
    return message.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def summary(exc: ValidationError, limit: int = 5) -> str:
    """The first ``limit`` problems of ``exc`` as one line: ``where: what; ...``.

    Locations name the caller's keys, which may be anything: the text is :func:`printable`.
    """
    problems = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p)[:64] for p in error["loc"])
        problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    return printable("; ".join(problems) or "does not validate")[:MAX_TEXT]


# -- errors, health, enrollment -----------------------------------------------------------


class ErrorBody(Message):
    """Every 4xx/5xx answer: a stable code and a message for a technician."""

    error: Str = Field(description="a stable code, e.g. unauthorized, terminal-revoked")
    message: Str


class Health(Message):
    """``GET /v1/health``: liveness, the server's clock (for skew) and versions."""

    status: Literal["ok"]
    time: IsoTime
    version: Str
    protocol: StrictInt


#: a device value: text, a bounded whole number, a boolean or null
DeviceValue = (
    Annotated[StrictStr, Field(max_length=MAX_DEVICE_TEXT), _NO_NUL, _CLEAN]
    | Amount
    | Annotated[bool, Field(strict=True)]
    | None
)
_DEVICE_KEY: dict[str, JsonValue] = {
    "maxLength": MAX_DEVICE_KEY,
    "minLength": 1,
    "pattern": "^[^\\u0000]*$",
}


class DeviceInfo(BaseModel):
    """What the enrolling terminal says about itself (kept for the operator).

    A flat JSON object of at most :data:`MAX_DEVICE_KEYS` keys (1..
    :data:`MAX_DEVICE_KEY` characters), each value text (at most
    :data:`MAX_DEVICE_TEXT` characters), a whole number, a boolean or null:
    about 4 KB at most.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"maxProperties": MAX_DEVICE_KEYS, "propertyNames": _DEVICE_KEY},
    )
    __pydantic_extra__: dict[str, DeviceValue] = Field(init=False)
    hostname: Annotated[StrictStr, Field(max_length=MAX_DEVICE_TEXT), _NO_NUL, _CLEAN] | None = None
    version: Annotated[StrictStr, Field(max_length=64), _NO_NUL, _CLEAN] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bounded_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if len(data) > MAX_DEVICE_KEYS:
                raise ValueError(f"device: more than {MAX_DEVICE_KEYS} keys")
            for key in data:
                if not 0 < len(key) <= MAX_DEVICE_KEY or not clean_text(key):
                    raise ValueError(f"device: keys are 1..{MAX_DEVICE_KEY} characters of text")
        return data


class EnrollRequest(BaseModel):
    """``POST /v1/enroll``: a one-time code (its format is checked by the server: 400)."""

    code: Annotated[
        Str,
        Field(
            max_length=64,
            description="XXXX-XXXX-XXXX (a malformed code is 400 invalid-code)",
            json_schema_extra={"pattern": "^[A-Za-z2-7]{4}-[A-Za-z2-7]{4}-[A-Za-z2-7]{4}$"},
        ),
    ]
    device: DeviceInfo = Field(default_factory=DeviceInfo)


class EnrollResponse(Message):
    """The terminal's identity and credential (shown only in this answer)."""

    terminal_id: Text
    store_id: Text
    credential: Annotated[Str, Field(min_length=3, description="<terminal_id>.<secret>")]
    server_time: IsoTime

    @model_validator(mode="after")
    def _credential_of_terminal(self) -> EnrollResponse:
        if not self.credential.startswith(f"{self.terminal_id}."):
            raise ValueError("the credential does not belong to the terminal id")
        return self


# -- snapshot and deltas --------------------------------------------------------------------


class EntityInfo(Message):
    """One entity of a snapshot manifest."""

    columns: Annotated[list[Str], Field(max_length=MAX_COLUMNS)]
    key: Str | None = Field(default=None, description="key columns joined with '|'")
    rows: Position = 0


class Manifest(Message):
    """``GET /v1/snapshot``: the cursor (taken before any page) and the entities."""

    snapshot_id: Str = ""
    cursor: Position
    server_time: IsoTime | None = None
    entities: Annotated[dict[Str, EntityInfo], Field(max_length=MAX_COLUMNS)]


class NextLine(Message):
    """The last line of a snapshot page: the key to ask for the next page after, or null."""

    next: Str | None


def row_schemas() -> dict[str, dict[str, Any]]:
    """The JSON schema of each entity's wire row, by component name (``Row_members``)."""
    return {
        f"Row_{name}": TypeAdapter(row_type(shape)).json_schema()
        for name, shape in ENTITY_SHAPES.items()
    }


def snapshot_page_schema(ref: str = "#/components/schemas/") -> dict[str, Any]:
    """The JSON schema of one snapshot page, read as the list of its NDJSON lines.

    Each line is a row of the entity (an array typed column by column, in the
    manifest's order: a reference to one of :func:`row_schemas`, which the
    document must hold under ``ref``) and the last one ``{"next": key or null}``.
    """
    rows = [{"$ref": ref + name} for name in row_schemas()]
    return {
        "type": "array",
        "description": "the page's NDJSON lines (gzip): rows as arrays, then {'next': key}",
        "items": {"anyOf": [*rows, NextLine.model_json_schema()]},
    }


def _change_model(name: str) -> Any:
    shape = ENTITY_SHAPES[name]
    fields: dict[str, Any] = {
        "seq": (Position, ...),
        "entity": (Literal[name], ...),
        "op": (Literal["upsert", "delete"], ...),
        "key": (Str, ...),
        "row": (row_type(shape) | None, Field(description=", ".join(shape.columns))),
    }
    return create_model(f"Change_{name}", __base__=Message, **fields)


_CHANGE_MODELS = tuple(_change_model(name) for name in ENTITY_SHAPES)
#: one change: ``op`` upsert with the row as it is now, or delete with ``row`` null
Change: Any = Annotated[
    functools.reduce(operator.or_, _CHANGE_MODELS), Field(discriminator="entity")
]


class ChangesPage(Message):
    """``GET /v1/changes``: changes after a cursor, the new cursor, and whether more follow."""

    changes: Annotated[list[Change], Field(max_length=MAX_CHANGES)]
    cursor: Position
    more: bool = Field(strict=True)

    @model_validator(mode="after")
    def _rows_match(self) -> ChangesPage:
        for change in self.changes:
            if (change.op == "upsert") != (change.row is not None):
                raise ValueError(f"change {change.seq}: an upsert has a row, a delete none")
        return self


# -- sales ------------------------------------------------------------------------------------


class WireLine(BaseModel):
    """One line of a sale on the wire."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    line_no: Amount
    sku: Text
    name: Text
    category: Text
    quantity: Amount
    list_unit: Amount
    unit_price: Amount
    source: Text
    offer_id: OptionalText = None
    stacked_offer_id: OptionalText = None


#: the most payments one sale may carry
MAX_PAYMENTS = 16
#: fields added to a sale after protocol v1 was released, all optional: left out of the
#: wire form and of the canonical body when absent, so a sale recorded before them
#: hashes as it always did (``canonical_sale``)
LATER_SALE_FIELDS = ("cashier_id", "sale_no", "payments")


class WirePayment(BaseModel):
    """One payment of a sale (:class:`clubcore.tender.Payment`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tender: Literal[Tender.CASH, Tender.CARD]
    amount: Amount
    tendered: Amount | None = None
    reference: (
        Annotated[StrictStr, Field(min_length=1, max_length=MAX_REFERENCE), _NO_NUL, _CLEAN] | None
    ) = None


class WireSale(BaseModel):
    """A sale, void or refund on the wire (``clubcore.sale.Sale``); ``sale_id`` is its key.

    ``cashier_id``, ``sale_no`` and ``payments`` came later (:data:`LATER_SALE_FIELDS`):
    optional, and absent rather than null when a sale has none.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1]
    sale_id: Text
    kind: SaleKind
    terminal_id: Text
    store_id: Text
    created_at: IsoTime
    business_date: IsoDate
    hour: Annotated[StrictInt, Field(ge=0, le=23), _WHOLE]
    rules_version: Amount
    currency: Text
    subtotal_list: Amount
    member_discount: Amount
    subtotal: Amount
    points_redeemed: Amount
    points_discount: Amount
    total: Amount
    points_earned: Amount
    tender: Tender
    lines: Annotated[list[WireLine], Field(max_length=MAX_LINES)]
    member_no: OptionalText = None
    tier: OptionalText = None
    id_method: OptionalText = None
    ref_sale_id: OptionalText = None
    staff_id: OptionalText = None
    reason: OptionalText = None
    cashier_id: OptionalText = None
    sale_no: Annotated[StrictInt, Field(ge=1, le=MAX_POSITION)] | None = None
    payments: Annotated[list[WirePayment], Field(max_length=MAX_PAYMENTS)] | None = None

    @model_validator(mode="after")
    def _points_need_a_member(self) -> WireSale:
        if self.member_no is None and (self.points_earned or self.points_redeemed):
            raise ValueError("points earned or redeemed on a sale without a member")
        return self

    def to_sale(self) -> Sale:
        """The domain record."""
        data = {name: getattr(self, name) for name in _SALE_NAMES}
        lines = tuple(SaleLine(*(getattr(x, n) for n in _LINE_NAMES)) for x in self.lines)
        payments = tuple(
            Payment(Tender(p.tender), p.amount, p.tendered, p.reference)
            for p in self.payments or ()
        )
        return Sale(**data, lines=lines, payments=payments)

    def body(self) -> dict[str, Any]:
        """The JSON form, without the later fields a sale does not have."""
        data = self.model_dump(mode="json")
        for name in LATER_SALE_FIELDS:
            if data.get(name) is None:
                data.pop(name, None)
        return data


_LINE_NAMES = tuple(WireLine.model_fields)
_SALE_NAMES = tuple(n for n in WireSale.model_fields if n not in ("v", "lines", "payments"))


def sale_to_wire(sale: Sale) -> dict[str, Any]:
    """The JSON-ready wire form of ``sale`` (not validated: the receiver does that)."""
    lines = [
        WireLine.model_construct(**{n: getattr(x, n) for n in _LINE_NAMES}) for x in sale.lines
    ]
    data = {name: getattr(sale, name) for name in _SALE_NAMES}
    payments = [
        WirePayment.model_construct(
            tender=p.tender, amount=p.amount, tendered=p.tendered, reference=p.reference
        )
        for p in sale.payments
    ]
    wire = WireSale.model_construct(v=WIRE_VERSION, lines=lines, payments=payments or None, **data)
    return wire.body()


def sale_from_wire(data: Mapping[str, Any] | Any) -> Sale:
    """Parse a sale's wire form.

    Raises:
        FormatError: not a well-formed sale (types, ranges, fields, lines).
    """
    return parse_wire_sale(data).to_sale()


def parse_wire_sale(data: Any) -> WireSale:
    """Validate one wire sale.

    Raises:
        FormatError: not a well-formed sale (types, ranges, fields, lines).
    """
    try:
        return WireSale.model_validate(data)
    except ValidationError as exc:
        raise FormatError(f"malformed sale: {summary(exc)}") from None


def canonical_sale(wire: WireSale) -> str:
    """The canonical body of a sale: sorted keys, no spaces, UTF-8 text (hashed by the server)."""
    return json.dumps(wire.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _PushedSale:
    """A pushed sale: documented as :class:`WireSale`, accepted as any JSON value.

    The server validates each item on its own and answers a malformed one
    ``rejected`` (not the whole request 422), so the list takes anything.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.any_schema()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(WireSale.__pydantic_core_schema__)


class SalesPush(BaseModel):
    """``POST /v1/sales``: at most :data:`MAX_SALES` sales, answered per item, in order."""

    sales: Annotated[list[_PushedSale], Field(max_length=MAX_SALES)]


class SaleAccepted(Message):
    """Stored now (``created``) or before (``duplicate``, the first result)."""

    sale_id: Str
    status: Literal["created", "duplicate"]
    change_seq: Position | None = Field(
        description="the change-log position of the member update; null for a non-member sale"
    )


class SaleRefused(Message):
    """Not stored: another body for a known ``sale_id`` (``conflict``) or invalid (``rejected``)."""

    sale_id: Str | None
    status: Literal["conflict", "rejected"]
    error: Str


class SaleHeld(Message):
    """Stored, but its points held by the club for review (``held``): sent, never retried."""

    sale_id: StrictStr
    status: Literal["held"]
    error: StrictStr = Field(description="why the club holds its points")
    change_seq: Position | None = None


SaleResult = Annotated[SaleAccepted | SaleHeld | SaleRefused, Field(discriminator="status")]


class SalesResults(Message):
    """One result per pushed sale, in order."""

    results: Annotated[list[SaleResult], Field(max_length=MAX_SALES)]


# -- reports and lifecycle ---------------------------------------------------------------------


class TierRow(Message):
    tier: Str
    sales: StrictInt
    total: StrictInt
    discount: StrictInt
    points_earned: StrictInt


class HourRow(Message):
    hour: StrictInt
    sales: StrictInt
    total: StrictInt
    member_total: StrictInt


class MemberRow(Message):
    member_no: Str
    display_name: Str | None
    tier: Str | None
    total: StrictInt
    visits: StrictInt


class WireDailyReport(Message):
    """``GET /v1/reports/daily``: ``clubcore.reports.DailyReport`` with ``scope`` ``store``."""

    business_date: Str
    currency: Str
    scope: Literal["store", "lane"]
    sales_count: StrictInt
    returns_count: StrictInt
    total: StrictInt
    member_total: StrictInt
    non_member_total: StrictInt
    member_sales_count: StrictInt
    member_share: float
    member_count_share: float
    list_total: StrictInt
    member_discount: StrictInt
    points_discount: StrictInt
    discount_given: StrictInt
    points_earned: StrictInt
    points_redeemed: StrictInt
    members_served: StrictInt
    top20_share: float
    by_tier: Annotated[list[TierRow], Field(max_length=MAX_COLUMNS)]
    by_hour: Annotated[list[HourRow], Field(max_length=24)]
    top_members: Annotated[list[MemberRow], Field(max_length=MAX_CHANGES)]


class RotationPending(Message):
    """Step 1 of a rotation: the new credential, pending until its first use."""

    status: Literal["pending"]
    terminal_id: Str
    credential: Str
    created_at: IsoTime


class RotationActive(Message):
    """Step 2: the pending credential is now the terminal's."""

    status: Literal["active"]
    terminal_id: Str
    activated_at: IsoTime


class Rotation(RootModel[RotationPending | RotationActive]):
    """``POST /v1/credential/rotate``: pending (step 1) or active (step 2), by ``status``."""

    root: RotationPending | RotationActive = Field(discriminator="status")


class Decommissioned(Message):
    """``POST /v1/decommission``: the terminal is revoked."""

    terminal_id: Str
    store_id: Str
    revoked_at: IsoTime

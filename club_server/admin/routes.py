"""The admin HTTP API, ``/admin/v1``: the back office's services over HTTP.

Sign in with ``POST /admin/v1/session`` (username and password) for a session
token, then send ``Authorization: Bearer <token>``; an ERP sends its API
token the same way. A terminal's credential is refused here (401), and these
tokens are refused by the terminal routes. What a role may do is the
services' check (:mod:`club_server.admin.access`): a refusal is 403
``forbidden`` and writes nothing. Every error has the one error shape
(``ErrorBody``).

``POST /admin/v1/import/{kind}`` takes an import file as the body (CSV as
``text/csv``, XLSX as its content type; ``docs/import-formats.md``) and answers
the report ``club-server import --json`` prints; it is for an API token of
scope ``import`` (an ERP's nightly job), operators and admins.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection

from club_server.admin import accounts as acc
from club_server.admin import categories as cat
from club_server.admin import member_admin as mem
from club_server.admin import offers as off
from club_server.admin import prices as pri
from club_server.admin import products as pro
from club_server.admin import stores as sto
from club_server.admin import tier_admin as tie
from club_server.admin.access import Action, Actor, require
from club_server.admin.audit import list_audit
from club_server.admin.models import (
    Account,
    AccountIn,
    AccountUpdate,
    AuditEntry,
    Category,
    CategoryDiscount,
    CategoryDiscountIn,
    CategoryIn,
    Done,
    ImportReportOut,
    LoginRequest,
    Member,
    MemberMerge,
    MemberPrice,
    MemberPriceIn,
    MemberUpdate,
    Offer,
    OfferIn,
    Product,
    ProductIn,
    Session,
    Store,
    StoreIn,
    Tier,
    TierIn,
    TierRetire,
    Token,
    TokenCreated,
    TokenIn,
    WhoAmI,
)  # fmt: skip
from club_server.db import Database
from club_server.imports import KINDS, import_file
from club_server.reports import store_daily_report
from club_server.settings import read_settings
from clubcore.errors import RequestRefusedError
from clubcore.wire import ErrorBody, IsoDate, IsoTime, WireDailyReport

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"])
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    bearerFormat="cs_… (session) or ct_… (API token)",
    description="a session token from POST /admin/v1/session, or an API token",
)
_TEXT = {
    400: "malformed: a value the service refused (unknown tier, category, bad phone...); "
    "bad-request: a body that is not JSON",
    401: "unauthorized: no, a wrong or an expired session or token",
    403: "forbidden: this role may not do this; nothing was written",
    404: "not found",
    409: "conflict: exists already, taken (phone, barcode), retired or merged",
    413: "too-large: the file is over the server's limit (ServerLimits.import_body)",
    415: "unsupported-media-type: send text/csv or an XLSX workbook",
    422: "invalid-request: the body or query does not validate",
}
#: import files by content type (the file's own bytes decide: XLSX is a zip)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_TYPES = {"text/csv": "csv", "text/plain": "csv", XLSX: "xlsx"}
ImportKind = Annotated[
    str,
    PathParam(pattern="^(" + "|".join(KINDS) + ")$", description="docs/import-formats.md"),
]
#: a query's text: no NUL (PostgreSQL refuses one in a text parameter: 422, not 500)
NO_NUL = r"^[^\x00]*$"
Key = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.|-]+$")]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    every = sorted({401, 403, 422, *codes})
    return {c: {"model": ErrorBody, "description": _TEXT[c]} for c in every}


def _db(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return None if credentials is None else credentials.credentials


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_actor(request: Request, credentials: Credentials) -> Actor:
    """The signed-in account or API token (401 otherwise)."""
    with _db(request).reading() as conn:
        return acc.authenticate(conn, _token(credentials), _now(request))


Who = Annotated[Actor, Depends(current_actor)]


def _write(request: Request) -> Any:
    return _db(request).writing()


def _read(request: Request) -> Any:
    return _db(request).reading()


# -- sessions, accounts, tokens, audit ----------------------------------------------------


@router.post("/session", response_model=Session, responses=_errors(400))
def sign_in(body: LoginRequest, request: Request) -> dict[str, str]:
    """Sign in: a session token (``cs_…``) valid for 12 hours."""
    with _write(request) as conn:
        return acc.login(conn, body.username, body.password, _now(request))


@router.delete("/session", response_model=Done, responses=_errors())
def sign_out(request: Request, _who: Who, credentials: Credentials) -> dict[str, str]:
    """End this session."""
    with _write(request) as conn:
        acc.logout(conn, _token(credentials) or "", _now(request))
    return {"done": "signed out"}


@router.get("/whoami", response_model=WhoAmI, responses=_errors())
def whoami(who: Who) -> dict[str, Any]:
    """Who this token is, with its role (and a store manager's stores)."""
    return {"kind": who.kind, "name": who.name, "role": who.role, "stores": sorted(who.stores)}


@router.get("/accounts", response_model=list[Account], responses=_errors())
def accounts_list(request: Request, who: Who) -> list[dict[str, Any]]:
    """Every account (admins)."""
    with _read(request) as conn:
        return acc.list_accounts(conn, who)


@router.post("/accounts", response_model=Account, status_code=201, responses=_errors(400, 409))
def accounts_add(body: AccountIn, request: Request, who: Who) -> dict[str, Any]:
    """Add an account (admins)."""
    with _write(request) as conn:
        return acc.create_account(conn, who, _now(request), **body.model_dump())


@router.patch("/accounts/{username}", response_model=Account, responses=_errors(400, 404))
def accounts_change(
    username: Key, body: AccountUpdate, request: Request, who: Who
) -> dict[str, Any]:
    """Change an account's role, stores or password, or disable it (admins)."""
    with _write(request) as conn:
        return acc.update_account(conn, who, _now(request), username, **body.model_dump())


@router.get("/tokens", response_model=list[Token], responses=_errors())
def tokens_list(request: Request, who: Who) -> list[dict[str, Any]]:
    """Every API token, without secrets (admins)."""
    with _read(request) as conn:
        return acc.list_tokens(conn, who)


@router.post("/tokens", response_model=TokenCreated, status_code=201, responses=_errors(400))
def tokens_add(body: TokenIn, request: Request, who: Who) -> dict[str, Any]:
    """A new API token; its secret is in this answer only (admins)."""
    with _write(request) as conn:
        made = acc.create_token(conn, who, _now(request), name=body.name, scope=body.scope,
                                expires_at=body.expires_at)  # fmt: skip
    return made.__dict__


@router.delete("/tokens/{token_id}", response_model=Done, responses=_errors(404))
def tokens_revoke(token_id: Key, request: Request, who: Who) -> dict[str, str]:
    """Revoke an API token (admins)."""
    with _write(request) as conn:
        acc.revoke_token(conn, who, _now(request), token_id)
    return {"done": f"token {token_id} revoked"}


@router.get("/audit", response_model=list[AuditEntry], responses=_errors())
def audit(
    request: Request,
    who: Who,
    since: Annotated[IsoTime | None, Query()] = None,
    entity: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    key: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> list[dict[str, Any]]:
    """The audit log, oldest first (admins)."""
    require(who, Action.AUDIT)
    with _read(request) as conn:
        return list_audit(conn, since=since, entity=entity, key=key, limit=limit)


# -- catalog ------------------------------------------------------------------------------


@router.get("/categories", response_model=list[Category], responses=_errors())
def categories_list(request: Request, who: Who) -> list[dict[str, Any]]:
    """Every category."""
    with _read(request) as conn:
        return cat.list_categories(conn, who)


@router.put("/categories/{code}", response_model=Category, responses=_errors(400))
def categories_put(code: Key, body: CategoryIn, request: Request, who: Who) -> dict[str, Any]:
    """Add or change a category."""
    with _write(request) as conn:
        return cat.put_category(conn, who, _now(request), code, body)


@router.get("/products", response_model=list[Product], responses=_errors())
def products_list(
    request: Request,
    who: Who,
    search: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    category: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    after: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[dict[str, Any]]:
    """Products by SKU (``after`` pages on); ``search`` matches SKU, name or barcode."""
    with _read(request) as conn:
        return pro.list_products(conn, who, search=search, category=category, after=after,
                                 limit=limit)  # fmt: skip


@router.get("/products/{sku}", response_model=Product, responses=_errors(404))
def products_get(sku: Key, request: Request, who: Who) -> dict[str, Any]:
    """One product."""
    with _read(request) as conn:
        return pro.get_product(conn, who, sku)


@router.put("/products/{sku}", response_model=Product, responses=_errors(400, 409))
def products_put(sku: Key, body: ProductIn, request: Request, who: Who) -> dict[str, Any]:
    """Add or change a product (barcodes check-digit validated)."""
    with _write(request) as conn:
        return pro.put_product(conn, who, _now(request), sku, body)


@router.get("/products/{sku}/prices", response_model=list[MemberPrice], responses=_errors())
def prices_list(sku: Key, request: Request, who: Who) -> list[dict[str, Any]]:
    """A product's member prices."""
    with _read(request) as conn:
        return pri.list_member_prices(conn, who, sku)


@router.put("/products/{sku}/prices/{tier}", response_model=MemberPrice, responses=_errors(400))
def prices_put(
    sku: Key, tier: Key, body: MemberPriceIn, request: Request, who: Who
) -> dict[str, Any]:
    """Set a product's member price for a tier."""
    with _write(request) as conn:
        return pri.put_member_price(conn, who, _now(request), sku, tier, body)


@router.delete("/products/{sku}/prices/{tier}", response_model=Done, responses=_errors(404))
def prices_delete(sku: Key, tier: Key, request: Request, who: Who) -> dict[str, str]:
    """Remove a member price."""
    with _write(request) as conn:
        pri.delete_member_price(conn, who, _now(request), sku, tier)
    return {"done": f"member price {sku} {tier} removed"}


@router.get("/category-discounts", response_model=list[CategoryDiscount], responses=_errors())
def discounts_list(request: Request, who: Who) -> list[dict[str, Any]]:
    """Every category percentage."""
    with _read(request) as conn:
        return pri.list_category_discounts(conn, who)


@router.put(
    "/categories/{code}/discounts/{tier}", response_model=CategoryDiscount, responses=_errors(400)
)
def discounts_put(
    code: Key, tier: Key, body: CategoryDiscountIn, request: Request, who: Who
) -> dict[str, Any]:
    """Set a category's percentage for a tier."""
    with _write(request) as conn:
        return pri.put_category_discount(conn, who, _now(request), code, tier, body)


@router.delete("/categories/{code}/discounts/{tier}", response_model=Done, responses=_errors(404))
def discounts_delete(code: Key, tier: Key, request: Request, who: Who) -> dict[str, str]:
    """Remove a category percentage."""
    with _write(request) as conn:
        pri.delete_category_discount(conn, who, _now(request), code, tier)
    return {"done": f"discount {code} {tier} removed"}


@router.get("/offers", response_model=list[Offer], responses=_errors())
def offers_list(request: Request, who: Who) -> list[dict[str, Any]]:
    """Every offer, enabled or not."""
    with _read(request) as conn:
        return off.list_offers(conn, who)


@router.get("/offers/{offer_id}", response_model=Offer, responses=_errors(404))
def offers_get(offer_id: Key, request: Request, who: Who) -> dict[str, Any]:
    """One offer."""
    with _read(request) as conn:
        return off.get_offer(conn, who, offer_id)


@router.put("/offers/{offer_id}", response_model=Offer, responses=_errors(400))
def offers_put(offer_id: Key, body: OfferIn, request: Request, who: Who) -> dict[str, Any]:
    """Add or change an offer."""
    with _write(request) as conn:
        return off.put_offer(conn, who, _now(request), offer_id, body)


@router.post("/offers/{offer_id}/enable", response_model=Offer, responses=_errors(404))
def offers_enable(offer_id: Key, request: Request, who: Who) -> dict[str, Any]:
    """Enable an offer (lanes get it back)."""
    with _write(request) as conn:
        return off.set_offer_enabled(conn, who, _now(request), offer_id, True)


@router.post("/offers/{offer_id}/disable", response_model=Offer, responses=_errors(404))
def offers_disable(offer_id: Key, request: Request, who: Who) -> dict[str, Any]:
    """Disable an offer (lanes drop it)."""
    with _write(request) as conn:
        return off.set_offer_enabled(conn, who, _now(request), offer_id, False)


@router.get("/tiers", response_model=list[Tier], responses=_errors())
def tiers_list(request: Request, who: Who) -> list[dict[str, Any]]:
    """Every tier by rank, retired ones included."""
    with _read(request) as conn:
        return tie.list_tiers(conn, who)


@router.put("/tiers/{code}", response_model=Tier, responses=_errors(400, 409))
def tiers_put(code: Key, body: TierIn, request: Request, who: Who) -> dict[str, Any]:
    """Add or change a tier."""
    with _write(request) as conn:
        return tie.put_tier(conn, who, _now(request), code, body)


@router.post("/tiers/{code}/retire", response_model=dict[str, Any],
             responses=_errors(400, 404, 409))  # fmt: skip
def tiers_retire(code: Key, body: TierRetire, request: Request, who: Who) -> dict[str, Any]:
    """Retire a tier, moving its members to ``move_to``."""
    with _write(request) as conn:
        return tie.retire_tier(conn, who, _now(request), code, body.move_to)


# -- imports ------------------------------------------------------------------------------


def _file_type(request: Request) -> str:
    """``csv`` or ``xlsx`` by the request's content type (415 for another)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in IMPORT_TYPES:
        shown = media or "nothing"
        raise RequestRefusedError(
            415, "unsupported-media-type", f"send the file as text/csv or {XLSX}, not {shown}"
        )
    return IMPORT_TYPES[media]


_IMPORT_BODY = {
    "required": True,
    "description": "the file: CSV (UTF-8 with or without BOM, or Windows-1256) or XLSX",
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post("/import/{kind}", response_model=ImportReportOut, responses=_errors(400, 413, 415),
             openapi_extra={"requestBody": _IMPORT_BODY})  # fmt: skip
async def import_upload(
    kind: ImportKind,
    request: Request,
    who: Who,
    dry_run: Annotated[bool, Query(description="check and report; write nothing")] = False,
    skip_bad_rows: Annotated[bool, Query(description="write the good rows only")] = False,
    encoding: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    unit: Annotated[str | None, Query(pattern="^(rial|toman|minor|major)$")] = None,
    sheet: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
) -> dict[str, Any]:
    """Import a file of ``kind`` rows (as ``club-server import``), audited as this caller.

    Any bad row and nothing is written unless ``skip_bad_rows``: check
    ``written`` and ``problems`` in the answer (200 either way).
    """
    require(who, Action.IMPORT)
    file_type = _file_type(request)
    data = await request.body()
    report = await run_in_threadpool(
        lambda: import_file(_db(request), kind, data, actor=who, now=_now(request),
                            dry_run=dry_run, skip_bad_rows=skip_bad_rows, encoding=encoding,
                            unit=unit, sheet=sheet, name=f"upload.{file_type}")
    )  # fmt: skip
    return report.as_dict()


# -- members, stores, reports -------------------------------------------------------------


@router.get("/members", response_model=list[Member], responses=_errors())
def members_search(
    request: Request,
    who: Who,
    q: Annotated[str, Query(min_length=1, max_length=100, pattern=NO_NUL)],
) -> list[dict[str, Any]]:
    """Members by number, phone or a part of their name."""
    with _read(request) as conn:
        return mem.search_members(conn, who, q)


@router.get("/members/{member_no}", response_model=Member, responses=_errors(400, 404))
def members_get(member_no: Key, request: Request, who: Who) -> dict[str, Any]:
    """One member."""
    with _read(request) as conn:
        return mem.get_member(conn, who, member_no)


@router.patch("/members/{member_no}", response_model=Member, responses=_errors(400, 404, 409))
def members_change(
    member_no: Key, body: MemberUpdate, request: Request, who: Who
) -> dict[str, Any]:
    """Change a member's names, phone (one phone, one member), tier, segments or status."""
    with _write(request) as conn:
        return mem.update_member(conn, who, _now(request), member_no, body)


@router.get("/members/{member_no}/history", response_model=dict[str, Any],
            responses=_errors(400, 404))  # fmt: skip
def members_history(member_no: Key, request: Request, who: Who) -> dict[str, Any]:
    """A member, their audited changes, ledger and last sales."""
    with _read(request) as conn:
        return mem.member_history(conn, who, member_no)


@router.post("/members/merge", response_model=Member, responses=_errors(400, 404, 409))
def members_merge(body: MemberMerge, request: Request, who: Who) -> dict[str, Any]:
    """Merge ``absorbed`` into ``survivor`` (ledger, cards and sales follow)."""
    with _write(request) as conn:
        return mem.merge_members(conn, who, _now(request), body.survivor, body.absorbed)


@router.get("/stores", response_model=list[Store], responses=_errors())
def stores_list(request: Request, who: Who) -> list[dict[str, Any]]:
    """Stores (a store manager's own)."""
    with _read(request) as conn:
        return sto.list_stores(conn, who)


@router.post("/stores/{store_id}", response_model=Store, status_code=201,
             responses=_errors(400, 409))  # fmt: skip
def stores_add(store_id: Key, body: StoreIn, request: Request, who: Who) -> dict[str, Any]:
    """Add a store (admins)."""
    with _write(request) as conn:
        return sto.add_store(conn, who, _now(request), store_id, body)


@router.patch("/stores/{store_id}", response_model=Store, responses=_errors(400, 404))
def stores_change(store_id: Key, body: StoreIn, request: Request, who: Who) -> dict[str, Any]:
    """Rename a store or set its time zone (admins)."""
    with _write(request) as conn:
        return sto.update_store(conn, who, _now(request), store_id, body)


@router.get("/reports/daily", response_model=WireDailyReport, responses=_errors())
def report_daily(
    request: Request,
    who: Who,
    store: Annotated[str, Query(min_length=1, max_length=64, pattern=NO_NUL)],
    day: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> dict[str, Any]:
    """A store's daily report (store managers: their own stores)."""
    require(who, Action.REPORTS, store)
    with _read(request) as conn:
        return _daily(conn, store, day or _now(request).date())


def _daily(conn: Connection, store: str, day: date) -> dict[str, Any]:
    currency = read_settings(conn).currency_name
    return store_daily_report(conn, store, day, currency).as_dict()

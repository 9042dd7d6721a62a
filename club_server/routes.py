"""The endpoints of sync protocol v1 (``docs/sync-protocol.md``).

Handlers are plain ``def`` functions: FastAPI runs them in its thread pool,
and each opens one short transaction through the app's :class:`Database`.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator, WithJsonSchema

from club_server import __version__, metrics
from club_server.changes import read_changes
from club_server.clock import iso
from club_server.db import Database
from club_server.entities import ENTITIES
from club_server.lifecycle import (
    activate_on_first_use,
    decommission,
    pending_matches,
    rotate_credential,
)
from club_server.limits import Buckets, check_lockout, client_address, record_failure
from club_server.reports import store_daily_report
from club_server.sales import push_sales
from club_server.settings import read_settings
from club_server.snapshot import DEFAULT_PAGE, MAX_PAGE, manifest, page
from club_server.terminals import TerminalRecord, authenticate, enroll
from clubcore.dates import parse_day
from clubcore.errors import FormatError, RequestRefusedError
from clubcore.wire import (
    MAX_CHANGES,
    MAX_POSITION,
    ChangesPage,
    Decommissioned,
    EnrollRequest,
    EnrollResponse,
    ErrorBody,
    Health,
    Manifest,
    Rotation,
    SalesPush,
    SalesResults,
    Str,
    WireDailyReport,
    snapshot_page_schema,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1")
#: the terminal credential, ``Authorization: Bearer <terminal_id>.<secret>`` (checked here,
#: so a missing or malformed header is our 401 ``unauthorized``, not the framework's)
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="TerminalCredential",
    bearerFormat="<terminal_id>.<secret>",
    description="the terminal's credential from enrollment",
)
_ERROR_TEXT = {
    400: "malformed (e.g. an enrollment code, a key, or a body that is not JSON)",
    401: "unauthorized: a missing, malformed or wrong credential (or enrollment code)",
    403: "terminal-revoked",
    404: "not found",
    410: "the enrollment code was used or expired",
    408: "timeout: the body stopped arriving",
    413: "too-large: the body is over 8 MiB",
    422: "invalid-request: the body or query does not validate",
    429: "rate-limited (or enroll-locked): too many requests; see Retry-After",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, besides 408 and 429 that any route may answer: each the
    one error shape (``ErrorBody``)."""
    every = sorted({*codes, 408, 429})
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in every}


_AUTHENTICATED = (401, 403, 413, 422)


def _link(method: str, path: str, description: str, **fields: Any) -> dict[str, Any]:
    """An OpenAPI link to ``method path`` of this router (``parameters``, ``requestBody``)."""
    pointer = f"/v1{path}".replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "description": description, **fields}


def _bearer(expression: str) -> dict[str, str]:
    return {"header.Authorization": f"Bearer {{{expression}}}"}


#: what an answer leads to (OpenAPI links, which a stateful client such as schemathesis follows)
_LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "enroll": {
        "UseCredential": _link(
            "get", "/snapshot", "the new credential opens the snapshot",
            parameters=_bearer("$response.body#/credential"),
        ),
    },
    "snapshot": {
        "DeltasAfterSnapshot": _link(
            "get", "/changes", "deltas are pulled from the manifest's cursor",
            parameters={"query.after": "$response.body#/cursor"},
        ),
    },
    "changes": {
        "NextPage": _link(
            "get", "/changes", "the next page starts at this page's cursor",
            parameters={"query.after": "$response.body#/cursor"},
        ),
    },
    "sales": {
        "Retry": _link(
            "post", "/sales", "a retried push is answered item by item as before (duplicate)",
            requestBody="$request.body",
        ),
    },
    "rotate": {
        "ActivatePending": _link(
            "post", "/credential/rotate", "the pending credential's first use activates it",
            parameters=_bearer("$response.body#/credential"),
        ),
    },
}  # fmt: skip


def _answers(name: str, *codes: int) -> dict[int | str, dict[str, Any]]:
    """The route's error answers (:func:`_errors`) and the links of its 200 answer."""
    return {200: {"links": _LINKS[name]}, **_errors(*codes)}


def _day(value: object) -> object:
    """A query's date: ISO or Jalali ``YYYY-MM-DD`` text (:func:`clubcore.dates.parse_day`)."""
    if not isinstance(value, str):
        return value
    try:
        return parse_day(value)
    except FormatError as exc:
        raise ValueError(str(exc)) from None


#: the days :func:`clubcore.dates.parse_day` reads: a Gregorian date from year 1700
#: (``JALALI_BEFORE``), or a Jalali one before it (months 1-6 have 31 days, 7-11 have 30,
#: Esfand 29, or 30 in a leap year, which a pattern cannot say)
_DAY_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date", "pattern": "^(1[7-9]|[2-9][0-9])[0-9]{2}-"},
        {
            "type": "string",
            "pattern": "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|1[0-6][0-9]{2})-"
            "(0[1-6]-(0[1-9]|[12][0-9]|3[01])|(0[7-9]|1[01])-(0[1-9]|[12][0-9]|30)"
            "|12-(0[1-9]|1[0-9]|2[0-9]))$",
        },
    ],
    "description": "ISO (from 1700) or Jalali (before 1700) YYYY-MM-DD",
}
#: ``?date=``: ISO ``2026-12-01`` or Jalali ``1405-09-10``, never a timestamp
DayQuery = Annotated[
    date | None,
    BeforeValidator(_day),
    WithJsonSchema(_DAY_SCHEMA),
    Query(alias="date", description="YYYY-MM-DD, ISO or Jalali (1405-09-10)"),
]


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def _header(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The ``Authorization`` header again (None when missing or not ``Bearer``)."""
    return None if credentials is None else f"Bearer {credentials.credentials}"


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_terminal(request: Request, credentials: Credentials) -> TerminalRecord:
    """The authenticated terminal (401/403 otherwise).

    A terminal's pending rotated credential is activated by its first use
    here (:mod:`club_server.lifecycle`). Only a header that matches a pending
    credential takes a write transaction; a wrong credential costs one read.

    Raises:
        RequestRefusedError: 401 unauthorized, 403 terminal-revoked.
    """
    authorization = _header(credentials)
    with _database(request).reading() as conn:
        try:
            terminal = authenticate(conn, authorization)
        except RequestRefusedError as exc:
            if exc.status != 401 or not pending_matches(conn, authorization):
                raise
            refusal = exc
        else:
            return _within_rate(request, terminal)
    with _database(request).writing() as conn:
        terminal = activate_on_first_use(conn, authorization, _now(request), refusal)
    return _within_rate(request, terminal)


def _within_rate(request: Request, terminal: TerminalRecord) -> TerminalRecord:
    """``terminal``, unless it is over its request rate (429)."""
    buckets: Buckets = request.app.state.terminal_rate
    buckets.check(f"terminal:{terminal.terminal_id}")
    metrics.seen(terminal.terminal_id)
    return terminal


Terminal = Annotated[TerminalRecord, Depends(current_terminal)]


@router.get("/health", response_model=Health, responses=_errors(413))
def health(request: Request) -> dict[str, Any]:
    """Liveness, the server's clock (for skew) and versions."""
    return {"status": "ok", "time": iso(_now(request)), "version": __version__, "protocol": 1}


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    responses=_answers("enroll", 400, 401, 403, 410, 413, 422),
)
def enroll_terminal(body: EnrollRequest, request: Request) -> dict[str, str]:
    """Spend a one-time enrollment code for this terminal's credential.

    An address that sent too many refused codes is locked out for a while
    (429 ``enroll-locked``, :mod:`club_server.limits`), even with a good code.
    """
    database, now = _database(request), _now(request)
    address = client_address(request.scope)
    with database.reading() as conn:
        check_lockout(conn, address, now)
    try:
        with database.writing() as conn:
            return enroll(conn, body.code, body.device.model_dump(), now)
    except RequestRefusedError:
        with database.writing() as conn:
            record_failure(conn, address, now, request.app.state.limits)
        raise


@router.get("/snapshot", response_model=Manifest, responses=_answers("snapshot", *_AUTHENTICATED))
def snapshot_manifest(request: Request, _terminal: Terminal) -> dict[str, Any]:
    """The manifest: entities, columns, row counts and the cursor to pull deltas from."""
    with _database(request).reading() as conn:
        return manifest(conn)


_NDJSON: dict[int | str, dict[str, Any]] = {
    200: {
        "description": 'gzip NDJSON: one JSON array per row, then {"next": key or null}',
        "content": {"application/x-ndjson": {"schema": snapshot_page_schema()}},
    },
    **_errors(400, 404, *_AUTHENTICATED),
}


@router.get("/snapshot/{entity}", responses=_NDJSON, response_class=Response)
def snapshot_page(
    entity: Annotated[Str, PathParam(max_length=64, examples=list(ENTITIES))],
    request: Request,
    _terminal: Terminal,
    after: Annotated[Str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> Response:
    """One page of an entity: gzip NDJSON, one JSON array per row, then ``{"next": key}``."""
    if entity not in ENTITIES:
        raise RequestRefusedError(404, "unknown-entity", f"no entity {entity!r}")
    with _database(request).reading() as conn:
        body = page(conn, ENTITIES[entity], after, limit)
    return Response(body, media_type="application/x-ndjson", headers={"Content-Encoding": "gzip"})


@router.get("/changes", response_model=ChangesPage, responses=_answers("changes", *_AUTHENTICATED))
def changes(
    request: Request,
    _terminal: Terminal,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGES)] = 1_000,
) -> dict[str, Any]:
    """Deltas after a cursor: each change with the row as it is now (or a delete)."""
    with _database(request).reading() as conn:
        return read_changes(conn, after, limit)


@router.post(
    "/sales", response_model=SalesResults, responses=_answers("sales", 400, *_AUTHENTICATED)
)
def sales(body: SalesPush, request: Request, terminal: Terminal) -> dict[str, Any]:
    """Push sales; each is answered created, duplicate, conflict or rejected."""
    started, now = time.perf_counter(), _now(request)
    with _database(request).writing() as conn:
        results = push_sales(conn, terminal, body.sales, now)
    metrics.observe_push(
        terminal.terminal_id, body.sales, results, now, time.perf_counter() - started
    )
    return {"results": results}


@router.get("/reports/daily", response_model=WireDailyReport, responses=_errors(*_AUTHENTICATED))
def daily_report(request: Request, terminal: Terminal, day: DayQuery = None) -> dict[str, Any]:
    """The store-wide daily report of this terminal's store (default: today, store time)."""
    with _database(request).reading() as conn:
        currency = read_settings(conn).currency_name
        zone = _zone(read_settings(conn).timezone_name)
        day = day or _now(request).astimezone(zone).date()
        return store_daily_report(conn, terminal.store_id, day, currency).as_dict()


@router.post(
    "/credential/rotate", response_model=Rotation, responses=_answers("rotate", *_AUTHENTICATED)
)
def credential_rotate(request: Request, credentials: Credentials) -> dict[str, Any]:
    """Rotate this terminal's credential in two steps (``club_server.lifecycle``).

    With the current credential: a new pending credential (the same one on
    every retry; the current one stays valid). With the pending credential:
    it becomes the terminal's, and the old one stops working.
    """
    with _database(request).writing() as conn:
        return rotate_credential(conn, _header(credentials), _now(request))


@router.post("/decommission", response_model=Decommissioned, responses=_errors(*_AUTHENTICATED))
def decommission_terminal(request: Request, terminal: Terminal) -> dict[str, Any]:
    """Revoke this terminal: it can no longer push or pull (403 terminal-revoked)."""
    with _database(request).writing() as conn:
        return decommission(conn, terminal, _now(request))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")

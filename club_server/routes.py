"""The endpoints of sync protocol v1 (``docs/sync-protocol.md``).

Handlers are plain ``def`` functions: FastAPI runs them in its thread pool,
and each opens one short transaction through the app's :class:`Database`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from club_server import __version__
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
from club_server.reports import store_daily_report
from club_server.sales import MAX_SALES, push_sales
from club_server.settings import read_settings
from club_server.snapshot import DEFAULT_PAGE, MAX_PAGE, manifest, page
from club_server.terminals import TerminalRecord, authenticate, enroll
from clubcore.errors import RequestRefusedError

__all__ = ["router"]

router = APIRouter(prefix="/v1")
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": '`{"error": code, "message": text}`'}
    for code in (400, 401, 403, 404, 410, 413, 422)
}


class DeviceInfo(BaseModel):
    """What the enrolling terminal says about itself (kept for the operator)."""

    model_config = ConfigDict(extra="allow")
    hostname: str | None = Field(default=None, max_length=255)
    version: str | None = Field(default=None, max_length=64)


class EnrollRequest(BaseModel):
    code: str = Field(max_length=64, description="the one-time code, XXXX-XXXX-XXXX")
    device: DeviceInfo = Field(default_factory=DeviceInfo)


class SalesPush(BaseModel):
    sales: list[Any] = Field(max_length=MAX_SALES, description="sales in their wire form")


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def current_terminal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> TerminalRecord:
    """The authenticated terminal (401/403 otherwise).

    A terminal's pending rotated credential is activated by its first use
    here (:mod:`club_server.lifecycle`). Only a header that matches a pending
    credential takes a write transaction; a wrong credential costs one read.
    """
    with _database(request).reading() as conn:
        try:
            return authenticate(conn, authorization)
        except RequestRefusedError as exc:
            if exc.status != 401 or not pending_matches(conn, authorization):
                raise
            refusal = exc
    with _database(request).writing() as conn:
        return activate_on_first_use(conn, authorization, _now(request), refusal)


Terminal = Annotated[TerminalRecord, Depends(current_terminal)]


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """Liveness, the server's clock (for skew) and versions."""
    return {"status": "ok", "time": iso(_now(request)), "version": __version__, "protocol": 1}


@router.post("/enroll", responses=_ERRORS)
def enroll_terminal(body: EnrollRequest, request: Request) -> dict[str, str]:
    """Spend a one-time enrollment code for this terminal's credential."""
    with _database(request).writing() as conn:
        return enroll(conn, body.code, body.device.model_dump(), _now(request))


@router.get("/snapshot", responses=_ERRORS)
def snapshot_manifest(request: Request, _terminal: Terminal) -> dict[str, Any]:
    """The manifest: entities, columns, row counts and the cursor to pull deltas from."""
    with _database(request).reading() as conn:
        return manifest(conn)


@router.get("/snapshot/{entity}", responses=_ERRORS, response_class=Response)
def snapshot_page(
    entity: str,
    request: Request,
    _terminal: Terminal,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> Response:
    """One page of an entity: gzip NDJSON, one JSON array per row, then ``{"next": key}``."""
    if entity not in ENTITIES:
        raise RequestRefusedError(404, "unknown-entity", f"no entity {entity!r}")
    with _database(request).reading() as conn:
        body = page(conn, ENTITIES[entity], after, limit)
    return Response(body, media_type="application/x-ndjson", headers={"Content-Encoding": "gzip"})


@router.get("/changes", responses=_ERRORS)
def changes(
    request: Request,
    _terminal: Terminal,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> dict[str, Any]:
    """Deltas after a cursor: each change with the row as it is now (or a delete)."""
    with _database(request).reading() as conn:
        return read_changes(conn, after, limit)


@router.post("/sales", responses=_ERRORS)
def sales(body: SalesPush, request: Request, terminal: Terminal) -> dict[str, Any]:
    """Push sales; each is answered created, duplicate, conflict or rejected."""
    with _database(request).writing() as conn:
        return {"results": push_sales(conn, terminal, body.sales, _now(request))}


@router.get("/reports/daily", responses=_ERRORS)
def daily_report(
    request: Request, terminal: Terminal, day: Annotated[date | None, Query(alias="date")] = None
) -> dict[str, Any]:
    """The store-wide daily report of this terminal's store (default: today, store time)."""
    with _database(request).reading() as conn:
        currency = read_settings(conn).currency_name
        zone = _zone(read_settings(conn).timezone_name)
        day = day or _now(request).astimezone(zone).date()
        return store_daily_report(conn, terminal.store_id, day, currency).as_dict()


@router.post("/credential/rotate", responses=_ERRORS)
def credential_rotate(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """Rotate this terminal's credential in two steps (``club_server.lifecycle``).

    With the current credential: a new pending credential (the same one on
    every retry; the current one stays valid). With the pending credential:
    it becomes the terminal's, and the old one stops working.
    """
    with _database(request).writing() as conn:
        return rotate_credential(conn, authorization, _now(request))


@router.post("/decommission", responses=_ERRORS)
def decommission_terminal(request: Request, terminal: Terminal) -> dict[str, Any]:
    """Revoke this terminal: it can no longer push or pull (403 terminal-revoked)."""
    with _database(request).writing() as conn:
        return decommission(conn, terminal, _now(request))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")

"""The FastAPI application: protocol header, body limit and the error contract.

:func:`create_app` is the one place the API is wired (the ``serve`` command
and the tests call it). Every error answer is ``{"error": code, "message":
text}``: our :class:`RequestRefusedError` with its status, 422
``invalid-request`` for a body or query that does not validate, 413
``too-large`` past :data:`MAX_BODY` (an import file: ``ServerLimits.import_body``),
and the framework's 404/405 in the same shape. A 500 would be a bug; it is answered in
the same shape too.

:func:`create_app_from_env` is the import path for process managers that
start several workers (``club-server serve --workers N`` uses it, and so can
``uvicorn --factory club_server.app:create_app_from_env --workers N``): each
worker builds its own app from the environment (:data:`club_server.environment.ENVIRONMENT`).

What a process keeps in memory, and why several processes stay correct:

=============================  ==================================================
state                          across processes
=============================  ==================================================
rate-limit buckets             per process, on purpose: a bucket is a guard
                               against a runaway caller, not a quota; with N
                               processes an address may get up to N times the
                               rate (``serve --workers`` divides the sustained
                               rates by N; each keeps the whole burst)
enrollment lockouts            rows in the database: shared
parsed rule sets               cached by the digest of their stored body, which
                               never changes once written: any process that
                               reads a version gets the same rule set
metrics                        one file per process in $PROMETHEUS_MULTIPROC_DIR,
                               summed at each scrape (:mod:`club_server.metrics`)
=============================  ==================================================
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import fields
from math import ceil
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from club_server import __version__
from club_server.admin.routes import router as admin_router
from club_server.clock import Clock, utc_now
from club_server.db import Database, open_database
from club_server.environment import DB_ENV, LIMITS_ENV, LOG_FILE_ENV, LOG_FORMAT_ENV, LOG_LEVEL_ENV
from club_server.limits import Buckets, Monotonic, ServerLimits, client_address
from club_server.metrics import router as metrics_router
from club_server.requestlog import RequestLogMiddleware
from club_server.routes import router
from clubcore.errors import (
    ConfigError,
    FormatError,
    NotFoundError,
    RateLimitedError,
    RequestRefusedError,
)
from clubcore.logs import configure_logging
from clubcore.wire import MAX_TEXT, ErrorBody, printable, row_schemas

__all__ = [
    "MAX_BODY",
    "PROTOCOL",
    "create_app",
    "create_app_from_env",
    "error_body",
    "error_response",
    "limits_from_env",
]

PROTOCOL = 1
MAX_BODY = 8 * 1024 * 1024
#: where import files are sent (bodies up to ``ServerLimits.import_body``)
IMPORT_PATH = "/admin/v1/import/"
_log = logging.getLogger(__name__)
_HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "too-large",
    415: "unsupported-media-type",
}


def error_body(code: str, message: str) -> dict[str, str]:
    """The protocol's error body (:class:`clubcore.wire.ErrorBody`); any text is escaped to
    what the body may carry (:func:`clubcore.wire.printable`)."""
    return ErrorBody(error=code, message=printable(message)[:MAX_TEXT]).model_dump()


class ProtocolMiddleware:
    """Adds ``X-Club-Protocol`` to every answer, limits request rates per address (429),
    refuses bodies over the limit (413) and bodies that stop arriving (408).

    A body is read here, whole, before the app sees the request: each part
    must arrive within ``limits.body_timeout`` seconds (a body shorter than its
    ``Content-Length`` is answered ``408 timeout`` and the connection closed).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body: int = MAX_BODY,
        limits: ServerLimits | None = None,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.limits = limits or ServerLimits()
        self.addresses = Buckets(self.limits.address_rate, self.limits.address_burst, monotonic)
        self.enrolments = Buckets(self.limits.enroll_rate, self.limits.enroll_burst, monotonic)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Club-Protocol"] = str(PROTOCOL)
            await send(message)

        refusal = self._over_rate(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_header)
            return
        limit = self._limit(scope)
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await self._too_large(scope, receive, send_with_header, limit)
            return
        body, more = bytearray(), True
        while more:
            try:
                message = await asyncio.wait_for(receive(), self.limits.body_timeout)
            except TimeoutError:
                await _timed_out(self.limits.body_timeout)(scope, receive, send_with_header)
                return
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._too_large(scope, receive, send_with_header, limit)
                return
        await self.app(scope, _replay(bytes(body), receive), send_with_header)

    def _over_rate(self, scope: Scope) -> JSONResponse | None:
        address = client_address(scope)
        wait = self.addresses.take(address)
        if not wait and scope.get("path") == "/v1/enroll":
            wait = self.enrolments.take(address)
        if not wait:
            return None
        return error_response(RateLimitedError("rate-limited", "too many requests", ceil(wait)))

    def _limit(self, scope: Scope) -> int:
        if str(scope.get("path", "")).startswith(IMPORT_PATH):
            return max(self.max_body, self.limits.import_body)
        return self.max_body

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            error_body("too-large", f"request bodies are limited to {limit} bytes"), 413
        )
        await response(scope, receive, send)


def _timed_out(seconds: float) -> JSONResponse:
    body = error_body("timeout", f"the request body stopped arriving for {seconds:g} s")
    return JSONResponse(body, 408, headers={"Connection": "close"})


def error_response(exc: RequestRefusedError) -> JSONResponse:
    """Our refusal as an answer: its status and code, and ``Retry-After`` for a 429."""
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=headers)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "the request does not validate"


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestRefusedError)
    async def refused(_: Request, exc: RequestRefusedError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(error_body("not-found", exc.message), 404)

    @app.exception_handler(FormatError)
    async def malformed(_: Request, exc: FormatError) -> JSONResponse:
        return JSONResponse(error_body("malformed", str(exc)), 400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid-request", _validation_message(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http-{exc.status_code}")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, exc.headers)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        _log.exception("unexpected error", exc_info=exc)
        return JSONResponse(error_body("internal", "the server failed; see its log"), 500)


def _add_row_schemas(app: FastAPI) -> None:
    """The document also holds each entity's row schema, which the snapshot pages refer to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(row_schemas())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    database: Database,
    *,
    clock: Clock = utc_now,
    limits: ServerLimits | None = None,
    monotonic: Monotonic = time.monotonic,
) -> FastAPI:
    """The club server's ASGI app over ``database`` (already migrated).

    ``clock`` is the server's now (answers, lockouts); ``monotonic`` times the
    rate limits' buckets; ``limits`` are :class:`ServerLimits` (defaults).
    """
    limits = limits or ServerLimits()
    app = FastAPI(
        title="Club server",
        version=__version__,
        summary="Sync protocol v1 (docs/sync-protocol.md): enrollment, snapshot, deltas, sales.",
    )
    app.state.database = database
    app.state.clock = clock
    app.state.limits = limits
    app.state.terminal_rate = Buckets(limits.terminal_rate, limits.terminal_burst, monotonic)
    app.include_router(router)
    app.include_router(admin_router)
    app.include_router(metrics_router)
    _add_row_schemas(app)
    _install_handlers(app)
    app.add_middleware(ProtocolMiddleware, limits=limits, monotonic=monotonic)
    app.add_middleware(RequestLogMiddleware)  # outermost: refusals are logged and counted too
    return app


def limits_from_env(environ: dict[str, str] | None = None) -> ServerLimits:
    """:class:`ServerLimits` with the fields ``$CLUB_SERVER_LIMITS`` (JSON) changes.

    Raises:
        ConfigError: not a JSON object, an unknown field or a value not a number.
    """
    text = (os.environ if environ is None else environ).get(LIMITS_ENV, "").strip()
    if not text:
        return ServerLimits()
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise ConfigError(LIMITS_ENV, f"not JSON: {exc}") from None
    known = {f.name: f.type for f in fields(ServerLimits)}
    if not isinstance(values, dict) or set(values) - set(known):
        unknown = ", ".join(sorted(set(values) - set(known))) if isinstance(values, dict) else ""
        raise ConfigError(LIMITS_ENV, f"expected an object of {', '.join(known)} ({unknown})")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(LIMITS_ENV, f"{key}: {value!r} is not a number >= 0")
    return ServerLimits(**values)


def create_app_from_env() -> FastAPI:
    """The app as one worker of several builds it: everything from the environment.

    Logging is configured, the database opened (and migrated: migrations take
    the write lock, so workers starting together apply them once).

    Raises:
        ConfigError: a malformed setting (the message names the variable).
    """
    file = os.environ.get(LOG_FILE_ENV)
    configure_logging(
        os.environ.get(LOG_LEVEL_ENV, "WARNING"),
        os.environ.get(LOG_FORMAT_ENV, "plain"),
        Path(file) if file else None,
    )
    database = open_database(os.environ.get(DB_ENV) or None)
    return create_app(database, limits=limits_from_env())

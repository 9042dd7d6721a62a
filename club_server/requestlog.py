"""Every request gets an id, an access line and its place in the metrics.

:class:`RequestLogMiddleware` is the app's outermost layer, so refusals made
before routing (429, 413, 408) are counted and logged too. The id is the
caller's ``X-Request-ID`` when it is a sane token (1-64 letters, digits,
``.``, ``_`` or ``-``: nginx's ``$request_id`` is one), else a fresh one; it is
answered in ``X-Request-ID`` and set in :data:`clubcore.logs.request_id` for
every line logged while the request is handled. The access line goes to the
``club_server.access`` logger at INFO: method, path, status, milliseconds and
the caller's address (never a header, a query string or a body).
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from club_server.limits import client_address
from club_server.metrics import observe_request
from clubcore.logs import request_id

__all__ = ["REQUEST_ID_HEADER", "RequestLogMiddleware"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_access = logging.getLogger("club_server.access")


class RequestLogMiddleware:
    """Request ids, access lines and request metrics (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER.lower(), "")
        rid = given if _SANE_ID.fullmatch(given) else secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, status, time.perf_counter() - started)
            request_id.reset(token)

    @staticmethod
    def _done(scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = str(getattr(route, "path", "unmatched"))
        method = str(scope.get("method", "?"))
        observe_request(method, template, status, seconds)
        _access.info(
            "%s %s %d %.1f ms from %s",
            method,
            scope.get("path", ""),
            status,
            seconds * 1000,
            client_address(scope),
        )

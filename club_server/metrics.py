"""What the club server counts, for Prometheus, and the endpoints operators probe.

=====================================  =============================================
metric                                 meaning
=====================================  =============================================
``club_http_requests_total``           requests by ``method``, ``route``, ``status``
``club_http_request_seconds``          request latency by ``route`` (histogram)
``club_sales_pushed_total``            pushed sales by ``status``: created,
                                       duplicate, conflict, rejected, held
``club_push_seconds``                  one ``POST /v1/sales`` batch, end to end
``club_sale_sync_lag_seconds``         a sale's age when it reached the server
``club_snapshot_requests_total``       snapshot manifest and page requests
``club_delta_requests_total``          ``/v1/changes`` requests
``club_terminal_last_seen_timestamp``  per ``terminal``: last authenticated call
``club_terminal_push_lag_seconds``     per ``terminal``: age of the oldest sale in
                                       its last push (its outbox lag)
=====================================  =============================================

``GET /metrics`` answers the text exposition format, and only to a loopback
caller or one that sends ``Authorization: Bearer $CLUB_SERVER_METRICS_TOKEN``
(403 otherwise): the per-terminal series name the chain's lanes. The
shipped nginx site also refuses ``/metrics`` from outside.

Several server processes (``club-server serve --workers N``) share one
directory, ``$PROMETHEUS_MULTIPROC_DIR``, which ``serve`` creates and empties
at start: each process writes its counters there and any one of them answers
a scrape with the sum over all (gauges: the latest value). Without it (one
process, the tests) the counters live in this process's registry.

``GET /v1/ready`` runs ``SELECT 1`` on the database: 200 ``{"status":
"ready"}``, or 503 ``not-ready`` with the database's error class; ``/v1/health``
stays a liveness check that touches nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from club_server.environment import METRICS_TOKEN_ENV, MULTIPROC_ENV
from club_server.limits import client_address

__all__ = [
    "observe_push",
    "observe_request",
    "router",
    "seen",
]

_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG = (1, 5, 30, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)

REQUESTS = Counter("club_http_requests", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "club_http_request_seconds", "HTTP request latency", ["route"], buckets=_LATENCY
)
SALES_PUSHED = Counter("club_sales_pushed", "Pushed sales by result", ["status"])
PUSH_SECONDS = Histogram("club_push_seconds", "POST /v1/sales latency", buckets=_LATENCY)
SYNC_LAG = Histogram(
    "club_sale_sync_lag_seconds", "Age of a sale when the server received it", buckets=_LAG
)
SNAPSHOT_REQUESTS = Counter("club_snapshot_requests", "Snapshot manifest and page requests")
DELTA_REQUESTS = Counter("club_delta_requests", "Delta (/v1/changes) requests")
LAST_SEEN = Gauge(
    "club_terminal_last_seen_timestamp",
    "Unix time of a terminal's last authenticated call",
    ["terminal"],
    multiprocess_mode="max",
)
PUSH_LAG = Gauge(
    "club_terminal_push_lag_seconds",
    "Age of the oldest sale in a terminal's last push",
    ["terminal"],
    multiprocess_mode="mostrecent",
)
_ROUTE_COUNTERS = {"/v1/snapshot": SNAPSHOT_REQUESTS, "/v1/snapshot/{entity}": SNAPSHOT_REQUESTS}

router = APIRouter()


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request (``route`` is the template, never the raw path)."""
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(route).observe(seconds)
    if route == "/v1/changes":
        DELTA_REQUESTS.inc()
    elif route in _ROUTE_COUNTERS:
        _ROUTE_COUNTERS[route].inc()


def seen(terminal_id: str) -> None:
    """A terminal made an authenticated call now."""
    LAST_SEEN.labels(terminal_id).set(time.time())


def observe_push(
    terminal_id: str,
    sales: Iterable[Any],
    results: Iterable[Mapping[str, Any]],
    now: datetime,
    seconds: float,
) -> None:
    """Count a pushed batch: each result by status, each sale's age, the batch's latency."""
    for result in results:
        SALES_PUSHED.labels(str(result.get("status", "unknown"))).inc()
    ages = [now.timestamp() - created for created in _created(sales)]
    for age in ages:
        SYNC_LAG.observe(max(0.0, age))
    if ages:
        PUSH_LAG.labels(terminal_id).set(max(0.0, max(ages)))
    PUSH_SECONDS.observe(seconds)


def _created(sales: Iterable[Any]) -> Iterable[float]:
    """Each well-formed sale's ``created_at`` as Unix time (malformed ones are skipped)."""
    for sale in sales:
        text_value = sale.get("created_at") if isinstance(sale, Mapping) else None
        if isinstance(text_value, str):
            try:
                yield datetime.fromisoformat(text_value).timestamp()
            except (ValueError, TypeError, OverflowError):
                continue


def _allowed(request: Request) -> bool:
    token = os.environ.get(METRICS_TOKEN_ENV, "")
    header = request.headers.get("authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ipaddress.ip_address(client_address(request.scope)).is_loopback
    except ValueError:
        return False


def _exposition() -> bytes:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus' text format (loopback callers, or the metrics token)."""
    if not _allowed(request):
        body = {"error": "forbidden", "message": f"metrics need ${METRICS_TOKEN_ENV} or loopback"}
        return JSONResponse(body, 403)
    return Response(_exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/ready", include_in_schema=False)
def ready(request: Request) -> Response:
    """Readiness: the database answers ``SELECT 1`` (200), or 503 ``not-ready``."""
    try:
        with request.app.state.database.reading() as conn:
            conn.execute(text("SELECT 1")).scalar()
    except SQLAlchemyError as exc:
        message = f"the database does not answer ({exc.__class__.__name__})"
        return JSONResponse({"error": "not-ready", "message": message}, 503)
    return JSONResponse({"status": "ready"})

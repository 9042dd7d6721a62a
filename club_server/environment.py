"""The environment variables a server process reads, named once.

``club-server serve --workers N`` writes them for its workers;
:func:`club_server.app.create_app_from_env` reads them (and so does an
operator's own ``uvicorn --factory`` or gunicorn line).
"""

from __future__ import annotations

from club_server.db import DB_ENV

__all__ = [
    "DB_ENV",
    "ENVIRONMENT",
    "LIMITS_ENV",
    "LOG_FILE_ENV",
    "LOG_FORMAT_ENV",
    "LOG_LEVEL_ENV",
    "METRICS_TOKEN_ENV",
    "MULTIPROC_ENV",
]

LIMITS_ENV = "CLUB_SERVER_LIMITS"
LOG_LEVEL_ENV = "CLUB_SERVER_LOG_LEVEL"
LOG_FORMAT_ENV = "CLUB_SERVER_LOG_FORMAT"
LOG_FILE_ENV = "CLUB_SERVER_LOG_FILE"
METRICS_TOKEN_ENV = "CLUB_SERVER_METRICS_TOKEN"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: every variable, with what it holds
ENVIRONMENT = {
    DB_ENV: "the database URL (club_server.db)",
    LIMITS_ENV: 'JSON of ServerLimits fields to change, e.g. {"address_rate": 500}',
    LOG_LEVEL_ENV: "DEBUG, INFO, WARNING (the default for a bare factory), ERROR",
    LOG_FORMAT_ENV: "plain (default) or json",
    LOG_FILE_ENV: "also log to this file",
    METRICS_TOKEN_ENV: "a bearer token that may read /metrics from anywhere",
    MULTIPROC_ENV: "metrics shared by several processes (serve --workers sets it)",
}

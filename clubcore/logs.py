"""Logging, configured in one place for the terminal, its sync workers and the club server.

:func:`configure_logging` installs one :func:`logging.config.dictConfig` for
the whole process: every logger (ours, uvicorn's, Kivy's in its ``PYTHON``
mode) propagates to the root logger, whose handlers are

==================  ===============================================================
handler             when
==================  ===============================================================
``stderr``          always: the journal under systemd, the console otherwise
``file``            ``file`` given (the kiosk's ``/var/log/club-terminal/*.log``,
                    rotated by ``deploy/logrotate``; reopened when rotated away)
==================  ===============================================================

Each line is either ``plain`` (``2026-12-01 10:00:00,123 INFO sync.http [rid]
message``) or ``json`` (one object a line: ``time``, ``level``, ``logger``,
``message``, ``request_id`` when there is one, ``exc`` for a traceback).

Nothing secret reaches a line: every formatted line (message and traceback)
passes :func:`redact`, which blanks bearer credentials, terminal credentials
(``t-…<dot>secret``), one-time enrollment codes, private-key PEM blocks and
phone numbers, and any value given to :func:`register_secret` (a PIN, a
credential read from disk). ``docs/operator-guide.md`` ("Logs") lists the
environment variables and options that choose the level, format and file.

The server sets :data:`request_id` per request (a ``X-Request-ID`` header, or
a fresh id); every line logged while the request is handled carries it.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys
import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from clubcore.errors import ConfigError

__all__ = [
    "FORMATS",
    "LEVELS",
    "JsonFormatter",
    "PlainFormatter",
    "StderrHandler",
    "configure_logging",
    "logging_config",
    "redact",
    "register_secret",
    "request_id",
]

LogFormat = Literal["plain", "json"]
FORMATS: tuple[LogFormat, ...] = ("plain", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: the id of the request being handled (server), ``-`` outside a request
request_id: ContextVar[str] = ContextVar("request_id", default="-")

REDACTED = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+\S+"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(t-[0-9a-f]{6,16})\.[A-Za-z0-9_\-]{8,}"), rf"\1.{REDACTED}"),
    (re.compile(r"\b[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}\b"), "[code]"),
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        "[private key]",
    ),
    # Iranian mobiles (09121234567, +989121234567, 00989121234567): keep the last two digits
    (re.compile(r"(?<!\d)(?:\+98|0098|0)9\d{7}(\d{2})(?!\d)"), r"[phone ..\1]"),
)
_OURS = "_club_handler"
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(value: str) -> None:
    """Never log ``value`` (a PIN, a credential): it is replaced wherever it appears.

    Values shorter than 4 characters are ignored (they would blank ordinary text).
    """
    if len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every secret the module knows of blanked (see the module docstring)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class PlainFormatter(logging.Formatter):
    """Human lines, redacted: time, level, logger, the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        record.rid = "" if rid == "-" else f" [{rid}]"
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line, redacted; extra fields given with ``extra=`` are kept."""

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "rid"}

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid != "-":
            data["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the process's real standard error (file descriptor 2, the journal).

    Never to a replaced ``sys.stderr``: Kivy may redirect that into its logger
    (a loop), and a test runner's capture stream may be closed by the time a
    line is logged.
    """

    def __init__(self) -> None:
        super().__init__(sys.__stderr__ or sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.__stderr__ or sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _level(level: str | int) -> str:
    name = logging.getLevelName(level) if isinstance(level, int) else level.strip().upper()
    if name not in LEVELS:
        raise ConfigError("log level", f"{level!r} is not one of {', '.join(LEVELS)}")
    return str(name)


def logging_config(
    level: str | int = "INFO", fmt: str = "plain", file: Path | None = None
) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` for ``level``, ``fmt`` and ``file``.

    Raises:
        ConfigError: an unknown level or format.
    """
    if fmt not in FORMATS:
        raise ConfigError("log format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    formatter = f"{__name__}.{'JsonFormatter' if fmt == 'json' else 'PlainFormatter'}"
    handlers: dict[str, dict[str, Any]] = {
        "stderr": {"class": f"{__name__}.StderrHandler", "formatter": "main"}
    }
    if file is not None:
        handlers["file"] = {
            "class": "logging.handlers.WatchedFileHandler",
            "formatter": "main",
            "filename": str(file),
            "encoding": "utf-8",
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": {"()": formatter}},
        "handlers": handlers,
        "root": {"level": _level(level), "handlers": list(handlers)},
        "loggers": {  # uvicorn's own loggers carry handlers of their own unless told otherwise
            name: {"handlers": [], "propagate": True, "level": "NOTSET"}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "kivy")
        },
    }


def configure_logging(
    level: str | int = "INFO", fmt: str = "plain", file: Path | None = None
) -> None:
    """Configure the process's logging (see the module docstring); safe to call again.

    Raises:
        ConfigError: an unknown level or format, or a log file that cannot be
            opened (the message names it and says why).
    """
    config = logging_config(level, fmt, file)
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            with file.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise ConfigError(
                "log file",
                f"cannot write {file}: {exc.strerror or exc}",
                hint="give a writable --log-file, or none to log to stderr only",
            ) from None
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not getattr(h, _OURS, False)]  # e.g. pytest's
    logging.config.dictConfig(config)
    for handler in root.handlers:
        setattr(handler, _OURS, True)
    for handler in foreign:
        root.addHandler(handler)
    logging.captureWarnings(True)

"""The server's notion of now: UTC, ISO 8601 text with offset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "iso", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as ISO 8601 text in UTC with offset (``...+00:00``)."""
    return moment.astimezone(UTC).isoformat()

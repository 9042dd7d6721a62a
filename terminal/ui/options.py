"""How to run the app, in a module without Kivy (importing Kivy's window fixes its size)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from terminal.ui.status import SyncStatusView

if TYPE_CHECKING:
    from terminal.ui.app import ClubTerminalApp

__all__ = ["AppOptions"]


@dataclass
class AppOptions:
    """How to run the app (the CLI, the tests and the benchmark fill it in)."""

    data_dir: Path
    readers: list[str] = field(default_factory=lambda: ["sim"])
    demo: bool = False
    fullscreen: bool = False
    size: tuple[int, int] = (1280, 800)
    language: str = "en"
    debounce: float = 2.0
    sync_status: Callable[[], SyncStatusView] | None = None
    on_ready: Callable[[ClubTerminalApp], None] | None = None
    latency_probe: Callable[[float, float], None] | None = None

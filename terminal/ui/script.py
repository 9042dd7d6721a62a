"""Drive the running app like a finger would: find widgets by name, tap them, wait.

Used by the UI tests, the screenshots command and the benchmark. A script
is a generator run on the Kivy clock; each value it yields says how to wait
before the next step:

=====================  ==============================================
yield                  waits
=====================  ==============================================
``None``               one frame
a number               that many seconds
a callable             until it returns true (or the step times out)
=====================  ==============================================

Taps are real touch events (``kivy.tests.common.UnitTestTouch``) sent
through the window at the widget's centre, so they hit whatever is on top
there, exactly as a finger would.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kivy.clock import Clock

__all__ = ["Script", "Step", "find", "find_all", "placed", "reveal", "screenshot", "tap", "texts"]

Step = float | Callable[[], bool] | None

#: running scripts (the clock keeps only weak references to their tick)
_RUNNING: set[Script] = set()


def _walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in list(widget.children):
        yield from _walk(child)


def _window() -> Any:
    from kivy.core.window import Window  # not at import: that would fix the window size

    return Window


def find_all(name: str) -> list[Any]:
    """Every widget on screen (dialogs included) whose ``name`` is ``name``, top first."""
    Window = _window()
    found: list[Any] = []
    for root in list(Window.children):
        found.extend(w for w in _walk(root) if getattr(w, "name", None) == name)
    return found


def find(name: str) -> Any:
    """The top-most widget named ``name``, or None."""
    found = find_all(name)
    return found[0] if found else None


def texts(name: str) -> list[str]:
    """The logical texts of the widgets named ``name`` (what a reader would see)."""
    return [str(getattr(w, "logical", getattr(w, "text", ""))) for w in find_all(name)]


def placed(*names: str) -> Callable[[], bool]:
    """A step condition: the widgets exist and kept their place for three frames.

    A widget just added sits at (0, 0) until layouts have run, and nested
    layouts can take a few frames to settle; a tap before that lands
    elsewhere.
    """
    seen: list[object] = []

    def check() -> bool:
        widgets = [find(name) for name in names]
        if any(w is None for w in widgets):
            seen.clear()
            return False
        seen.append([(*w.to_window(*w.pos), *w.size) for w in widgets])
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    return check


def reveal(name: str) -> None:
    """Scroll the widget named ``name`` into view, as a finger would (no animation).

    Raises:
        LookupError: no widget has that name.
    """
    from kivy.uix.scrollview import ScrollView

    widget = find(name)
    if widget is None:
        raise LookupError(f"no widget named {name!r} on screen")
    parent = widget.parent
    while parent is not None and not isinstance(parent, ScrollView):
        parent = parent.parent
    if parent is not None:
        parent.scroll_to(widget, padding=0, animate=False)


def tap(target: Any) -> None:
    """Touch down and up at the centre of a widget (or the widget named so).

    Raises:
        LookupError: no widget has that name.
    """
    from kivy.tests.common import UnitTestTouch

    widget = find(target) if isinstance(target, str) else target
    if widget is None:
        raise LookupError(f"no widget named {target!r} on screen")
    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()


def screenshot(path: Path) -> Path:
    """Save the window as a PNG at exactly ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = _window().screenshot(name=os.path.join(tmp, "shot.png"))
        shutil.move(saved, path)
    return path


class Script:
    """Runs a step generator on the Kivy clock; ``done(error)`` is called at the end."""

    def __init__(
        self,
        steps: Iterator[Step],
        done: Callable[[BaseException | None], None],
        step_timeout: float = 15.0,
    ) -> None:
        self.steps, self.done, self.step_timeout = steps, done, step_timeout
        self._until: Callable[[], bool] | None = None
        self._deadline = 0.0
        self._event: Any = None

    def start(self) -> None:
        _RUNNING.add(self)
        self._event = Clock.schedule_interval(self._tick, 0)

    def _tick(self, _dt: float) -> None:
        now = time.monotonic()
        try:
            if self._until is not None and not self._until():
                if now > self._deadline:
                    raise TimeoutError(f"waited {self.step_timeout} s for {self._until!r}")
                return
            step = next(self.steps)
        except StopIteration:
            self._finish(None)
            return
        except BaseException as exc:  # a failed step ends the script with its error
            self._finish(exc)
            return
        self._deadline = time.monotonic() + self.step_timeout
        if step is None:
            self._until = None
        elif callable(step):
            self._until = step
        else:
            end = time.monotonic() + float(step)
            self._until = lambda: time.monotonic() >= end

    def _finish(self, error: BaseException | None) -> None:
        self._event.cancel()
        _RUNNING.discard(self)
        self.done(error)

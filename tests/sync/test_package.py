from __future__ import annotations

import importlib
import pkgutil

import sync


def test_every_module_lists_its_public_names_and_they_exist() -> None:
    names = [m.name for m in pkgutil.iter_modules(sync.__path__)]
    assert {"http", "credentials", "enroll", "snapshot", "pull", "push", "worker"} <= set(names)
    for name in ["sync", *(f"sync.{n}" for n in names)]:
        module = importlib.import_module(name)
        assert module.__doc__, name
        for public in module.__all__:
            assert hasattr(module, public), f"{name}.{public}"


def test_sync_does_not_import_the_ui() -> None:
    """In a fresh interpreter: other tests of this session may have imported Kivy."""
    import subprocess
    import sys

    names = [m.name for m in pkgutil.iter_modules(sync.__path__)]
    code = (
        "import sys\n"
        + "".join(f"import sync.{n}\n" for n in names)
        + "assert not any(m == 'kivy' or m.startswith('kivy.') for m in sys.modules), 'kivy'\n"
        + "assert not any(m.startswith('terminal.ui') for m in sys.modules), 'terminal.ui'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

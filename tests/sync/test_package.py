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
    import sys

    assert not any(name == "kivy" or name.startswith("kivy.") for name in sys.modules)

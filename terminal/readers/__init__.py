"""Card readers behind one interface, opened from a path string.

Path grammar (the one place it is written down):

=============================  ===============================================
path                           reader
=============================  ===============================================
``pcsc``                       every PC/SC reader pcscd knows, now and later
``pcsc:<reader name>``         the PC/SC reader(s) whose name starts with it,
                               e.g. ``pcsc:Virtual PCD 00 00``
``nfc:usb``                    the first nfcpy-supported USB reader
``nfc:usb:<vid>:<pid>``        a USB reader by vendor and product id (hex)
``nfc:tty:<port>:<driver>``    a serial reader, e.g. ``nfc:tty:USB0:pn532``
``nfc:udp[:<host>:<port>]``    nfcpy's simulated device over UDP
                               (default ``localhost:54321``)
``wedge``                      keyboard-wedge scanner: the first input device
                               that looks like a scanner (Linux evdev, grabbed
                               exclusively)
``wedge:<input device>``       a given input device, e.g.
                               ``wedge:/dev/input/by-id/usb-scanner-event-kbd``
``sim``                        the simulated reader (demo and tests)
=============================  ===============================================

A path names a driver module (the part before the first ``:``) and hands the
rest to it. Several readers may run at once; each runs its own thread and
delivers :class:`~terminal.readers.base.CardRead` and
:class:`~terminal.readers.base.ReaderStatus` events to a sink.
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast

from clubcore.errors import ReaderUnavailableError
from terminal.readers.base import (
    CardKind,
    CardRead,
    Reader,
    ReaderEvent,
    ReaderState,
    ReaderStatus,
    Sink,
)

__all__ = [
    "DRIVERS",
    "CardKind",
    "CardRead",
    "Reader",
    "ReaderEvent",
    "ReaderState",
    "ReaderStatus",
    "Sink",
    "open_reader",
]

#: path prefix -> module implementing ``open(path: str, rest: str) -> Reader``
DRIVERS: dict[str, str] = {
    "pcsc": "terminal.readers.pcsc",
    "nfc": "terminal.readers.nfc",
    "wedge": "terminal.readers.wedge",
    "sim": "terminal.readers.sim",
}


class _DriverModule(Protocol):
    def open(self, path: str, rest: str) -> Reader: ...


def open_reader(path: str) -> Reader:
    """Create (not start) the reader named by ``path``; see the module docstring.

    Raises:
        ReaderUnavailableError: unknown driver, malformed path, or the driver's
            library is not installed.
    """
    prefix, _, rest = path.strip().partition(":")
    module_name = DRIVERS.get(prefix)
    if module_name is None:
        known = ", ".join(sorted(DRIVERS))
        raise ReaderUnavailableError(
            f"unknown reader path {path!r}", hint=f"a path starts with one of: {known}"
        )
    try:
        module = cast(_DriverModule, importlib.import_module(module_name))
    except ImportError as exc:
        raise ReaderUnavailableError(
            f"reader driver {prefix!r} cannot load: {exc}",
            hint="install the project with its dependencies (see README)",
        ) from exc
    return module.open(path, rest)

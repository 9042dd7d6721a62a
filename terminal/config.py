"""The terminal's configuration file, ``terminal.toml``: loaded, validated, applied.

One TOML file says how a terminal in the field is set up. It is found at
``--config PATH``, else ``$CLUB_TERMINAL_CONFIG``, else ``terminal.toml`` in
the data directory::

    [server]
    url = "https://club.example"        # the club server (http:// only on loopback)
    ca_bundle = "/etc/club/ca.pem"      # optional: CAs to trust (relative to this file)

    [store]
    id = "store-12"

    readers = ["pcsc", "wedge"]         # reader paths (terminal/readers/__init__.py)
                                        # (a top-level key: put it before any [table])
    [ui]
    language = "fa"                     # en | fa

    [pins]
    min_length = 4                      # 4..12

    [kiosk]
    fullscreen = true
    size = "800x480"                    # WxH

    [printer]
    path = "net:192.168.1.50:9100"      # net:HOST[:PORT], usb:VID:PID, serial:DEV[:BAUD], file:PATH
    paper_mm = 80                       # 58 | 80
    drawer = true                       # a cash sale kicks the drawer open

The file sets only what the lane owns (:mod:`clubcore.settings` lists the
owners). The currency, its display unit and the offline policy are the club's
(``club-server settings set currency IRT``) and reach the lane in its deltas:
``[money]`` and ``[offline]`` are refused here with a message saying so, so a
lane can never price, report or cap points differently from the club.
``server.url`` and ``store.id`` may only repeat what provisioning wrote.

Every value is checked when the file is loaded; the first problem raises
:class:`~clubcore.errors.ConfigError` naming the key (``pins.min_length``) and
what is wrong with it. Unknown keys are refused (a typo must not be ignored),
and so are secrets: the terminal's credential lives in its own 0600 file in
the data directory (:mod:`sync.credentials`), never here.

:func:`apply_config` writes the settings the app and the CLI read, all in one
transaction, after every check passed: nothing starts half-configured.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from clubcore.errors import ConfigError
from clubcore.settings import (
    DRAWER,
    FULLSCREEN,
    KIOSK_SIZE,
    LANGUAGE,
    PAPER_MM,
    PIN_MIN_LENGTH,
    PRINTER,
    READERS,
    STORE_ID,
)
from offline_store.settings import put_settings, read_settings
from terminal.readers import DRIVERS

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "TerminalConfig",
    "apply_config",
    "config_path",
    "describe",
    "load_config",
    "parse_config",
]

#: environment variable naming the configuration file
CONFIG_ENV = "CLUB_TERMINAL_CONFIG"
#: the file's name in the data directory
CONFIG_FILENAME = "terminal.toml"

_SECRET_WORDS = ("credential", "secret", "token", "password")
_SECRET_HINT = (
    "the terminal credential is kept in credential.json (mode 0600) in the data "
    "directory, written by 'club-terminal provision'; remove this key"
)
_STORE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SIZE = re.compile(r"(\d{3,5})x(\d{3,5})")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


@dataclass(frozen=True, slots=True)
class TerminalConfig:
    """A validated ``terminal.toml``. ``None`` (or ``()``) means the file does not set it."""

    source: Path | None = None
    server_url: str | None = None
    ca_bundle: Path | None = None
    store_id: str | None = None
    readers: tuple[str, ...] = ()
    language: str | None = None
    pin_min_length: int | None = None
    fullscreen: bool | None = None
    kiosk_size: tuple[int, int] | None = None
    printer: str | None = None
    paper_mm: int | None = None
    drawer: bool | None = None

    def settings(self) -> dict[str, str]:
        """The terminal settings this file sets (only those it sets), as stored strings."""
        values: dict[str, object | None] = {
            READERS.key: ",".join(self.readers) if self.readers else None,
            LANGUAGE.key: self.language,
            PIN_MIN_LENGTH.key: self.pin_min_length,
            FULLSCREEN.key: None if self.fullscreen is None else _yes_no(self.fullscreen),
            KIOSK_SIZE.key: None if self.kiosk_size is None else "{}x{}".format(*self.kiosk_size),
            PRINTER.key: self.printer,
            PAPER_MM.key: self.paper_mm,
            DRAWER.key: None if self.drawer is None else _yes_no(self.drawer),
        }
        return {key: str(value) for key, value in values.items() if value is not None}


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# -- finding and reading the file ------------------------------------------------


def config_path(data_dir: Path, explicit: Path | None = None) -> Path:
    """The config file: ``explicit``, else ``$CLUB_TERMINAL_CONFIG``, else in the data dir."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else data_dir / CONFIG_FILENAME


def load_config(path: Path) -> TerminalConfig:
    """Read and validate the configuration file at ``path``.

    Raises:
        ConfigError: the file is missing or unreadable, is not valid TOML (the
            message gives the line), or a key is unknown, secret, of the wrong
            type or out of range (the message names the key).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "config",
            f"{path} does not exist",
            hint=f"write one (see 'club-terminal config --help'), or pass --config; ${CONFIG_ENV}",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot read {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from exc
    return parse_config(data, base=path.parent, source=path)


# -- validation ------------------------------------------------------------------

_Validator = Callable[[str, Any, Path], Any]


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {_type_name(value)} {value!r}")
    if not value.strip():
        raise ConfigError(key, "must not be empty")
    return value.strip()


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


def _integer(key: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"expected a whole number, got {_type_name(value)} {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ConfigError(key, f"{value} is out of range: must be {bounds}")
    return value


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    text = _string(key, value)
    if text not in choices:
        raise ConfigError(key, f"{text!r} is not one of {', '.join(choices)}")
    return text


def _server_url(key: str, value: Any, base: Path) -> str:
    url = _string(key, value).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(key, f"{url!r} is not an https:// URL with a host")
    if parts.path or parts.query or parts.fragment:
        raise ConfigError(key, f"{url!r}: give only the scheme, host and port")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigError(key, f"{url!r} has a bad port") from None
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(
            key, f"{url!r} is plain http", hint="use https (http is only for 127.0.0.1 tests)"
        )
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ca_bundle(key: str, value: Any, base: Path) -> Path:
    path = Path(_string(key, value))
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ConfigError(key, f"{path} is not a file", hint="give a PEM file of trusted CAs")
    return path


def _store_id(key: str, value: Any, base: Path) -> str:
    text = _string(key, value)
    if not _STORE_ID.fullmatch(text):
        raise ConfigError(key, f"{text!r} is not a store id (letters, digits, '-', '_', '.')")
    return text


def _readers(key: str, value: Any, base: Path) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(key, f"expected a list of reader paths, got {_type_name(value)}")
    if not value:
        raise ConfigError(key, "the list is empty", hint='e.g. readers = ["pcsc", "wedge"]')
    paths = tuple(_reader_path(f"{key}[{i}]", item) for i, item in enumerate(value))
    if len(set(paths)) != len(paths):
        raise ConfigError(key, "a reader path is listed twice")
    return paths


def _reader_path(key: str, value: Any) -> str:
    path = _string(key, value)
    prefix, sep, rest = path.partition(":")
    if prefix not in DRIVERS:
        known = ", ".join(sorted(DRIVERS))
        raise ConfigError(key, f"{path!r}: unknown reader driver {prefix!r} (one of: {known})")
    problem = _reader_problem(prefix, rest) if sep else None
    if problem:
        raise ConfigError(key, f"{path!r}: {problem}", hint="see the reader path grammar in README")
    return path


def _reader_problem(prefix: str, rest: str) -> str | None:
    """What is wrong with the part after ``prefix:``; None when it fits the grammar."""
    if prefix == "sim":
        return "'sim' takes nothing after it"
    if prefix in ("pcsc", "wedge"):
        return None if rest else f"expected a name after '{prefix}:'"
    kind, _, args = rest.partition(":")
    parts = args.split(":") if args else []
    if kind == "usb" and (not parts or (len(parts) == 2 and all(map(_HEX4.fullmatch, parts)))):
        return None
    if kind == "tty" and len(parts) == 2 and all(parts):
        return None
    if kind == "udp" and (not parts or (len(parts) == 2 and parts[0] and parts[1].isdigit())):
        return None
    return (
        "expected nfc:usb, nfc:usb:<vid>:<pid>, nfc:tty:<port>:<driver> or nfc:udp[:<host>:<port>]"
    )


def _size(key: str, value: Any, base: Path) -> tuple[int, int]:
    match = _SIZE.fullmatch(_string(key, value)) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(key, f'{value!r} is not a size like "800x480"')
    width, height = int(match[1]), int(match[2])
    if not (320 <= width <= 10000 and 240 <= height <= 10000):
        raise ConfigError(key, f"{value!r} is out of range (320x240 to 10000x10000)")
    return width, height


def _boolean(key: str, value: Any, base: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {_type_name(value)} {value!r}")
    return value


def _printer_path(key: str, value: object, base: Path) -> str:
    from terminal.receipts.printer import parse_printer_path

    if not isinstance(value, str):
        raise ConfigError(key, f"expected a printer path, got {_type_name(value)} {value!r}")
    parse_printer_path(value)
    return value


def _paper_mm(key: str, value: object, base: Path) -> int:
    width = _integer(key, value, 58, 80)
    if width not in (58, 80):
        raise ConfigError(key, f"{width} mm paper: receipt printers take 58 or 80 mm")
    return width


#: ``section.key`` -> (dataclass field, validator)
_SCHEMA: dict[str, tuple[str, _Validator]] = {
    "server.url": ("server_url", _server_url),
    "server.ca_bundle": ("ca_bundle", _ca_bundle),
    "store.id": ("store_id", _store_id),
    "readers": ("readers", _readers),
    "ui.language": ("language", lambda k, v, b: _choice(k, v, ("en", "fa"))),
    "pins.min_length": ("pin_min_length", lambda k, v, b: _integer(k, v, 4, 12)),
    "kiosk.fullscreen": ("fullscreen", _boolean),
    "kiosk.size": ("kiosk_size", _size),
    "printer.path": ("printer", _printer_path),
    "printer.paper_mm": ("paper_mm", _paper_mm),
    "printer.drawer": ("drawer", _boolean),
}
#: tables of keys the club owns: refused, with where to set them instead
_CLUB_SECTIONS = {
    "money": "club-server settings set currency IRT   (IRR: rial, IRT: rial shown in toman)",
    "offline": "club-server settings set offline.redeem_cap_points N offline.max_age_hours H",
}
_SECTIONS = frozenset(key.split(".")[0] for key in _SCHEMA if "." in key) | set(_CLUB_SECTIONS)


def _flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"ui": {"language": "fa"}}`` -> ``{"ui.language": "fa"}``; refuses secrets, unknowns."""
    flat: dict[str, Any] = {}
    for name, value in data.items():
        _refuse_secret(name)
        if name in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(name, f"expected a table [{name}], got {_type_name(value)}")
            for sub, item in value.items():
                _refuse_secret(f"{name}.{sub}")
                flat[f"{name}.{sub}"] = item
        else:
            flat[name] = value
    for key in flat:
        section = key.split(".")[0]
        if section in _CLUB_SECTIONS:
            raise ConfigError(
                key,
                "is the club's setting; a lane cannot override it (it comes in the club's data)",
                hint=_CLUB_SECTIONS[section],
            )
        if key not in _SCHEMA:
            raise ConfigError(key, "unknown key", hint=f"known keys: {', '.join(_SCHEMA)}")
    return flat


def _refuse_secret(key: str) -> None:
    if any(word in key.lower() for word in _SECRET_WORDS):
        raise ConfigError(key, "secrets do not belong in terminal.toml", hint=_SECRET_HINT)


def parse_config(
    data: Mapping[str, Any], *, base: Path = Path("."), source: Path | None = None
) -> TerminalConfig:
    """Validate parsed TOML.

    Arguments:
        data: what :func:`tomllib.loads` returned.
        base: relative paths (``server.ca_bundle``) are relative to it.
        source: the file, for messages.

    Raises:
        ConfigError: naming the first key that is unknown, secret or invalid.
    """
    values: dict[str, Any] = {"source": source}
    for key, value in _flatten(data).items():
        field_name, validator = _SCHEMA[key]
        values[field_name] = validator(key, value, base)
    return TerminalConfig(**values)


# -- applying ------------------------------------------------------------------------


def apply_config(db: sqlite_utils.Database, config: TerminalConfig) -> dict[str, str]:
    """Check ``config`` against the terminal, then write its settings in one transaction.

    Arguments:
        db: the terminal's database.
        config: a validated configuration.

    Returns:
        the settings written.

    Raises:
        ConfigError: ``server.url`` or ``store.id`` disagree with what the
            terminal is provisioned with (nothing is written).
    """
    _check_identity(db, config)
    values = config.settings()
    with db.atomic():
        put_settings(db, dict(values))
    return values


def _check_identity(db: sqlite_utils.Database, config: TerminalConfig) -> None:
    """The file's server and store must be the ones the terminal is enrolled with."""
    hint = "fix the file, or re-provision: 'club-terminal provision --server URL --code CODE'"
    settings = read_settings(db)
    server = settings.server_url
    if config.server_url and server and server.rstrip("/") != config.server_url:
        raise ConfigError(
            "server.url",
            f"this terminal is provisioned with {server}, not {config.server_url}",
            hint=hint,
        )
    store = settings.store_id if settings.is_set(STORE_ID.key) else None
    if config.store_id and store and store != config.store_id:
        raise ConfigError(
            "store.id",
            f"this terminal is provisioned for store {store}, not {config.store_id}",
            hint=hint,
        )


def describe(config: TerminalConfig) -> dict[str, Any]:
    """The configuration as JSON-ready data (for ``config check --json``)."""
    out: dict[str, Any] = {}
    for item in fields(config):
        value = getattr(config, item.name)
        if value is None or value == ():
            continue
        out[item.name] = str(value) if isinstance(value, Path) else value
    return out

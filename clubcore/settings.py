"""Every setting a lane reads, in one place: key, owner, default, parser, meaning.

Settings are text rows (``key``, ``value``) in the ``settings`` table, on the
lane and on the club server alike. This module is the one definition of each
key: :class:`Settings` wraps the rows read at once and turns each into a typed
value with its default beside it. The lane reads it with
:func:`offline_store.settings.read_settings`, the server with
:func:`club_server.settings.read_settings`; nothing else looks a key up by
its name.

Who owns a key, and what wins
-----------------------------

================  =====================================================  =====================
owner             keys                                                   written by
================  =====================================================  =====================
club              ``rules_version``, ``currency``, ``timezone``,         the club server
                  ``phone_salt``, ``points.*``, ``policy.*``,            (``club-server
                  ``offline.redeem_cap_points``,                         settings set``), synced
                  ``offline.max_age_hours``, ``cards.*``,                to lanes in deltas
                  ``limits.*`` (server only)
provisioning      ``terminal_id``, ``store_id``, ``sync.server_url``,    ``club-terminal
                  ``sync.ca_bundle``, ``sync.provisioned_at``            provision``
lane              ``readers``, ``ui.language``, ``pins.min_length``,     ``terminal.toml``
                  ``kiosk.fullscreen``, ``kiosk.size``, ``printer.*``    (``config apply``)
================  =====================================================  =====================

The club's keys come only from the club: ``terminal.toml`` refuses them
(``money.currency``, ``offline.*``), so a lane can never disagree with the
server about the currency, its display unit or the offline policy. The club
never sends a lane key, so the file is the only writer of its own keys.
Provisioning keys come from the enrollment and ``terminal.toml`` may only
repeat them (``config apply`` refuses a different server or store). A key
nobody has set takes the default written here, the same on lane and server.
For one run, ``club-terminal run``'s options (``--reader``, ``--size``,
``--language``, ``--fullscreen``) win over the lane's keys.

``currency`` names the currency with its display unit (``IRT``: rial shown in
toman); daily reports carry this name on both sides, while a sale records the
ISO code its amounts count (:attr:`clubcore.money.Currency.code`, ``IRR``).

A malformed stored value raises :class:`~clubcore.errors.ConfigError` naming
the key when (and only when) that value is read.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clubcore.errors import ConfigError, FormatError
from clubcore.money import CURRENCIES, Currency
from clubcore.originality import OriginalityPolicy, parse_public_key
from clubcore.points import POLICY_SETTINGS, PointsPolicy, policy_from_settings

__all__ = [
    "CA_BUNDLE",
    "CLUB_KEYS",
    "CURRENCY",
    "DEFAULT_CURRENCY",
    "DRAWER",
    "FULLSCREEN",
    "INCIDENT_FLAGS",
    "KIOSK_SIZE",
    "LANE_KEYS",
    "LANE_OWNED_KEYS",
    "LANGUAGE",
    "MAX_AGE_HOURS",
    "ORIGINALITY_KEYS",
    "PAPER_MM",
    "PHONE_SALT",
    "PIN_MIN_LENGTH",
    "POINTS_PER_MEMBER_DAY",
    "POINTS_PER_SALE",
    "PRINTER",
    "PROVISIONED_AT",
    "PROVISIONED_READERS",
    "READERS",
    "REDEEM_CAP_POINTS",
    "REDEEM_UID_ONLY",
    "REQUIRE_ORIGINALITY",
    "RULES_VERSION",
    "SERVER_URL",
    "SPECS",
    "STORE_ID",
    "TERMINAL_ID",
    "TIMEZONE",
    "Owner",
    "SettingSpec",
    "Settings",
    "whole_number",
]

T = TypeVar("T")


class Owner(enum.StrEnum):
    """Who writes a key (see the module docstring)."""

    CLUB = "club"
    PROVISIONING = "provisioning"
    LANE = "lane"


@dataclass(frozen=True, slots=True)
class SettingSpec(Generic[T]):
    """One setting.

    Attributes:
        key: its name in the ``settings`` table.
        owner: who writes it.
        default: the value when nobody has set it.
        parse: stored text -> value; raises ValueError saying what is wrong.
        doc: one line on what it means.
    """

    key: str
    owner: Owner
    default: T
    parse: Callable[[str], T]
    doc: str


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """A parser of whole numbers in ``low..high`` (no upper bound when None).

    The parser raises ValueError saying what is wrong with the text.
    """

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f"{low}..{high}" if high is not None else f"at least {low}"
            raise ValueError(f"{value} is out of range ({span})")
        return value

    return parse


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def _yes_no(text: str) -> bool:
    return _choice("yes", "no")(text) == "yes"


def _text(text: str) -> str:
    return text


def _optional(text: str) -> str | None:
    return text or None


def _timezone(text: str) -> str:
    """An IANA name every machine knows alike (not ``localtime``: each machine's own)."""
    problem = ValueError(f"{text!r} is not a time zone (e.g. Asia/Tehran, UTC)")
    if text == "localtime":
        raise problem
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem from None
    return text


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("is not hex") from None


def _public_keys(text: str) -> tuple[bytes, ...]:
    """Comma-separated hex secp128r1 points; empty: none (the check is off)."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            keys.append(parse_public_key(_hex(part)))
        except FormatError as exc:
            raise ValueError(f"{part[:16]}...: {exc}") from None
    return tuple(keys)


def _paths(text: str) -> tuple[str, ...]:
    paths = tuple(path.strip() for path in text.split(",") if path.strip())
    if not paths:
        raise ValueError("names no reader")
    return paths


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise ValueError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x800")
    return int(width), int(height)


#: the currency when the club has not set one: rial, shown in toman
DEFAULT_CURRENCY = "IRT"

_CLUB, _PROV, _LANE = Owner.CLUB, Owner.PROVISIONING, Owner.LANE

RULES_VERSION = SettingSpec("rules_version", _CLUB, 0, whole_number(0), "the rule set's version")
CURRENCY = SettingSpec(
    "currency", _CLUB, DEFAULT_CURRENCY, _choice(*CURRENCIES),
    "the currency and its display unit, a key of clubcore.money.CURRENCIES (IRT: rial in toman)",
)  # fmt: skip
TIMEZONE = SettingSpec("timezone", _CLUB, "UTC", _timezone, "the stores' IANA time zone")
PHONE_SALT = SettingSpec("phone_salt", _CLUB, b"", _hex, "the salt of phone lookup keys (hex)")
REDEEM_CAP_POINTS = SettingSpec(
    "offline.redeem_cap_points", _CLUB, 5_000, whole_number(0), "points a member may redeem offline"
)
MAX_AGE_HOURS = SettingSpec(
    "offline.max_age_hours", _CLUB, 72, whole_number(1, 24 * 365), "hours the cached data may age"
)
REDEEM_UID_ONLY = SettingSpec(
    "policy.redeem_uid_only", _CLUB, False, _yes_no, "yes: a UID-only card may redeem points"
)
ORIGINALITY_KEYS: SettingSpec[tuple[bytes, ...]] = SettingSpec(
    "cards.originality_keys", _CLUB, (), _public_keys,
    "chip makers' secp128r1 public keys (hex, comma-separated) that an NTAG's originality "
    "signature must verify under; empty: not checked",
)  # fmt: skip
REQUIRE_ORIGINALITY = SettingSpec(
    "cards.require_originality", _CLUB, False, _yes_no,
    "yes: refuse a signed NTAG whose originality signature cannot be read (with keys set)",
)  # fmt: skip
#: server only (lanes receive and ignore them): points beyond these are held for review
POINTS_PER_SALE = SettingSpec(
    "limits.points_per_sale", _CLUB, 10_000, whole_number(0),
    "most points one sale may earn before it is held (0: no limit)",
)  # fmt: skip
POINTS_PER_MEMBER_DAY = SettingSpec(
    "limits.points_per_member_day", _CLUB, 25_000, whole_number(0),
    "most points one member may earn on one business day before sales are held (0: no limit)",
)  # fmt: skip
INCIDENT_FLAGS = SettingSpec(
    "limits.incident_flags", _CLUB, 3, whole_number(0),
    "open trust flags from one terminal that raise an incident (0: never)",
)  # fmt: skip
TERMINAL_ID = SettingSpec("terminal_id", _PROV, "unprovisioned", _text, "this terminal's id")
STORE_ID = SettingSpec("store_id", _PROV, "unprovisioned", _text, "this terminal's store")
SERVER_URL = SettingSpec("sync.server_url", _PROV, None, _optional, "the club server's URL")
CA_BUNDLE = SettingSpec("sync.ca_bundle", _PROV, None, _optional, "CAs to trust (PEM file)")
PROVISIONED_AT = SettingSpec("sync.provisioned_at", _PROV, None, _optional, "when provisioned")
READERS: SettingSpec[tuple[str, ...]] = SettingSpec(
    "readers", _LANE, ("sim",), _paths,
    "reader paths, comma-separated; unset: pcsc,wedge once provisioned, else sim",
)  # fmt: skip
LANGUAGE = SettingSpec("ui.language", _LANE, "en", _choice("en", "fa"), "the app's language")
PIN_MIN_LENGTH = SettingSpec("pins.min_length", _LANE, 4, whole_number(4, 12), "fewest PIN digits")
FULLSCREEN = SettingSpec("kiosk.fullscreen", _LANE, False, _yes_no, "yes: the app fills the screen")
KIOSK_SIZE = SettingSpec("kiosk.size", _LANE, (1280, 800), _size, "the window size, WxH")
PRINTER = SettingSpec(
    "printer.path", _LANE, None, _optional,
    "the receipt printer: net:HOST[:PORT], usb:VID:PID, serial:DEV[:BAUD] or file:PATH",
)  # fmt: skip
PAPER_MM = SettingSpec(
    "printer.paper_mm", _LANE, 80, lambda t: int(_choice("58", "80")(t.strip())),
    "the receipt paper's width in mm (58 or 80)",
)  # fmt: skip
DRAWER = SettingSpec(
    "printer.drawer", _LANE, True, _yes_no, "yes: a cash sale kicks the drawer open"
)

#: every setting, by key (``points.*`` are :data:`clubcore.points.POLICY_SETTINGS`)
SPECS: dict[str, SettingSpec[object]] = {
    spec.key: spec  # type: ignore[misc]
    for spec in (
        RULES_VERSION, CURRENCY, TIMEZONE, PHONE_SALT, REDEEM_CAP_POINTS, MAX_AGE_HOURS,
        REDEEM_UID_ONLY, ORIGINALITY_KEYS, REQUIRE_ORIGINALITY, POINTS_PER_SALE,
        POINTS_PER_MEMBER_DAY, INCIDENT_FLAGS, TERMINAL_ID, STORE_ID, SERVER_URL, CA_BUNDLE,
        PROVISIONED_AT, READERS, LANGUAGE, PIN_MIN_LENGTH, FULLSCREEN, KIOSK_SIZE,
        PRINTER, PAPER_MM, DRAWER,
    )
}  # fmt: skip
#: the keys only the club sets (``points.*`` included)
CLUB_KEYS = frozenset(
    [key for key, spec in SPECS.items() if spec.owner is Owner.CLUB] + list(POLICY_SETTINGS)
)
#: the keys ``terminal.toml`` sets
LANE_KEYS = frozenset(key for key, spec in SPECS.items() if spec.owner is Owner.LANE)
#: the keys the club's deltas never set on a lane (``terminal.toml``'s and provisioning's)
LANE_OWNED_KEYS = frozenset(key for key, spec in SPECS.items() if spec.owner is not Owner.CLUB)

#: what the default reader paths are once the terminal is provisioned
PROVISIONED_READERS = ("pcsc", "wedge")


class Settings:
    """The settings rows read at one moment, with a typed property per key.

    Arguments:
        values: key -> stored text (the whole ``settings`` table).
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def get(self, spec: SettingSpec[T]) -> T:
        """``spec``'s value: parsed when stored, else its default.

        Raises:
            ConfigError: the stored text is malformed (names the key).
        """
        raw = self._values.get(spec.key)
        if raw is None:
            return spec.default
        try:
            return spec.parse(raw)
        except ValueError as exc:
            raise ConfigError(spec.key, str(exc)) from None

    def raw(self, key: str) -> str | None:
        """The stored text of ``key``, or None (for copying rows, not for reading values)."""
        return self._values.get(key)

    def is_set(self, key: str) -> bool:
        """True if the row exists (whatever its value)."""
        return key in self._values

    # -- the club's ----------------------------------------------------------

    @property
    def has_store_data(self) -> bool:
        """The club's settings have arrived (a snapshot was applied)."""
        return self.is_set(RULES_VERSION.key)

    @property
    def rules_version(self) -> int:
        return self.get(RULES_VERSION)

    @property
    def currency_name(self) -> str:
        """The club's currency setting (``IRT``): the currency with its display unit.

        Reports carry this name, on the lane and on the server alike.
        """
        return self.get(CURRENCY)

    @property
    def currency(self) -> Currency:
        """How amounts are stored and shown (``IRT``: rial shown in toman)."""
        return CURRENCIES[self.currency_name]

    @property
    def timezone_name(self) -> str:
        return self.get(TIMEZONE)

    @property
    def timezone(self) -> ZoneInfo:
        """The stores' time zone; ConfigError when the name is unknown."""
        return ZoneInfo(self.timezone_name)

    @property
    def phone_salt(self) -> bytes:
        return self.get(PHONE_SALT)

    @property
    def points_policy(self) -> PointsPolicy:
        """The points rules (``points.*``); ConfigError on a malformed one."""
        return policy_from_settings({key: self._values.get(key) for key in POLICY_SETTINGS})

    @property
    def redeem_cap_points(self) -> int:
        return self.get(REDEEM_CAP_POINTS)

    @property
    def max_age_hours(self) -> int:
        return self.get(MAX_AGE_HOURS)

    @property
    def redeem_uid_only(self) -> bool:
        return self.get(REDEEM_UID_ONLY)

    @property
    def originality_policy(self) -> OriginalityPolicy:
        """Chip originality checks (``cards.*``); ConfigError on a malformed key."""
        return OriginalityPolicy(self.get(ORIGINALITY_KEYS), self.get(REQUIRE_ORIGINALITY))

    # -- provisioning's ------------------------------------------------------

    @property
    def terminal_id(self) -> str:
        return self.get(TERMINAL_ID)

    @property
    def store_id(self) -> str:
        return self.get(STORE_ID)

    @property
    def server_url(self) -> str | None:
        return self.get(SERVER_URL)

    @property
    def ca_bundle(self) -> str | None:
        return self.get(CA_BUNDLE)

    @property
    def provisioned_at(self) -> str | None:
        return self.get(PROVISIONED_AT)

    @property
    def provisioned(self) -> bool:
        return self.server_url is not None

    # -- the lane's ----------------------------------------------------------

    @property
    def readers(self) -> tuple[str, ...]:
        """Reader paths: the setting, else ``pcsc,wedge`` once provisioned, else ``sim``."""
        if self.is_set(READERS.key):
            return self.get(READERS)
        return PROVISIONED_READERS if self.provisioned else READERS.default

    @property
    def language(self) -> str:
        return self.get(LANGUAGE)

    @property
    def pin_min_length(self) -> int:
        return self.get(PIN_MIN_LENGTH)

    @property
    def fullscreen(self) -> bool:
        return self.get(FULLSCREEN)

    @property
    def kiosk_size(self) -> tuple[int, int]:
        return self.get(KIOSK_SIZE)

    @property
    def printer(self) -> str | None:
        return self.get(PRINTER)

    @property
    def paper_mm(self) -> int:
        return self.get(PAPER_MM)

    @property
    def drawer(self) -> bool:
        return self.get(DRAWER)

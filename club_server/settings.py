"""The club's settings: which keys there are, what values they take, and changing them.

Settings are text in the ``settings`` table, and the whole table is the
``settings`` entity every lane caches (``docs/sync-protocol.md``). Each key
the club may set is one row of :data:`SETTINGS`: a parser that turns the
operator's text into the stored value (or says what is wrong with it) and a
line for ``club-server settings show``.

==============================  ===============================================
key                             value
==============================  ===============================================
``rules_version``               a whole number that may only go up
``currency``                    a code of :data:`clubcore.money.CURRENCIES`
``timezone``                    an IANA time zone (``Asia/Tehran``)
``phone_salt``                  never set here: every lane hashes phones with it
``points.earn_per_amount``      >= 1 minor units per point at 1x
``points.point_value``          >= 1 minor units a point takes off
``points.max_redeem_bp``        0..10000 (share of a basket points may pay)
``points.min_redeem``           >= 1 points per redemption
``offline.redeem_cap_points``   >= 0 points a member may redeem offline
``offline.max_age_hours``       1..8760 hours the lane's data may age
``policy.redeem_uid_only``      ``yes`` or ``no``
``cards.originality_keys``      hex secp128r1 public keys, comma-separated
``cards.require_originality``   ``yes`` or ``no``
``limits.points_per_sale``      >= 0 points one sale may earn, else held (server only)
``limits.points_per_member_day``  >= 0 points a member may earn a day, else held (server only)
``limits.incident_flags``       >= 0 open trust flags of a terminal that make an incident
``velocity.*``                  0..100000 (server only; 0 turns a check off)
==============================  ===============================================

What a key means when it is unset, and how a stored value is read, is
defined once in :mod:`clubcore.settings`, for the server and the lanes alike
(:func:`read_settings`): the currency a report names, for one, is the same
``currency`` value (``IRT`` unless set) on both sides.

:func:`change_settings` checks every key and value before it writes any, then
upserts each changed one (a change-log entry each, so lanes get it in their
next delta) in the caller's transaction. The rule set is versioned
(``docs/pricing.md``): a change to a key marked ``rules`` raises
``rules_version`` by one, unless the same call sets ``rules_version`` itself;
a new ``rules_version`` is published (:func:`club_server.rulesets.publish`)
so that sales priced under it can be re-priced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from club_server.clock import utc_now
from club_server.schema import settings as settings_table
from club_server.upserts import put_settings
from clubcore import settings as core
from clubcore.errors import ConfigError
from clubcore.money import BP_ONE
from clubcore.settings import Settings as ClubSettings
from clubcore.settings import SettingSpec

__all__ = [
    "RULES_VERSION",
    "SETTINGS",
    "Setting",
    "change_settings",
    "parse_pairs",
    "read_settings",
    "show_settings",
]

RULES_VERSION = "rules_version"
#: what ``show`` prints instead of the phone salt
HIDDEN = "(hidden)"

Parser = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Setting:
    """A key the club knows.

    Attributes:
        key: the setting's name.
        parse: the text an operator gives -> the stored text; raises
            ValueError saying what is wrong. None: the key cannot be set here.
        description: one line for ``club-server settings show``.
        rules: part of the rule set (a change raises ``rules_version``).
    """

    key: str
    parse: Parser | None
    description: str
    rules: bool = False


def _integer(low: int, high: int | None = None) -> Parser:
    """A server-only whole-number key, parsed as the core parses its own."""
    whole = core.whole_number(low, high)
    return lambda text: str(whole(text))


def _core(spec: SettingSpec[Any]) -> Parser:
    """The parser of a key the lanes read too: the definition in :mod:`clubcore.settings`."""

    def parse(text: str) -> str:
        value = spec.parse(text.strip())
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, tuple):  # a list of keys: canonical lower-case hex
            return ",".join(item.hex() for item in value)
        return str(value)

    return parse


_RULE, _VELOCITY = True, _integer(0, 100_000)

SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting(RULES_VERSION, _core(core.RULES_VERSION), "the rule set's version, on every sale"),
    Setting("currency", _core(core.CURRENCY), "the club's currency (IRT: shown in toman)"),
    Setting("timezone", _core(core.TIMEZONE), "the stores' time zone (business dates, reports)"),
    Setting("phone_salt", None, "the salt of the lanes' phone hashes (never changed)"),
    Setting("points.earn_per_amount", _integer(1), "minor units for 1 point at 1x", _RULE),
    Setting("points.point_value", _integer(1), "minor units 1 redeemed point takes off", _RULE),
    Setting("points.max_redeem_bp", _integer(0, BP_ONE), "most of a basket points pay (bp)", _RULE),
    Setting("points.min_redeem", _integer(1), "fewest points one redemption uses", _RULE),
    Setting("offline.redeem_cap_points", _core(core.REDEEM_CAP_POINTS),
            "points redeemable offline per member", _RULE),
    Setting("offline.max_age_hours", _core(core.MAX_AGE_HOURS), "hours a lane's data may age"),
    Setting("policy.redeem_uid_only", _core(core.REDEEM_UID_ONLY),
            "yes: a UID-only read may redeem", _RULE),
    Setting("cards.originality_keys", _core(core.ORIGINALITY_KEYS),
            "chip makers' keys an NTAG's originality signature must verify under (hex, comma)"),
    Setting("cards.require_originality", _core(core.REQUIRE_ORIGINALITY),
            "yes: refuse a signed NTAG whose originality signature cannot be read"),
    Setting(core.POINTS_PER_SALE.key, _core(core.POINTS_PER_SALE), core.POINTS_PER_SALE.doc),
    Setting(core.POINTS_PER_MEMBER_DAY.key, _core(core.POINTS_PER_MEMBER_DAY),
            core.POINTS_PER_MEMBER_DAY.doc),
    Setting(core.INCIDENT_FLAGS.key, _core(core.INCIDENT_FLAGS), core.INCIDENT_FLAGS.doc),
    Setting("velocity.max_sales", _VELOCITY, "flag more sales than this in the window (0: off)"),
    Setting("velocity.window_minutes", _VELOCITY, "the velocity window, minutes (0: off)"),
    Setting("velocity.store_hop_minutes", _VELOCITY, "flag two stores within this (0: off)"),
)}  # fmt: skip


def parse_pairs(args: Sequence[str]) -> dict[str, str]:
    """``KEY VALUE [KEY VALUE ...]`` -> the stored values, every one checked.

    Raises:
        ConfigError: a key without a value, given twice, unknown or not
            settable, or a value it does not take (the message names the key).
    """
    if len(args) % 2:
        raise ConfigError(args[-1], "no value given", hint="club-server settings set KEY VALUE")
    values: dict[str, str] = {}
    for key, text in zip(args[::2], args[1::2], strict=True):
        if key in values:
            raise ConfigError(key, "given twice")
        values[key] = _parse(key, text)
    return values


def _parse(key: str, text: str) -> str:
    setting = SETTINGS.get(key)
    if setting is None:
        raise ConfigError(key, "unknown setting", hint="'club-server settings show' lists them")
    if setting.parse is None:
        raise ConfigError(
            key,
            "cannot be changed: every lane hashes phone numbers with it, so a new salt "
            "breaks phone lookup on every lane",
        )
    try:
        return setting.parse(text)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def read_settings(conn: Connection) -> ClubSettings:
    """The club's settings, typed, with the lanes' defaults (:mod:`clubcore.settings`)."""
    return ClubSettings(_stored(conn))


def _stored(conn: Connection) -> dict[str, str]:
    rows = conn.execute(select(settings_table.c.key, settings_table.c.value))
    return {str(key): str(value) for key, value in rows}


def show_settings(conn: Connection) -> list[dict[str, Any]]:
    """Every known setting (``value`` None when unset), then any unknown ones stored.

    The phone salt's value is shown as ``(hidden)``.
    """
    stored = _stored(conn)
    rows = [
        {"key": key, "value": stored.get(key), "settable": s.parse is not None,
         "rules": s.rules, "description": s.description}
        for key, s in SETTINGS.items()
    ]  # fmt: skip
    for row in rows:
        if row["key"] == "phone_salt" and row["value"] is not None:
            row["value"] = HIDDEN
    for key in sorted(set(stored) - set(SETTINGS)):
        rows.append({"key": key, "value": stored[key], "settable": False, "rules": False,
                     "description": "not a setting the club knows"})  # fmt: skip
    return rows


def change_settings(
    conn: Connection, values: Mapping[str, str]
) -> dict[str, tuple[str | None, str]]:
    """Write checked ``values`` (:func:`parse_pairs`); raise ``rules_version`` if a rule changed.

    Arguments:
        conn: a connection in a write transaction.
        values: key -> stored text.

    Returns:
        key -> (old value or None, new value), for the keys that changed.

    Raises:
        ConfigError: ``rules_version`` does not go up, or must be raised and
            the stored one is not a whole number; nothing is written.
    """
    stored = _stored(conn)
    changed = {key: value for key, value in values.items() if stored.get(key) != value}
    version = _version(stored.get(RULES_VERSION))
    if RULES_VERSION in values:
        if version is not None and int(values[RULES_VERSION]) <= version:
            raise ConfigError(RULES_VERSION, f"may only go up; it is {version} now")
    elif any(SETTINGS[key].rules for key in changed):
        if version is None:
            raise ConfigError(
                RULES_VERSION,
                f"the stored value {stored[RULES_VERSION]!r} is not a whole number",
                hint="give a new rules_version in the same command",
            )
        changed[RULES_VERSION] = str(version + 1)
    put_settings(conn, changed)
    if changed.get(RULES_VERSION) is not None:
        from club_server.rulesets import publish  # (rulesets reads settings)

        publish(conn, utc_now())
    return {key: (stored.get(key), value) for key, value in changed.items()}


def _version(text: str | None) -> int | None:
    """The stored ``rules_version`` (0 when unset, as a lane reads it); None when malformed."""
    try:
        return int(text or 0)
    except ValueError:
        return None

"""Published rule sets: every ``rules_version`` the lanes were given, kept to re-price sales.

A rule set is what pricing reads (``docs/pricing.md``): the tiers, the
points policy, the active products with member prices and category
discounts, and the offers, as a :class:`clubcore.repricing.PricingSnapshot`.
:func:`publish` writes the current one under the current ``rules_version``
(table ``rule_sets``), in the caller's transaction; it is called wherever the
rule set changes: :func:`club_server.settings.change_settings`, a change to a
pricing entity through :mod:`club_server.upserts`, and the demo seed. When
the catalog changed but the version did not, :func:`publish` raises the
version by one first, so one version always names one rule set.

A database that predates the table (or a catalog loaded behind the server's
back) gets its current rule set written at the first push that names it
(:func:`snapshots`): a version the club never published is never made up,
only the current one is written.

Snapshots never change once written, so parsed ones are cached in the
process by their digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import Connection, select

from club_server.clock import iso
from club_server.schema import (
    category_discounts,
    member_prices,
    offers,
    products,
    rule_sets,
    settings,
)
from club_server.tiers import load_tiers
from clubcore.errors import ConfigError
from clubcore.points import POLICY_SETTINGS, policy_from_settings
from clubcore.pricing import Offer, ProductPricing, RuleSet
from clubcore.repricing import PricingSnapshot

__all__ = ["PRICING_ENTITIES", "current_snapshot", "publish", "snapshots"]

#: the cached entities whose rows are part of the rule set (besides the ``points.*`` settings)
PRICING_ENTITIES = frozenset({"tiers", "products", "member_prices", "category_discounts", "offers"})

_CACHE: OrderedDict[str, PricingSnapshot] = OrderedDict()
_CACHE_SIZE = 16


def _stored_version(conn: Connection) -> int:
    value = conn.execute(select(settings.c.value).where(settings.c.key == "rules_version"))
    text = value.scalar()
    try:
        return int(text or 0)
    except ValueError:
        raise ConfigError(
            "rules_version", f"the stored value {text!r} is not a whole number"
        ) from None


def current_snapshot(conn: Connection) -> PricingSnapshot:
    """The rule set as the tables hold it now, under the stored ``rules_version``.

    Raises:
        ConfigError: a points setting or ``rules_version`` is malformed.
    """
    keys = select(settings.c.key, settings.c.value).where(settings.c.key.in_(POLICY_SETTINGS))
    policy = policy_from_settings({str(k): str(v) for k, v in conn.execute(keys)})
    rules = RuleSet(_stored_version(conn), load_tiers(conn), policy)
    return PricingSnapshot(rules, MappingProxyType(_products(conn)), tuple(_offers(conn)))


def _products(conn: Connection) -> dict[str, ProductPricing]:
    prices: dict[str, dict[str, int]] = defaultdict(dict)
    for sku, tier, price in conn.execute(select(member_prices)):
        prices[str(sku)][str(tier)] = int(price)
    discounts: dict[str, dict[str, int]] = defaultdict(dict)
    for category, tier, bp in conn.execute(select(category_discounts)):
        discounts[str(category)][str(tier)] = int(bp)
    query = select(
        products.c.sku,
        products.c.name,
        products.c.category,
        products.c.list_price,
        products.c.member_only,
    ).where(products.c.active != 0)
    return {
        str(sku): ProductPricing(
            str(sku),
            str(name),
            str(category),
            int(list_price),
            bool(member_only),
            MappingProxyType(prices.get(str(sku), {})),
            MappingProxyType(discounts.get(str(category), {})),
        )
        for sku, name, category, list_price, member_only in conn.execute(query)
    }


def _offers(conn: Connection) -> Iterable[Offer]:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    enabled = select(offers).where(offers.c.enabled != 0).order_by(offers.c.offer_id)
    for row in conn.execute(enabled):
        try:
            yield Offer(
                offer_id=row.offer_id,
                title=row.title,
                unit_price=row.unit_price,
                percent_bp=row.percent_bp,
                sku=row.sku,
                category=row.category,
                target_member=row.target_member,
                target_segment=row.target_segment,
                target_tier=row.target_tier,
                starts_at=when(row.starts_at),
                ends_at=when(row.ends_at),
                stacks=bool(row.stacks),
            )
        except ValueError:
            continue  # a lane cannot load it either (and then prices nothing with it)


def publish(conn: Connection, now: datetime) -> int:
    """Write the current rule set under its version (caller's transaction); the version.

    When a different rule set is already published under the stored version,
    ``rules_version`` is raised by one (a change lanes receive) and the rule
    set is written under the new one.

    Raises:
        ConfigError: a points setting or ``rules_version`` is malformed.
    """
    snapshot = current_snapshot(conn)
    body = snapshot.to_json()
    digest = hashlib.sha256(body.encode()).hexdigest()
    query = select(rule_sets.c.digest).where(rule_sets.c.rules_version == snapshot.version)
    stored = conn.execute(query).scalar()
    if stored == digest:
        return snapshot.version
    if stored is not None:
        from club_server.upserts import put_settings  # (upserts calls publish)

        # the same rule set under the next version (read once: a large catalog takes seconds)
        put_settings(conn, {"rules_version": str(snapshot.version + 1)})
        rules = dataclasses.replace(snapshot.rules, version=snapshot.version + 1)
        snapshot = dataclasses.replace(snapshot, rules=rules)
        body = snapshot.to_json()
        digest = hashlib.sha256(body.encode()).hexdigest()
    conn.execute(
        rule_sets.insert().values(
            rules_version=snapshot.version, digest=digest, body=body, created_at=iso(now)
        )
    )
    _CACHE[digest] = snapshot
    return snapshot.version


def snapshots(
    conn: Connection, versions: Iterable[int], now: datetime
) -> dict[int, PricingSnapshot]:
    """The published rule sets of ``versions`` (those the club never published are left out).

    The current version is published first if it was not (an upgraded database).
    """
    wanted = sorted(set(versions))
    if not wanted:
        return {}
    found = _load(conn, wanted)
    missing = [v for v in wanted if v not in found]
    if missing:
        try:
            current = _stored_version(conn)
        except ConfigError:
            return found
        if current in missing:
            publish(conn, now)
            found.update(_load(conn, [current]))
    return found


def _load(conn: Connection, versions: list[int]) -> dict[int, PricingSnapshot]:
    query = select(rule_sets.c.rules_version, rule_sets.c.digest).where(
        rule_sets.c.rules_version.in_(versions)
    )
    found: dict[int, PricingSnapshot] = {}
    for version, digest in conn.execute(query).all():
        snapshot = _CACHE.get(digest)
        if snapshot is None:
            body = conn.execute(
                select(rule_sets.c.body).where(rule_sets.c.rules_version == version)
            ).scalar_one()
            snapshot = PricingSnapshot.from_json(body)
            _CACHE[digest] = snapshot
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        found[int(version)] = snapshot
    return found


def stored_versions(conn: Connection) -> list[int]:
    """Every published version, oldest first."""
    query = select(rule_sets.c.rules_version).order_by(rule_sets.c.rules_version)
    return [int(v) for v in conn.execute(query).scalars()]

"""Re-pricing a recorded sale: the rule set a lane priced with, kept as data, and the audit.

A :class:`PricingSnapshot` is everything :func:`clubcore.pricing.price_basket`
needs besides the customer: the versioned :class:`~clubcore.pricing.RuleSet`
(tiers and points policy), the active products with their member prices and
category discounts, and the offers. The club server keeps one per
``rules_version`` it has published (``club_server.rulesets``), serialised by
:meth:`PricingSnapshot.to_json`, and re-prices every pushed sale with the
snapshot of the version the sale names (:func:`reprice`): the same engine the
lane ran, on the same inputs, so an honest lane's sale always matches.

What must match (``reprice`` returns what does not):

- every line's SKU is a product the rules priced, and its ``list_unit`` and
  ``unit_price`` are what the engine gives for the sale's customer at the
  sale's ``created_at``;
- the points discount is what redeeming ``points_redeemed`` points gives
  (the member's balance is not checked: an offline redemption may overdraw
  it, see ``docs/sync-protocol.md``);
- ``points_earned`` is exactly what the engine earns on the sale.

Price sources and offer ids are not compared: the money is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any

from clubcore.errors import ClubError
from clubcore.points import PointsPolicy
from clubcore.pricing import (
    BasketItem,
    Customer,
    Offer,
    PricedBasket,
    ProductPricing,
    RuleSet,
    price_basket,
)
from clubcore.sale import Sale, SaleKind
from clubcore.tiers import Tier

__all__ = ["SNAPSHOT_FORMAT", "PricingSnapshot", "reprice"]

#: the version of :meth:`PricingSnapshot.to_json`'s layout
SNAPSHOT_FORMAT = 1

_OFFER_FIELDS = tuple(f.name for f in fields(Offer) if f.name not in ("message", "texts"))


@dataclass(frozen=True, slots=True)
class PricingSnapshot:
    """One published rule set: what pricing a basket under ``rules.version`` takes."""

    rules: RuleSet
    products: Mapping[str, ProductPricing]
    offers: tuple[Offer, ...] = ()

    @property
    def version(self) -> int:
        return self.rules.version

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, no spaces): equal rule sets give equal text."""
        data = {
            "format": SNAPSHOT_FORMAT,
            "version": self.rules.version,
            "points": {f.name: getattr(self.rules.points, f.name) for f in fields(PointsPolicy)},
            "tiers": {code: _tier_data(t) for code, t in self.rules.tiers.items()},
            "products": {sku: _product_data(p) for sku, p in self.products.items()},
            "offers": [_offer_data(o) for o in sorted(self.offers, key=lambda o: o.offer_id)],
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> PricingSnapshot:
        """Read :meth:`to_json`'s text.

        Raises:
            ValueError: not a snapshot of this format (KeyError and TypeError included).
        """
        data = json.loads(text)
        if data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown rule-set snapshot format {data.get('format')!r}")
        tiers = {
            code: Tier(**{**t, "benefits": tuple(t["benefits"])})
            for code, t in data["tiers"].items()
        }
        rules = RuleSet(int(data["version"]), tiers, PointsPolicy(**data["points"]))
        products = {sku: _product(sku, p) for sku, p in data["products"].items()}
        offers = tuple(_offer(o) for o in data["offers"])
        return cls(rules, MappingProxyType(products), offers)


def _tier_data(tier: Tier) -> dict[str, Any]:
    return {
        f.name: list(v) if f.name == "benefits" else v
        for f in fields(Tier)
        for v in [getattr(tier, f.name)]
    }


def _product_data(product: ProductPricing) -> list[Any]:
    return [
        product.name,
        product.category,
        product.list_price,
        product.member_only,
        dict(product.member_prices),
        dict(product.category_discounts_bp),
    ]


def _product(sku: str, row: Sequence[Any]) -> ProductPricing:
    name, category, list_price, member_only, prices, discounts = row
    return ProductPricing(
        sku,
        name,
        category,
        int(list_price),
        bool(member_only),
        MappingProxyType(dict(prices)),
        MappingProxyType(dict(discounts)),
    )


def _offer_data(offer: Offer) -> dict[str, Any]:
    data = {name: getattr(offer, name) for name in _OFFER_FIELDS}
    for name in ("starts_at", "ends_at"):
        data[name] = data[name].isoformat() if data[name] is not None else None
    return data


def _offer(data: Mapping[str, Any]) -> Offer:
    values = dict(data)
    for name in ("starts_at", "ends_at"):
        values[name] = datetime.fromisoformat(values[name]) if values[name] else None
    return Offer(**values)


def reprice(sale: Sale, snapshot: PricingSnapshot, customer: Customer | None) -> list[str]:
    """How ``sale`` differs from pricing its basket under ``snapshot``; empty when it matches.

    Arguments:
        sale: a sale (a void or refund is checked against its original instead).
        snapshot: the rule set of the version the sale names.
        customer: the member as the club prices them (None: a non-member).
    """
    if sale.kind is not SaleKind.SALE:
        return []
    products = snapshot.products
    missing = sorted({line.sku for line in sale.lines if line.sku not in products})
    if missing:
        return [f"product {missing[0]!r:.60} is not in rule set {snapshot.version}"]
    items = [BasketItem(products[line.sku], line.quantity) for line in sale.lines]
    try:
        priced = price_basket(
            items,
            customer,
            snapshot.rules,
            snapshot.offers,
            now=sale.created_at,
            redeem_points=sale.points_redeemed,
            points_balance=max(sale.points_redeemed, 0),
        )
    except (ClubError, ValueError) as exc:
        return [f"the rules refuse this sale: {exc}"]
    return _differences(sale, priced)


def _differences(sale: Sale, priced: PricedBasket) -> list[str]:
    problems: list[str] = []
    for line, want in zip(sale.lines, priced.lines, strict=True):
        if (line.list_unit, line.unit_price) != (want.list_unit, want.unit_price):
            problems.append(
                f"line {line.line_no} ({line.sku:.40}): list {line.list_unit} at "
                f"{line.unit_price}, the rules give list {want.list_unit} at {want.unit_price}"
            )
    if sale.points_discount != priced.points_discount:
        problems.append(
            f"points discount {sale.points_discount}, the rules give {priced.points_discount}"
        )
    if sale.points_earned != priced.points_earned:
        problems.append(
            f"points earned {sale.points_earned}, the rules give {priced.points_earned}"
        )
    return problems

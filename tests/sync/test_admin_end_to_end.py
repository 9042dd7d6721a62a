"""The back office reaches the lanes: changes made through the admin services on the club
server (a price, a gold offer, a new product, a retired tier) price the lane's next sale
after one sync round."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from club_server.admin.access import cli_actor
from club_server.admin.models import MemberPriceIn, OfferIn, ProductIn
from club_server.admin.offers import put_offer
from club_server.admin.prices import put_member_price
from club_server.admin.products import put_product
from club_server.admin.tier_admin import retire_tier
from sync import open_client, provision, sync_once
from terminal.bootstrap import Terminal, bootstrap
from tests.sync.club import ClubServer, club  # noqa: F401  (the fixture)
from tests.sync.conftest import FAST


@pytest.fixture
def lane(club: ClubServer, tmp_path: Path) -> Iterator[Terminal]:  # noqa: F811
    provision(tmp_path / "lane", club.url, club.new_code(), policy=FAST)
    terminal = bootstrap(tmp_path / "lane")
    yield terminal
    terminal.close()


def test_admin_changes_price_the_lanes_next_sale(club: ClubServer, lane: Terminal) -> None:  # noqa: F811
    gold = club.rows(
        "SELECT member_no FROM members WHERE tier = 'gold' AND status = 'active' "
        "ORDER BY member_no LIMIT 1"
    )[0][0]
    silver = club.rows("SELECT member_no FROM members WHERE tier = 'silver' ORDER BY member_no")
    sku = club.rows("SELECT sku FROM member_prices WHERE tier = 'gold' ORDER BY sku LIMIT 1")[0][0]
    now, actor = datetime.now(UTC), cli_actor()
    with club.writing() as conn:
        put_member_price(conn, actor, now, sku, "gold", MemberPriceIn(price=1_000))
        put_product(
            conn,
            actor,
            now,
            "NEW-1",
            ProductIn(
                name="Saffron",
                names={"fa": "زعفران"},
                category="dairy",
                list_price=50_000,
                barcodes=["4006381333931"],
            ),
        )
        put_offer(
            conn,
            actor,
            now,
            "GOLD-NEW",
            OfferIn(
                title="Gold saffron",
                percent_bp=2_000,
                sku="NEW-1",
                target="tier",
                target_value="gold",
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=1),
            ),
        )
        retire_tier(conn, actor, now, "silver", "basic")
    with open_client(lane.db, lane.data_dir, policy=FAST) as client:
        sync_once(client, lane.db)
    assert lane.db["tiers"].count_where("code = 'silver'") == 0
    if silver:
        assert lane.db["members"].get(silver[0][0])["tier"] == "basic"
    checkout = lane.checkout()
    checkout.identify(gold)
    checkout.add(sku, 1)
    basket = checkout.add("4006381333931", 2)
    by_sku = {line.sku: line for line in basket.lines}
    assert by_sku[sku].unit_price == 1_000
    assert by_sku["NEW-1"].unit_price == 40_000 and by_sku["NEW-1"].offer_id == "GOLD-NEW"
    sale = checkout.complete()
    published = club.scalar("SELECT value FROM settings WHERE key = 'rules_version'")
    assert sale.rules_version == int(published)

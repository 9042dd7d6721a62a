"""The wire models: the canonical sale body is stable, types are strict, bounds hold."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from clubcore import wire
from clubcore.errors import FormatError
from clubcore.sale import LINE_FIELDS, SALE_FIELDS, Sale, SaleKind, SaleLine, Tender
from clubcore.wire_rows import ENTITY_SHAPES

TEHRAN = timezone(timedelta(hours=3, minutes=30))
SALE = Sale(
    sale_id="7d0c5b7e-2f1a-4a57-9a0e-3f7f3f1e2c11", kind=SaleKind.SALE, terminal_id="t-0a1b2c3d4e",
    store_id="store-1", created_at=datetime(2026, 11, 22, 13, 0, 5, 123456, tzinfo=TEHRAN),
    business_date=date(2026, 11, 22), hour=13, rules_version=7, currency="IRR",
    subtotal_list=240_000, member_discount=10_000, subtotal=230_000, points_redeemed=100,
    points_discount=10_000, total=220_000, points_earned=22, tender=Tender.CARD,
    lines=(
        SaleLine(1, "P000001", "شیر کاله ۱ لیتری", "dairy", 2, 60_000, 55_000, "member_price",
                 "o-1"),
        SaleLine(2, "P000002", 'Tea "Golestan"', "drinks", 1, 120_000, 120_000, "list"),
    ),
    member_no="1000000008", tier="gold", id_method="card",
)  # fmt: skip
#: the SHA-256 of SALE's canonical body, as the hand-written wire code before the models
#: computed it: stored hashes must keep matching replays
GOLDEN = "2cbae1f3a019bf5e95f4b95ea863b18e49ac6517c76ddcd963d78254fcc68e93"
#: the same sale pushed with ``Z`` for UTC (re-serialised as +00:00 before the models, too)
GOLDEN_Z = "3adf6a6b7a41f2a53d91ce0caea6ff081ed26255572cdcbfe98e2bf0d96384a4"


def canonical_hash(data: Any) -> str:
    text = wire.canonical_sale(wire.parse_wire_sale(data))
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_canonical_body_of_a_sale_has_not_changed() -> None:
    data = wire.sale_to_wire(SALE)
    assert canonical_hash(data) == GOLDEN
    assert canonical_hash(dict(reversed(list(data.items())))) == GOLDEN  # order does not count
    assert canonical_hash({**data, "created_at": "2026-11-22T09:30:05.123456Z"}) == GOLDEN_Z


def test_a_sale_round_trips_and_the_model_has_the_records_fields() -> None:
    assert wire.sale_from_wire(wire.sale_to_wire(SALE)) == SALE
    assert set(wire.WireSale.model_fields) == {*SALE_FIELDS, "lines", "payments", "v"}
    assert set(wire.WireLine.model_fields) == set(LINE_FIELDS)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"total": True}, "total"),  # a bool is not a number
        ({"total": "220000"}, "total"),
        ({"total": 10**15 + 1}, "total"),
        ({"hour": 24}, "hour"),
        ({"sale_id": ""}, "sale_id"),
        ({"currency": "x" * 201}, "currency"),
        ({"reason": "x" * 501}, "reason"),
        ({"created_at": "2026-11-22T09:30:00"}, "created_at"),  # no offset
        ({"business_date": "22/11/2026"}, "business_date"),
        ({"kind": "gift"}, "kind"),
        ({"v": 2}, "v"),
        ({"extra": 1}, "extra"),
        ({"lines": [{}] * (wire.MAX_LINES + 1)}, "lines"),
        ({"member_no": None, "tier": None}, "without a member"),
    ],
)  # fmt: skip
def test_malformed_sales_are_refused_naming_the_field(change: dict[str, Any], where: str) -> None:
    with pytest.raises(FormatError, match=where):
        wire.parse_wire_sale({**wire.sale_to_wire(SALE), **change})


def test_malformed_lines_are_refused() -> None:
    data = wire.sale_to_wire(SALE)
    data["lines"][1]["quantity"] = False
    with pytest.raises(FormatError, match=r"lines\.1\.quantity"):
        wire.parse_wire_sale(data)
    with pytest.raises(FormatError, match="valid dictionary"):
        wire.parse_wire_sale(42)


def test_results_are_told_apart_by_status() -> None:
    results = wire.SalesResults.model_validate(
        {"results": [{"sale_id": "a", "status": "created", "change_seq": None},
                     {"sale_id": None, "status": "rejected", "error": "why"}]}
    )  # fmt: skip
    accepted, refused = results.results
    assert isinstance(accepted, wire.SaleAccepted) and isinstance(refused, wire.SaleRefused)
    with pytest.raises(ValidationError):
        wire.SalesResults.model_validate({"results": [{"sale_id": "a", "status": "lost"}]})
    with pytest.raises(ValidationError):  # an accepted sale needs its change_seq (or null)
        wire.SalesResults.model_validate({"results": [{"sale_id": "a", "status": "created"}]})


def test_delta_rows_are_typed_per_entity() -> None:
    row = ["P9", None, "Tea", "drinks", 12_000, 0, 1, "2026-11-22T09:00:00+00:00"]
    change = {"seq": 5, "entity": "products", "op": "upsert", "key": "P9", "row": row}
    page = wire.ChangesPage.model_validate({"changes": [change], "cursor": 5, "more": False})
    assert page.changes[0].row == tuple(row)
    for bad in ({**change, "row": [*row[:4], "12000", *row[5:]]}, {**change, "row": None},
                {**change, "op": "delete"}):  # fmt: skip
        with pytest.raises(ValidationError):
            wire.ChangesPage.model_validate({"changes": [bad], "cursor": 5, "more": False})


def test_every_entity_has_a_type_per_column_and_its_key_among_them() -> None:
    for shape in ENTITY_SHAPES.values():
        assert len(shape.types) == len(shape.columns) and set(shape.key) <= set(shape.columns)
    assert ENTITY_SHAPES["card_keys"].hex_columns == {"public_key"}


def test_the_error_and_summary() -> None:
    with pytest.raises(ValidationError) as info:
        wire.ErrorBody.model_validate({"error": 1})
    assert wire.summary(info.value) == (
        "error: Input should be a valid string; message: Field required"
    )


def test_every_public_name_exists() -> None:
    for name in wire.__all__:
        assert hasattr(wire, name), name


def test_cashier_number_and_payments_travel_and_are_absent_when_a_sale_has_none() -> None:
    from clubcore.tender import Payment, cash_payment

    paid = replace(
        SALE,
        tender=Tender.SPLIT,
        cashier_id="c7",
        sale_no=12,
        payments=(Payment(Tender.CARD, 200_000, reference="0042"), cash_payment(20_000, 50_000)),
    )
    data = wire.sale_to_wire(paid)
    assert data["payments"][1] == {"tender": "cash", "amount": 20_000, "tendered": 50_000,
                                   "reference": None}  # fmt: skip
    assert wire.sale_from_wire(data) == paid
    assert not {"cashier_id", "sale_no", "payments"} & set(wire.sale_to_wire(SALE))
    assert canonical_hash(data) != GOLDEN
    with pytest.raises(FormatError, match="payments"):
        wire.sale_from_wire({**data, "payments": [{"tender": "split", "amount": 1}]})
    with pytest.raises(FormatError, match="sale_no"):
        wire.sale_from_wire({**data, "sale_no": 0})

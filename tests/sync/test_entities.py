from __future__ import annotations

import pytest

from clubcore.errors import ProtocolError
from offline_store.db import open_db
from sync.entities import ENTITIES, entity


def test_every_entity_matches_a_terminal_table(tmp_path: object) -> None:
    db = open_db(f"{tmp_path}/t.db")
    for name, spec in ENTITIES.items():
        columns = set(db[name].columns_dict)
        assert set(spec.columns) <= columns, name
        assert set(spec.key) <= set(spec.columns)
    db.close()


def test_rows_are_checked_and_converted() -> None:
    keys = entity("card_keys")
    assert keys.row([3, "00ff", None]) == (3, b"\x00\xff", None)
    assert entity("products").row(["P1", None, "n", "c", 100, True, False, "t"])[5:7] == (1, 0)
    with pytest.raises(ProtocolError, match="array of 3"):
        keys.row([3, "00ff"])
    with pytest.raises(ProtocolError, match="not hex"):
        keys.row([3, "zz", None])
    with pytest.raises(ProtocolError, match="not a scalar"):
        keys.row([3, ["00"], None])
    with pytest.raises(ProtocolError, match="unknown entity"):
        entity("staff")


def test_composite_keys() -> None:
    prices = entity("member_prices")
    assert prices.key_of(("P1", "gold", 5)) == "P1|gold"
    assert prices.split_key("P1|gold") == ["P1", "gold"]
    with pytest.raises(ProtocolError, match="not a key"):
        prices.split_key("P1")

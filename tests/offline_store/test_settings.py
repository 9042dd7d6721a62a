"""offline_store.settings: the settings table in, typed settings out."""

from __future__ import annotations

import pytest

from clubcore.errors import ConfigError
from offline_store.settings import put_settings, read_settings
from terminal.bootstrap import Terminal


def test_written_rows_come_back_typed(empty_terminal: Terminal) -> None:
    db = empty_terminal.db
    assert not read_settings(db).has_store_data
    put_settings(db, {"rules_version": 3, "currency": "IRR", "kiosk.size": "800x480"})
    put_settings(db, {"rules_version": 4})  # an upsert, not a second row
    settings = read_settings(db)
    assert settings.has_store_data and settings.rules_version == 4
    assert settings.currency_name == "IRR" and settings.currency.display_symbol == "rial"
    assert settings.kiosk_size == (800, 480) and settings.raw("kiosk.size") == "800x480"


def test_a_failed_write_writes_nothing(empty_terminal: Terminal) -> None:
    db = empty_terminal.db
    with pytest.raises(ZeroDivisionError), db.atomic():
        put_settings(db, {"ui.language": "fa"})
        raise ZeroDivisionError
    assert read_settings(db).raw("ui.language") is None


def test_a_bad_stored_value_is_named_when_read(empty_terminal: Terminal) -> None:
    put_settings(empty_terminal.db, {"offline.redeem_cap_points": "lots"})
    settings = read_settings(empty_terminal.db)
    assert settings.language == "en"  # other keys still read
    with pytest.raises(ConfigError, match=r"offline\.redeem_cap_points"):
        settings.redeem_cap_points  # noqa: B018

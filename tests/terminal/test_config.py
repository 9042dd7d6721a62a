"""terminal.toml: every bad value is refused naming its key; applying is all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner

from clubcore.errors import ConfigError
from clubcore.money import CURRENCIES
from clubcore.settings import LANE_KEYS
from offline_store.settings import put_settings, read_settings
from terminal.bootstrap import Terminal
from terminal.cli import cli
from terminal.config import CONFIG_ENV, apply_config, config_path, load_config, parse_config

VALID = """\
readers = ["pcsc", "nfc:usb:054c:06c3", "wedge:/dev/input/event3", "sim"]

[server]
url = "https://club.example:8443"
ca_bundle = "ca.pem"

[store]
id = "demo-store"

[ui]
language = "fa"

[pins]
min_length = 6

[kiosk]
fullscreen = true
size = "800x480"

[printer]
path = "net:192.168.1.50:9100"
paper_mm = 58
drawer = true
"""

EXPECTED_SETTINGS = {
    "readers": "pcsc,nfc:usb:054c:06c3,wedge:/dev/input/event3,sim",
    "ui.language": "fa",
    "pins.min_length": "6",
    "kiosk.fullscreen": "yes",
    "kiosk.size": "800x480",
    "printer.path": "net:192.168.1.50:9100",
    "printer.paper_mm": "58",
    "printer.drawer": "yes",
}


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    path = tmp_path / "terminal.toml"
    path.write_text(VALID)
    return path


def test_a_valid_file_loads(valid_file: Path) -> None:
    config = load_config(valid_file)
    assert config.server_url == "https://club.example:8443"
    assert config.ca_bundle == valid_file.parent / "ca.pem"
    assert config.store_id == "demo-store"
    assert config.kiosk_size == (800, 480)
    assert config.settings() == EXPECTED_SETTINGS


BAD_VALUES: list[tuple[str, Any, str]] = [
    ("server.url", "ftp://club.example", "https"),
    ("server.url", "club.example", "https"),
    ("server.url", "http://club.example", "plain http"),
    ("server.url", "https://club.example/v1", "scheme, host and port"),
    ("server.url", "https://club.example:99999", "port"),
    ("server.url", 8443, "string"),
    ("server.url", "", "empty"),
    ("server.ca_bundle", "missing.pem", "not a file"),
    ("server.ca_bundle", ["a"], "string"),
    ("store.id", "no spaces please", "store id"),
    ("store.id", 12, "string"),
    ("readers", "pcsc", "list"),
    ("readers", [], "empty"),
    ("readers", ["pcsc", "pcsc"], "twice"),
    ("readers", ["usb"], "unknown reader driver"),
    ("readers", [3], "string"),
    ("readers", ["sim:x"], "nothing after"),
    ("readers", ["pcsc:"], "name after"),
    ("readers", ["nfc:usb:zz:00"], "nfc:usb"),
    ("readers", ["nfc:tty:USB0"], "nfc:tty"),
    ("readers", ["nfc:udp:host:port"], "nfc:udp"),
    ("readers", ["nfc:serial"], "nfc:usb"),
    ("ui.language", "de", "not one of en, fa"),
    ("ui.language", True, "string"),
    ("pins.min_length", 3, "out of range"),
    ("pins.min_length", 13, "out of range"),
    ("pins.min_length", "6", "whole number"),
    ("kiosk.fullscreen", "yes", "true or false"),
    ("kiosk.fullscreen", 1, "true or false"),
    ("kiosk.size", "800*480", "size"),
    ("printer.path", "lp0", "printer path"),
    ("printer.paper_mm", 70, "58 or 80"),
    ("kiosk.size", "80x48", "size"),
    ("kiosk.size", "100000x480", "size"),
    ("kiosk.size", [800, 480], "size"),
]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return str(value)


def _file_with(tmp_path: Path, key: str, value: Any) -> Path:
    """The valid file with ``key`` set to ``value``."""
    lines = VALID.splitlines()
    section, _, name = key.rpartition(".")
    header = f"[{section}]" if section else None
    out: list[str] = []
    current: str | None = None
    for line in lines:
        if line.startswith("["):
            current = line
        if line.split(" = ")[0] == name and current == header:
            line = f"{name} = {_toml_value(value)}"
        out.append(line)
    path = tmp_path / "terminal.toml"
    path.write_text("\n".join(out) + "\n")
    (tmp_path / "ca.pem").write_text("pem")
    return path


@pytest.mark.parametrize(("key", "value", "problem"), BAD_VALUES)
def test_every_bad_value_names_its_key(tmp_path: Path, key: str, value: Any, problem: str) -> None:
    path = _file_with(tmp_path, key, value)
    assert path.read_text() != VALID or key == "readers"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key.split("[")[0] == key
    assert str(caught.value.message).startswith(key)
    assert problem in caught.value.message


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        ({"ui": {"langauge": "fa"}}, "ui.langauge", "unknown key"),
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"ui": "fa"}, "ui", "table"),
        ({"money": {"currency": "IRT"}}, "money.currency", "the club's setting"),
        ({"money": {"display": "toman"}}, "money.display", "the club's setting"),
        ({"offline": {"redeem_cap_points": 3000}}, "offline.redeem_cap_points", "club's"),
        ({"offline": {"max_age_hours": 48}}, "offline.max_age_hours", "the club's setting"),
    ],
)
def test_unknown_keys_and_conflicts(data: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.key == key
    assert problem in caught.value.message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('credential = "T1.abc"', "credential"),
        ('[server]\ntoken = "abc"', "server.token"),
        ('[server]\nclient_secret = "abc"', "server.client_secret"),
        ('[credential]\nfile = "x"', "credential"),
    ],
)
def test_secrets_are_refused(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "terminal.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert "secrets do not belong" in caught.value.message
    assert caught.value.hint is not None and "credential.json" in caught.value.hint


def test_malformed_toml_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "terminal.toml"
    path.write_text('[ui]\nlanguage = "fa"\n[money\ncurrency = "IRR"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "config"
    assert "not valid TOML" in caught.value.message and "line 3" in caught.value.message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert config_path(tmp_path) == tmp_path / "terminal.toml"
    monkeypatch.setenv(CONFIG_ENV, "/etc/club/terminal.toml")
    assert config_path(tmp_path) == Path("/etc/club/terminal.toml")
    assert config_path(tmp_path, Path("x.toml")) == Path("x.toml")


def _settings(terminal: Terminal) -> dict[str, str]:
    rows = terminal.db.execute("SELECT key, value FROM settings").fetchall()
    return {str(key): str(value) for key, value in rows}


def test_a_valid_file_applied_writes_every_setting(
    empty_terminal: Terminal, valid_file: Path
) -> None:
    written = apply_config(empty_terminal.db, load_config(valid_file))
    assert written == EXPECTED_SETTINGS
    stored = _settings(empty_terminal)
    assert {key: stored[key] for key in EXPECTED_SETTINGS} == EXPECTED_SETTINGS
    assert empty_terminal.currency == CURRENCIES["IRT"]  # the club's default: no file sets it


def test_an_invalid_file_writes_nothing(tmp_path: Path, empty_terminal: Terminal) -> None:
    before = _settings(empty_terminal)
    bad = _file_with(tmp_path, "pins.min_length", 2)  # everything else valid
    runner = CliRunner()
    args = ["--data-dir", str(empty_terminal.data_dir), "config", "apply", "--config", str(bad)]
    result = runner.invoke(cli, args, obj={})
    assert result.exit_code == 1
    assert "error: pins.min_length: 2 is out of range" in result.output
    assert _settings(empty_terminal) == before


def test_a_file_for_another_server_writes_nothing(
    empty_terminal: Terminal, valid_file: Path
) -> None:
    put_settings(empty_terminal.db, {"sync.server_url": "https://other.example"})
    before = _settings(empty_terminal)
    with pytest.raises(ConfigError) as caught:
        apply_config(empty_terminal.db, load_config(valid_file))
    assert caught.value.key == "server.url"
    assert _settings(empty_terminal) == before
    assert read_settings(empty_terminal.db).raw("ui.language") is None


def test_cli_check_and_apply(empty_terminal: Terminal, valid_file: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(empty_terminal.data_dir), "config"]
    checked = runner.invoke(cli, [*base, "check", "--config", str(valid_file), "--json"], obj={})
    assert checked.exit_code == 0, checked.output
    assert '"language": "fa"' in checked.output
    assert read_settings(empty_terminal.db).raw("ui.language") is None  # check writes nothing
    applied = runner.invoke(cli, [*base, "apply", "--config", str(valid_file)], obj={})
    assert applied.exit_code == 0, applied.output
    assert read_settings(empty_terminal.db).language == "fa"


def test_run_refuses_to_start_with_a_bad_config_and_writes_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from terminal.cli import cli

    data_dir = tmp_path / "lane"
    data_dir.mkdir()
    (data_dir / "terminal.toml").write_text('[ui]\nlanguage = "de"\n')
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), "run"], obj={}, env={"DISPLAY": ""}
    )
    assert result.exit_code == 1
    assert "ui.language" in result.stderr and "display" not in result.stderr
    db = sqlite_utils.Database(data_dir / "terminal.db")
    assert db["settings"].count == 0


def test_applied_settings_reach_pins_and_the_app_window(
    empty_terminal: Terminal, valid_file: Path
) -> None:
    from terminal.cli.app import app_options
    from terminal.pins import set_pin

    runner = CliRunner()
    base = ["--data-dir", str(empty_terminal.data_dir), "config"]
    applied = runner.invoke(cli, [*base, "apply", "--config", str(valid_file)], obj={})
    assert applied.exit_code == 0, applied.output
    # pins.min_length = 6: a 5-digit PIN is refused, naming the setting; 6 digits are fine
    with pytest.raises(ConfigError, match=r"pins\.min_length"):
        set_pin(empty_terminal.db, "m1", "Leila", "manager", "12345")
    assert empty_terminal.db.execute("SELECT count(*) FROM staff").fetchone()[0] == 0
    set_pin(empty_terminal.db, "m1", "Leila", "manager", "123456")
    # kiosk.size, kiosk.fullscreen, ui.language and readers open the app; options still win
    options = app_options(empty_terminal, False, None, None, None, ())
    assert options.size == (800, 480) and options.fullscreen and options.language == "fa"
    assert options.readers == ["pcsc", "nfc:usb:054c:06c3", "wedge:/dev/input/event3", "sim"]
    chosen = app_options(empty_terminal, True, False, "1920x1080", "en", ("sim",))
    assert chosen.size == (1920, 1080) and not chosen.fullscreen and chosen.language == "en"
    assert chosen.readers == ["sim"]


def test_terminal_toml_sets_only_lane_keys() -> None:
    config = parse_config(
        {"readers": ["sim"], "ui": {"language": "fa"}, "pins": {"min_length": 6},
         "kiosk": {"fullscreen": True, "size": "800x480"},
         "printer": {"path": "net:10.0.0.9", "paper_mm": 58, "drawer": False}}
    )  # fmt: skip
    assert set(config.settings()) == LANE_KEYS
    assert config.settings()["printer.drawer"] == "no"

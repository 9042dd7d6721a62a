"""One logging set-up (clubcore.logs): handlers, formats, levels, and no secret in a line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from clubcore.errors import ConfigError
from clubcore.logs import configure_logging, redact, register_secret, request_id

CREDENTIAL = "t-0123456789.Zx9_kQ2mVv8yT3pL0aB7cD4eF6gH1iJ5kL8mN2oP3qR"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {CREDENTIAL}", CREDENTIAL),
        (f"pushing with {CREDENTIAL} now", "Zx9_kQ2mVv8yT3pL0aB7cD4eF6gH1iJ5kL8mN2oP3qR"),
        ("enroll with code ABCD-EF23-GH45 please", "ABCD-EF23-GH45"),
        ("member phone 09121234567 joined", "09121234567"),
        ("member phone +989121234567 joined", "9121234567"),
        ("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----", "MC4C"),
    ],
)
def test_redact_blanks_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redact_keeps_ordinary_text() -> None:
    line = "pushed 12 sale(s) of terminal t-0123456789 for 1,250,000 rials; member 100000123"
    assert redact(line) == line
    assert redact("phone 09121234567") == "phone [phone ..67]"


def test_registered_secrets_are_blanked() -> None:
    register_secret("hunter22-the-pin")
    assert "hunter22" not in redact("the manager typed hunter22-the-pin")
    register_secret("abc")  # too short to be told apart from ordinary text: ignored
    assert redact("abc") == "abc"


def test_plain_lines_to_a_file_with_request_ids(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "app.log"
    configure_logging("INFO", "plain", log_file)
    log = logging.getLogger("club.test")
    log.debug("not written: below the level")
    token = request_id.set("req-1")
    try:
        log.info("sync with Bearer %s", CREDENTIAL)
    finally:
        request_id.reset(token)
    text = log_file.read_text()
    assert "not written" not in text
    assert "INFO club.test [req-1] sync with Bearer [redacted]" in text
    assert CREDENTIAL not in text


def test_json_lines_carry_tracebacks_redacted(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    configure_logging("debug", "json", log_file)
    try:
        raise ValueError(f"bad credential {CREDENTIAL}")
    except ValueError:
        logging.getLogger("club.test").exception("failed", extra={"terminal": "t-1"})
    line = json.loads(log_file.read_text().splitlines()[-1])
    assert line["level"] == "ERROR"
    assert line["message"] == "failed"
    assert line["terminal"] == "t-1"
    assert "ValueError" in line["exc"]
    assert CREDENTIAL not in log_file.read_text()


def test_others_handlers_are_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO", "plain", None)
    logging.getLogger("club.test").warning("still captured")
    assert "still captured" in caplog.text


@pytest.mark.parametrize(("level", "fmt"), [("LOUD", "plain"), ("INFO", "xml")])
def test_bad_settings_name_the_setting(level: str, fmt: str) -> None:
    with pytest.raises(ConfigError, match=r"log (level|format)"):
        configure_logging(level, fmt)


def test_an_unwritable_log_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot write"):
        configure_logging("INFO", "plain", tmp_path / "file" / "app.log")

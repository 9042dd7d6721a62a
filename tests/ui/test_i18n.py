"""Strings, digits, amounts, dates and right-to-left text, without a display."""

from __future__ import annotations

import string
import threading
from datetime import date

import pytest

from clubcore.errors import CardRejectedError, UnknownProductError
from clubcore.money import CURRENCIES
from terminal.ui.env import NoDisplayError, check_display
from terminal.ui.i18n import Lang
from terminal.ui.strings import EN, FA
from terminal.ui.worker import Worker
from terminal.verifier import REASON_TEXT


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    assert EN.keys() == FA.keys()
    for key in EN:
        assert _fields(EN[key]) == _fields(FA[key]), key


def test_english_reasons_are_the_verifiers() -> None:
    lang = Lang("en")
    for reason, (message, hint) in REASON_TEXT.items():
        assert lang.reason(str(reason)) == (message, hint)


def test_persian_numbers_money_and_dates() -> None:
    fa = Lang("fa")
    assert fa.num(1234567) == "۱٬۲۳۴٬۵۶۷"
    assert fa.money(1_234_560, CURRENCIES["IRT"]) == "۱۲۳٬۴۵۶ تومان"
    assert fa.percent(0.456) == "۴۶٪"
    assert fa.date(date(2024, 3, 20)) == "۱۴۰۳/۰۱/۰۱"
    assert Lang("en").money(1_234_560, CURRENCIES["IRT"]) == "123,456 toman"
    # never a fraction of a toman on screen: half up, away from zero
    assert Lang("en").money(-822_796, CURRENCIES["IRT"]) == "-82,280 toman"
    assert fa.money(3_450_794, CURRENCIES["IRT"]) == "۳۴۵٬۰۷۹ تومان"
    assert Lang("en").money(1_234, CURRENCIES["EUR"]) == "12.34 €"  # cents stay


def test_persian_is_shaped_and_reordered() -> None:
    fa = Lang("fa")
    drawn = fa.shape("سلام")
    assert drawn != "سلام"
    assert all("\ufb50" <= ch <= "\ufeff" for ch in drawn)  # presentation forms


def test_wrapped_persian_lines_stay_in_reading_order() -> None:
    fa = Lang("fa")
    words = ["یک", "دو", "سه", "چهار", "پنج", "شش"]
    text = fa.wrap(" ".join(words), 40, lambda s: len(s) * 5.0)
    lines = text.split("\n")
    assert len(lines) > 1
    # the first word starts the first line (at its right end); the last ends the last line
    assert lines[0].endswith(fa.shape(words[0]))
    assert lines[-1].startswith(fa.shape(words[-1]))


def test_errors_in_words() -> None:
    fa, en = Lang("fa"), Lang("en")
    refused = CardRejectedError("expired", "x")
    assert fa.error(refused)[0] == FA["reason.expired"]
    assert en.error(UnknownProductError("no product with code 'X'"))[0].startswith("no product")
    assert fa.error(UnknownProductError("no product"))[0] == FA["error.UnknownProductError"]


def test_no_display_says_how_to_get_one() -> None:
    with pytest.raises(NoDisplayError) as info:
        check_display({})
    assert "xvfb-run" in str(info.value.hint)
    check_display({"DISPLAY": ":0"})


def test_worker_runs_off_the_calling_thread_and_posts_back() -> None:
    posted: list[object] = []
    done = threading.Event()

    def post(callback: object) -> None:
        posted.append(callback)
        done.set()

    worker: Worker[str] = Worker(lambda: "session", post)  # type: ignore[arg-type]
    worker.start()
    seen: list[str] = []
    worker.submit(lambda s: f"{s} on {threading.current_thread().name}", seen.append)
    assert done.wait(5)
    posted.pop()()  # type: ignore[operator]
    assert seen == ["session on ui worker"]
    worker.stop()


def _width(text: str) -> float:
    return len(text) * 10.0


@pytest.mark.parametrize("code", ["en", "fa"])
def test_latin_text_too_long_loses_its_end_in_both_languages(code: str) -> None:
    lang = Lang(code)
    assert lang.fit("Mahsa Rezaei", 100, _width) == "Mahsa Rez…"
    assert lang.fit("Mahsa", 100, _width) == "Mahsa"  # fits: unchanged
    assert lang.fit("Mahsa Rezaei", 5, _width) == "…"  # nothing fits but the mark


def test_persian_text_too_long_keeps_its_first_words_on_the_right() -> None:
    fa = Lang("fa")
    words = ["یک", "دو", "سه", "چهار", "پنج", "شش"]
    drawn = fa.fit(" ".join(words), 90, _width)
    assert len(drawn) * 10 <= 90
    assert drawn.endswith(fa.shape(words[0]))  # reading starts at the right, with the first word
    assert drawn.startswith("…")  # the cut end is on the left
    assert fa.shape(words[-1]) not in drawn


def test_fit_cuts_no_more_than_it_must() -> None:
    en, text = Lang("en"), "Weekend extra: 5% on snacks"
    for width in range(10, 300, 10):
        drawn = en.fit(text, width, _width)
        assert _width(drawn) <= max(width, 10)
        if drawn == text:
            assert _width(text) <= width
            continue
        kept = len(drawn) - 1
        more = next(n for n in range(kept + 1, len(text)) if text[n - 1] != " ")
        longer = text[:more].rstrip() + "…"
        assert _width(longer) > width, (width, drawn)


def test_the_status_line_warns_of_sales_the_server_refused() -> None:
    from datetime import UTC, datetime, timedelta

    from terminal.ui.status import LocalSyncStatus, SyncPanel
    from terminal.ui.statusbar import sync_line

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def line(code: str, refused: int) -> tuple[str, bool]:
        status = LocalSyncStatus(
            online=True, pending=2, refused=refused, last_success=now - timedelta(minutes=3)
        )
        return sync_line(Lang(code), SyncPanel(status, True, "https://club", "T1", "S1"), now)

    assert line("en", 0) == ("Online – 2 sales waiting to sync – Last sync 3 min ago", False)
    text, warn = line("en", 1)
    assert warn and text.endswith("1 refused by the club server: call support")
    text, warn = line("fa", 12)
    assert warn and FA["status.refused"].format(n="۱۲") in text


def test_the_status_line_warns_of_sales_the_club_holds_for_review() -> None:
    from datetime import UTC, datetime

    from terminal.ui.status import LocalSyncStatus, SyncPanel
    from terminal.ui.statusbar import sync_line

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def line(code: str, held: int, refused: int = 0) -> tuple[str, bool]:
        status = LocalSyncStatus(
            online=True, pending=0, refused=refused, held=held, last_success=now
        )
        return sync_line(Lang(code), SyncPanel(status, True, "https://club", "T1", "S1"), now)

    text, warn = line("en", 3)
    assert warn and text.endswith("3 sales held by the club for review: call support")
    assert "refused" not in text
    text, warn = line("en", 3, refused=1)
    assert "1 refused by the club server" in text and "3 sales held by the club" in text
    text, warn = line("fa", 25)
    assert warn and FA["status.held"].format(n="۲۵") in text

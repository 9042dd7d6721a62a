"""Importing and exporting files (club_server.imports, ``club-server import|export``), on both
backends, with real-looking files: Windows-1256 CSV, XLSX made with openpyxl, Persian digits."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook
from sqlalchemy import func, select

from club_server.admin.access import cli_actor
from club_server.changes import current_cursor, read_changes
from club_server.cli import cli
from club_server.db import Database
from club_server.imports import KINDS, export_file, import_file
from club_server.rulesets import stored_versions
from club_server.schema import categories, member_prices, members, offers, products
from clubcore.errors import FormatError

from .conftest import NOW

HEADER = "sku,name,category,list_price_rial,barcode,member_only,active\n"


def _count(db: Database, table: Any) -> int:
    with db.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def _product(db: Database, sku: str) -> Any:
    with db.reading() as conn:
        return conn.execute(select(products).where(products.c.sku == sku)).one()


def _cursor(db: Database) -> int:
    with db.reading() as conn:
        return current_cursor(conn)


def _import(db: Database, kind: str, data: bytes, **options: Any) -> Any:
    return import_file(db, kind, data, actor=cli_actor(), now=NOW, **options)


def test_windows_1256_csv_with_persian_text(demo: Database) -> None:
    text = (
        HEADER
        + 'N1,شیر کم‌چرب پگاه ۱ لیتری,dairy,125000,,0,1\nN2,ماست یکی,dairy,"1,250,000",,بله,1\n'
    )
    # Windows-1256 has no Persian digits, yeh or kaf: Excel writes ASCII digits and Arabic letters
    data = text.replace("۱", "1").replace("ی", "ي").replace("ک", "ك").encode("cp1256")
    cursor = _cursor(demo)
    report = _import(demo, "products", data)
    assert report.encoding == "cp1256" and report.errors == []
    assert (report.new, report.changed, report.written) == (2, 0, True)
    row = _product(demo, "N1")
    assert row.name == "شیر کم‌چرب پگاه 1 لیتری" and row.list_price == 125_000
    assert _product(demo, "N2").member_only == 1 and _product(demo, "N2").list_price == 1_250_000
    with demo.reading() as conn:
        page = read_changes(conn, cursor, 100)["changes"]
    assert [c["key"] for c in page if c["entity"] == "products"] == ["N1", "N2"]


def test_utf8_bom_persian_digits_toman_and_a_second_import_changes_nothing(
    demo: Database,
) -> None:
    text = "\ufeffsku;name;category;list_price;barcode\nN1;شیر;dairy;۱۲٬۵۰۰;4006381333931\n"
    report = _import(demo, "products", text.encode("utf-8"))  # the club's unit: toman
    assert report.encoding == "utf-8-sig" and report.new == 1, report.errors
    assert _product(demo, "N1").list_price == 125_000
    assert _product(demo, "N1").barcode == "4006381333931"
    cursor, versions = _cursor(demo), stored_versions_of(demo)
    again = _import(demo, "products", text.encode("utf-8"))
    assert (again.new, again.changed, again.unchanged) == (0, 0, 1)
    assert _cursor(demo) == cursor and stored_versions_of(demo) == versions


def stored_versions_of(db: Database) -> list[int]:
    with db.reading() as conn:
        return stored_versions(conn)


def test_xlsx_made_with_openpyxl(demo: Database) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["offer_id", "title", "unit_price_rial", "percent", "category", "target_tier",
                  "starts_at", "ends_at", "title_fa", "message_fa", "sku"])  # fmt: skip
    sheet.append(["GOLD-DAIRY", "Gold dairy", None, 12.5, "dairy", "gold",
                  datetime(2026, 12, 1), "1405/09/30", "لبنیات طلایی", "۱۲٫۵٪ تخفیف"])  # fmt: skip
    # a unit price names its product (clubcore.records)
    sheet.append(["X-1", "Fixed", 90000, None, None, None, "۱۴۰۵-۰۹-۱۰", None, None, None,
                  "P000001"])  # fmt: skip
    buffer = io.BytesIO()
    book.save(buffer)
    report = _import(demo, "offers", buffer.getvalue())
    assert report.errors == [] and report.new == 2 and report.written
    with demo.reading() as conn:
        row = conn.execute(select(offers).where(offers.c.offer_id == "GOLD-DAIRY")).one()
    assert row.percent_bp == 1250 and row.target_tier == "gold"
    assert row.starts_at == "2026-11-30T20:30:00+00:00"  # 00:00 in Tehran
    assert row.ends_at == "2026-12-21T20:30:00+00:00"  # through 1405-09-30
    assert json.loads(row.texts)["fa"]["title"] == "لبنیات طلایی"


BAD_ROWS = [
    ("products", HEADER + "N1,x,dairy,-5,,,\n", "list_price", "negative"),
    ("products", HEADER + "N1,x,toys,5,,,\n", "category", "unknown category 'toys'"),
    ("products", HEADER + "N1,x,dairy,5,4006381333932,,\n", "barcode", "check digit"),
    ("products", HEADER + "N1,x,dairy,5,,,\nN1,y,dairy,6,,,\n", "sku", "also on row 2"),
    ("member-prices", "sku,tier,price_rial\nP000000,gold,999999999\n", "price", "above the list"),
    ("member-prices", "sku,tier,price_rial\nP000000,iron,1\n", "tier", "unknown tier 'iron'"),
    ("category-discounts", "category,tier,percent\ndairy,gold,120\n", "percent", "0..100"),
    ("offers", "offer_id,title,percent,starts_at,ends_at\nO,t,5,1405-09-10,1405-09-01\n",
     "ends_at", "ends before it starts"),
    ("members", "member_no,display_name,tier,phone\n77,A,gold,09121112233\n"
     "78,B,gold,+989121112233\n", "phone", "also on row 2"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "text", "column", "message"), BAD_ROWS)
def test_each_kind_of_bad_row_is_named_and_nothing_is_written(
    demo: Database, kind: str, text: str, column: str, message: str
) -> None:
    good = {"products": HEADER + "G1,good,dairy,5,,,\n"}.get(kind, "")
    data = (text + good.split("\n", 1)[1] if good else text).encode()
    table = KINDS[kind].table
    before, cursor = _count(demo, table), _cursor(demo)
    report = _import(demo, kind, data)
    assert not report.written and report.errors
    error = report.errors[0]
    assert error.column == column and message in error.message, report.error_lines()
    assert report.error_lines()[0].startswith(f"<bytes>:{error.row}: {column}: ")
    assert _count(demo, table) == before and _cursor(demo) == cursor


def test_a_phone_held_by_another_member_is_refused(demo: Database) -> None:
    first = _import(demo, "members", b"member_no,display_name,tier,phone\n77,A,gold,09121112233\n")
    assert first.written
    report = _import(demo, "members", b"member_no,display_name,tier,phone\n78,B,gold,09121112233\n")
    assert [(e.row, e.column) for e in report.errors] == [(2, "phone")]
    assert "belongs to member 77" in report.errors[0].message
    moved = b"member_no,display_name,tier,phone\n77,A,gold,\n78,B,gold,09121112233\n"
    assert _import(demo, "members", moved).errors  # an empty cell keeps 77's phone


def test_dry_run_reports_and_writes_nothing(demo: Database) -> None:
    cursor = _cursor(demo)
    data = (HEADER + "N1,x,dairy,5,,,\nP000000,changed name,dairy,5,,,\n").encode()
    report = _import(demo, "products", data, dry_run=True)
    assert (report.new, report.changed, report.written) == (1, 1, False)
    assert _cursor(demo) == cursor and _product(demo, "P000000").name != "changed name"


def test_header_problems_are_file_errors(demo: Database) -> None:
    with pytest.raises(FormatError, match="missing column"):
        _import(demo, "products", b"sku,name\nA,b\n")
    with pytest.raises(FormatError, match="unknown column 'colour'"):
        _import(demo, "products", (HEADER.strip() + ",colour\n").encode())
    with pytest.raises(FormatError, match="unknown column 'list_price_euro'"):
        _import(demo, "products", b"sku,name,category,list_price_euro\n")
    with pytest.raises(FormatError, match="appears twice"):
        _import(demo, "products", b"sku,name,category,list_price_rial,list_price_toman\n")


def test_round_trip_export_import_unchanged(demo: Database, tmp_path: Path) -> None:
    with demo.writing() as conn:  # the test products' category (conftest adds them bare)
        conn.execute(categories.insert().values(code="test", name="Test", parent=None))
    offer = "offer_id,title,percent,target_member,title_fa,message_fa\nO1,t,5,1000000008,ت,پ\n"
    assert _import(demo, "offers", offer.encode()).written
    member = "member_no,display_name,tier,phone,full_name\n55,علی,gold,09120000055,علی رضایی\n"
    assert _import(demo, "members", member.encode()).written
    cursor = _cursor(demo)
    for kind in KINDS:
        for xlsx in (False, True):
            target = io.BytesIO()
            count = export_file(demo, kind, target, xlsx=xlsx, now=NOW)
            report = _import(demo, kind, target.getvalue())
            assert report.errors == [] and report.rows == count > 0, (kind, report.errors[:3])
            assert (report.new, report.changed, report.unchanged) == (0, 0, count), kind
    assert _cursor(demo) == cursor


def test_one_publish_per_import_and_changes_reach_the_log(demo: Database) -> None:
    versions = stored_versions_of(demo)
    rows = "".join(f"P{n:06d},gold,{n}\n" for n in range(20))
    report = _import(demo, "member-prices", f"sku,tier,price_rial\n{rows}".encode())
    assert report.written and report.rules_version == versions[-1] + 1
    assert stored_versions_of(demo) == [*versions, versions[-1] + 1]
    with demo.reading() as conn:
        page = read_changes(conn, 0, 100_000)["changes"]
        price = conn.execute(select(member_prices.c.price).where(
            member_prices.c.sku == "P000003", member_prices.c.tier == "gold")).scalar()  # fmt: skip
    logged = {c["key"] for c in page if c["entity"] == "member_prices"}
    assert {f"P{n:06d}|gold" for n in range(20)} <= logged and price == 3


# --- the command --------------------------------------------------------------------


@pytest.fixture
def run(demo: Database) -> Any:
    def invoke(*args: str, stdin: bytes | None = None, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, [*args, "--db", demo.url], input=stdin)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_cli_stdin_skip_bad_rows_and_rejects(run: Any, demo: Database, tmp_path: Path) -> None:
    data = (HEADER + "N1,ok,dairy,5,,,\nN2,bad,dairy,-1,,,\nN3,bad,toys,1,,,\n").encode()
    refused = run("import", "products", "-", stdin=data, code=1)
    assert "<stdin>:3: list_price: must not be negative" in refused.output
    assert "<stdin>:4: category: unknown category 'toys'" in refused.output
    assert _count(demo, products) == _count(demo, products)  # nothing written:
    with pytest.raises(Exception, match="No row"):
        _product(demo, "N1")
    rejects = tmp_path / "rejects.csv"
    result = run("import", "products", "-", "--skip-bad-rows", "--rejects", str(rejects),
                 stdin=data)  # fmt: skip
    assert "1 new" in result.output and "2 refused rows" in result.output
    assert _product(demo, "N1").name == "ok"
    lines = rejects.read_text("utf-8-sig").splitlines()
    assert lines[0].endswith(",error") and lines[1].startswith("N2,bad") and len(lines) == 3


def test_cli_dry_run_json_and_export(run: Any, demo: Database, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text("member_no,display_name,tier\n91,Zahra,silver\n", encoding="utf-8")
    report = json.loads(run("import", "members", str(path), "--dry-run", "--json").stdout)
    assert report["new"] == 1 and report["written"] is False
    assert _count(demo, members) == 300
    run("import", "members", str(path))
    out = tmp_path / "out.xlsx"
    run("export", "members", str(out))
    assert out.read_bytes().startswith(b"PK")
    assert "91,Zahra,silver" in run("export", "members").stdout


def test_every_kind_has_a_documented_format_and_a_sample() -> None:
    docs = Path(__file__).parents[2] / "docs"
    text = (docs / "import-formats.md").read_text("utf-8")
    for kind in KINDS:
        assert f"`{kind}`" in text, kind
        sample = docs / "samples" / f"{kind}.csv"
        assert sample.exists(), kind


def test_samples_import_in_order_on_the_demo_store(demo: Database) -> None:
    samples = Path(__file__).parents[2] / "docs" / "samples"
    for kind in ("products", "member-prices", "category-discounts", "offers", "members"):
        report = import_file(
            demo, kind, samples / f"{kind}.csv", actor=cli_actor(), now=datetime.now(UTC)
        )
        assert report.errors == [] and report.written, (kind, report.error_lines())

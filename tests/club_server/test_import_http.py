"""Imports over HTTP (``POST /admin/v1/import/{kind}``) and what imports write of the admin
schema (barcodes, translations, the audit log), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from stdnum import ean

from club_server.admin.access import cli_actor
from club_server.db import Database
from club_server.imports import export_file, import_file
from club_server.schema import audit_log, product_barcodes, products
from tests.club_server.admin_fixtures import Signed, sign_in, written
from tests.club_server.conftest import NOW, Lane

HEADER = "sku,name,category,list_price_rial,barcode,member_only,active,name_fa,name_en\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ean(body: str) -> str:
    return body + ean.calc_check_digit(body)


A, B, C = _ean("978020137962"), _ean("501234567890"), _ean("400638133393")
FILE = (
    HEADER
    + f"H1,Saffron,dairy,900000,{A} {B},0,1,زعفران,Saffron\nH2,Tea,dairy,50000,{C},0,1,چای,\n"
)


@pytest.fixture
def signed(client: Any, demo: Database) -> Signed:
    return sign_in(client, demo)


def _post(client: Any, headers: dict[str, str], data: bytes, kind: str = "products",
          media: str = "text/csv", **params: Any) -> Any:  # fmt: skip
    return client.post(f"/admin/v1/import/{kind}", content=data, params=params,
                       headers={**headers, "Content-Type": media})  # fmt: skip


def _barcodes(db: Database, sku: str) -> list[str]:
    with db.reading() as conn:
        query = select(product_barcodes.c.barcode).where(product_barcodes.c.sku == sku)
        return list(conn.execute(query.order_by(product_barcodes.c.position)).scalars())


def _imports(db: Database) -> list[Any]:
    with db.reading() as conn:
        return conn.execute(select(audit_log).where(audit_log.c.action == "import")).all()


def test_an_api_token_imports_products_with_barcodes_and_translations(
    client: Any, demo: Database, signed: Signed
) -> None:
    before = written(demo)
    dry = _post(client, signed.token, FILE.encode(), dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["problems"] == [], dry.json()
    assert (dry.json()["new"], dry.json()["written"]) == (2, False)
    assert written(demo) == before
    answer = _post(client, signed.token, FILE.encode())
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["new"], report["written"], report["problems"]) == (2, True, [])
    assert report["rules_version"] is not None
    assert _barcodes(demo, "H1") == [A, B] and _barcodes(demo, "H2") == [C]
    shown = client.get("/admin/v1/products/H1", headers=signed.admin).json()
    assert shown["names"] == {"en": "Saffron", "fa": "زعفران"} and shown["barcodes"] == [A, B]
    (entry,) = _imports(demo)
    assert entry.actor.startswith("token:") and entry.entity == "products"
    assert json.loads(entry.after)["new"] == 2
    again = _post(client, signed.token, FILE.encode()).json()
    assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, 2)


def test_an_xlsx_upload_and_a_moved_barcode(client: Any, demo: Database, signed: Signed) -> None:
    _post(client, signed.operator, FILE.encode())
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in (HEADER + f"H1,Saffron,dairy,900000,{A},0,1,زعفران,Saffron\n"
                 f"H2,Tea,dairy,50000,{C} {B},0,1,چای,\n").splitlines():  # fmt: skip
        sheet.append(line.split(","))
    data = io.BytesIO()
    book.save(data)
    report = _post(client, signed.operator, data.getvalue(), media=XLSX).json()
    assert (report["changed"], report["unchanged"], report["written"]) == (2, 0, True)
    assert _barcodes(demo, "H1") == [A] and _barcodes(demo, "H2") == [C, B]
    assert _imports(demo)[-1].actor.startswith("account:olga")


def test_a_barcode_of_another_product_is_refused_per_row(
    client: Any, demo: Database, signed: Signed
) -> None:
    with demo.reading() as conn:
        sku, taken = conn.execute(
            select(product_barcodes.c.sku, product_barcodes.c.barcode)
        ).first()
    data = (HEADER + f"H1,Saffron,dairy,900000,{taken},0,1,,\nH2,Tea,dairy,50000,{C},0,1,,\n"
            f"H3,Tea2,dairy,50000,{C},0,1,,\n").encode()  # fmt: skip
    before = written(demo)
    refused = _post(client, signed.token, data).json()
    assert refused["written"] is False and written(demo) == before
    problems = {(p["row"], p["column"]): p["message"] for p in refused["problems"]}
    assert problems[(2, "barcode")] == f"barcode {taken} belongs to {sku}"
    assert "also on row 3" in problems[(4, "barcode")]
    skipped = _post(client, signed.token, data, skip_bad_rows="true").json()
    assert (skipped["new"], skipped["written"]) == (1, True)
    assert _barcodes(demo, "H2") == [C] and _barcodes(demo, sku)[0] == taken


@pytest.mark.parametrize("role", ["manager"])
def test_who_may_import(client: Any, demo: Database, signed: Signed, role: str,
                        lane: Lane) -> None:  # fmt: skip
    before = written(demo)
    refused = _post(client, signed.of(role), FILE.encode())
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert _post(client, lane.headers, FILE.encode()).status_code == 401
    assert _post(client, {}, FILE.encode()).status_code == 401
    assert written(demo) == before
    wrong = _post(client, signed.token, FILE.encode(), media="application/json")
    assert wrong.status_code == 415
    assert _post(client, signed.token, FILE.encode(), kind="nothing").status_code == 422
    assert _post(client, signed.admin, FILE.encode()).json()["written"] is True


def test_export_writes_translations_and_barcodes_back(client: Any, demo: Database,
                                                      signed: Signed) -> None:  # fmt: skip
    _post(client, signed.token, FILE.encode())
    target = io.BytesIO()
    export_file(demo, "products", target, unit="rial", now=NOW)
    text = target.getvalue().decode("utf-8-sig")
    assert text.splitlines()[0].endswith("name_en,name_fa")
    assert f"H1,Saffron,dairy,900000,{A} {B},0,1,Saffron,زعفران" in text
    ours = [line for line in text.splitlines() if line.startswith(("sku,", "H"))]
    data = "\n".join(ours).encode()
    report = import_file(demo, "products", data, actor=cli_actor(), now=NOW)
    assert (report.new, report.changed, report.errors) == (0, 0, [])
    with demo.reading() as conn:
        names = conn.execute(select(products.c.names).where(products.c.sku == "H2")).scalar()
    assert json.loads(names) == {"fa": "چای"}

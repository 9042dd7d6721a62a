"""The OpenAPI document means something: typed answers, one error shape, the bearer scheme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SCHEME = "TerminalCredential"
ADMIN_SCHEME = "AdminToken"
#: the routes called without a credential
PUBLIC = {("get", "/v1/health"), ("post", "/v1/enroll"), ("post", "/admin/v1/session")}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The document does not depend on the backend: SQLite only here."""
    return f"sqlite:///{tmp_path / 'club.db'}"


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
    ]


def typed(schema: dict[str, Any]) -> bool:
    """A schema that says something: a reference, a type or a choice of typed schemas."""
    if "$ref" in schema or "type" in schema:
        return True
    choices = schema.get("oneOf") or schema.get("anyOf") or []
    return bool(choices) and all(typed(choice) for choice in choices)


def test_every_operation_has_a_typed_success_body(document: dict[str, Any]) -> None:
    found = operations(document)
    assert len(found) >= 9
    for method, path, operation in found:
        success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert success, (method, path)
        for code, response in success.items():
            content = response.get("content")
            assert content, (method, path, code, "no content")
            for media, body in content.items():
                assert typed(body.get("schema", {})), (method, path, code, media)


def test_every_error_answer_is_the_one_error_schema(document: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "message"}
    for method, path, operation in operations(document):
        errors = {c: r for c, r in operation["responses"].items() if c[0] in "45"}
        assert errors, (method, path)
        for code, response in errors.items():
            assert response["content"]["application/json"]["schema"] == error, (path, code)


def test_the_terminal_credential_is_a_bearer_scheme_used_by_every_private_route(
    document: dict[str, Any],
) -> None:
    """Terminal routes take the terminal's credential, admin routes an admin token, never both."""
    for name in (SCHEME, ADMIN_SCHEME):
        scheme = document["components"]["securitySchemes"][name]
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path, operation in operations(document):
        security = operation.get("security")
        if (method, path) in PUBLIC:
            assert not security, (method, path)
        else:
            wanted = ADMIN_SCHEME if path.startswith("/admin/") else SCHEME
            assert security == [{wanted: []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
        names = {p["name"].lower() for p in operation.get("parameters", [])}
        assert "authorization" not in names, (method, path)  # the scheme, not a header parameter


def test_the_sales_push_documents_its_items_and_bounds(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    sales = schemas["SalesPush"]["properties"]["sales"]
    assert sales["maxItems"] == 500
    item = sales["items"]
    assert item.get("additionalProperties") is False and "lines" in item["properties"]
    assert item["properties"]["lines"]["maxItems"] == 1000
    total = item["properties"]["total"]
    assert (total["type"], total["maximum"], total["minimum"]) == ("integer", 10**15, -(10**15))


def test_a_missing_or_malformed_credential_keeps_the_protocols_401(client: Any) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nodot"}):
        answer = client.get("/v1/changes", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"] == "unauthorized"


def test_snapshot_pages_are_typed_ndjson_rows_of_the_entities(document: dict[str, Any]) -> None:
    page = document["paths"]["/v1/snapshot/{entity}"]["get"]["responses"]["200"]
    schema = page["content"]["application/x-ndjson"]["schema"]
    refs = [c["$ref"] for c in schema["items"]["anyOf"] if "$ref" in c]
    assert len(refs) == 11
    schemas = document["components"]["schemas"]
    members = schemas["Row_members"]
    assert members["minItems"] == members["maxItems"] == 9
    assert members["prefixItems"][5] == {"type": "integer"}  # points_base
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in schemas

"""Enrollment and terminal authentication, through the API, on both backends."""

from __future__ import annotations

from typing import Any

from club_server.db import Database
from club_server.terminals import revoke_terminal
from tests.club_server.conftest import NOW, MovableClock, enroll_lane, new_code


def test_enroll_gives_a_working_credential(client: Any, demo: Database) -> None:
    code = new_code(demo)
    answer = client.post("/v1/enroll", json={"code": code.lower(), "device": {"hostname": "l1"}})
    assert answer.status_code == 200
    body = answer.json()
    assert body["store_id"] == "demo-store"
    assert body["credential"].startswith(body["terminal_id"] + ".")
    headers = {"Authorization": f"Bearer {body['credential']}"}
    assert client.get("/v1/snapshot", headers=headers).status_code == 200


def test_a_code_works_once(client: Any, demo: Database) -> None:
    code = new_code(demo)
    assert client.post("/v1/enroll", json={"code": code}).status_code == 200
    again = client.post("/v1/enroll", json={"code": code})
    assert (again.status_code, again.json()["error"]) == (410, "code-used")


def test_expired_malformed_and_unknown_codes(
    client: Any, demo: Database, clock: MovableClock
) -> None:
    code = new_code(demo)
    clock.advance(hours=25)
    expired = client.post("/v1/enroll", json={"code": code})
    assert (expired.status_code, expired.json()["error"]) == (410, "code-expired")
    bad = client.post("/v1/enroll", json={"code": "not a code"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid-code")
    unknown = client.post("/v1/enroll", json={"code": "AAAA-BBBB-CCCC"})
    assert (unknown.status_code, unknown.json()["error"]) == (401, "unknown-code")


def test_revoked_terminal_is_refused(client: Any, demo: Database) -> None:
    lane = enroll_lane(client, demo)
    with demo.writing() as conn:
        revoke_terminal(conn, lane.terminal_id, NOW)
    answer = client.get("/v1/changes", headers=lane.headers)
    assert (answer.status_code, answer.json()["error"]) == (403, "terminal-revoked")


def test_revoked_terminal_cannot_enroll(client: Any, demo: Database) -> None:
    code = new_code(demo)
    with demo.writing() as conn:
        from sqlalchemy import select

        from club_server.schema import terminals

        terminal_id = conn.execute(select(terminals.c.terminal_id)).scalars().all()[-1]
        revoke_terminal(conn, terminal_id, NOW)
    answer = client.post("/v1/enroll", json={"code": code})
    assert (answer.status_code, answer.json()["error"]) == (403, "terminal-revoked")


def test_bad_credentials_are_401(client: Any, demo: Database) -> None:
    lane = enroll_lane(client, demo)
    wrong = lane.credential[:-2] + "xx"
    for header in (None, "Basic abc", "Bearer nodot", f"Bearer {wrong}", "Bearer a.b"):
        headers = {"Authorization": header} if header else {}
        answer = client.get("/v1/snapshot", headers=headers)
        assert (answer.status_code, answer.json()["error"]) == (401, "unauthorized"), header

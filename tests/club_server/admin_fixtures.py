"""Accounts and tokens on the demo server, signed in through the admin API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from club_server.admin.access import cli_actor
from club_server.admin.accounts import create_account, create_token
from club_server.db import Database
from club_server.demo import DEMO_STORE
from club_server.schema import (
    account_sessions,
    accounts,
    api_tokens,
    audit_log,
    changes,
    product_barcodes,
    stores,
)
from tests.club_server.conftest import NOW

PASSWORD = "correct horse battery"


@dataclass
class Signed:
    """Authorization headers of each kind of caller."""

    admin: dict[str, str]
    operator: dict[str, str]
    manager: dict[str, str]
    token: dict[str, str]

    def of(self, role: str) -> dict[str, str]:
        headers: dict[str, str] = getattr(self, role)
        return headers


def sign_in(client: Any, database: Database) -> Signed:
    """Create an admin, an operator, a store manager of the demo store and an import token."""
    with database.writing() as conn:
        for name, role, shops in (
            ("root", "admin", []),
            ("olga", "operator", []),
            ("mani", "store_manager", [DEMO_STORE]),
        ):
            create_account(conn, cli_actor(), NOW, username=name, role=role, password=PASSWORD,
                           stores=shops)  # fmt: skip
        token = create_token(conn, cli_actor(), NOW, name="erp").token

    def login(name: str) -> dict[str, str]:
        answer = client.post("/admin/v1/session", json={"username": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    return Signed(login("root"), login("olga"), login("mani"), {"Authorization": f"Bearer {token}"})


def written(database: Database) -> tuple[int, ...]:
    """Counts that any write changes: audit entries, change log, accounts, tokens, stores..."""
    with database.reading() as conn:
        tables = (audit_log, changes, accounts, api_tokens, stores, product_barcodes)
        return tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in (*tables, account_sessions)
        )

"""Operator accounts, sessions, API tokens, the audit log, and what the admin API manages.

``accounts``, ``account_sessions`` and ``api_tokens`` are who may call the
admin API (:mod:`club_server.admin.accounts`); ``audit_log`` records every
admin change (:mod:`club_server.admin.audit`). Server-only columns for the
catalog: translations (``names``) of tiers, categories and products, every
barcode of a product (``product_barcodes``, the first is still
``products.barcode`` for lanes), ``offers.enabled`` and ``tiers.retired_at``
(a disabled offer or a retired tier is kept but leaves the wire),
``members.merged_into`` and an index on ``members.phone`` (one phone, one
member), ``stores.timezone``. The wire's shapes do not change.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Integer, Text

revision = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None

_Serial = BigInteger().with_variant(Integer(), "sqlite")


def _columns() -> None:
    op.add_column("stores", Column("timezone", Text))
    op.add_column("tiers", Column("names", Text, nullable=False, server_default="{}"))
    op.add_column("tiers", Column("retired_at", Text))
    op.add_column("categories", Column("names", Text, nullable=False, server_default="{}"))
    op.add_column("products", Column("names", Text, nullable=False, server_default="{}"))
    op.add_column("offers", Column("enabled", Integer, nullable=False, server_default="1"))
    op.add_column("members", Column("merged_into", Text))
    op.create_index("members_phone", "members", ["phone"])


def _barcodes() -> None:
    op.create_table(
        "product_barcodes",
        Column("barcode", Text, primary_key=True),
        Column("sku", Text, nullable=False),
        Column("position", Integer, nullable=False),
    )
    op.create_index("product_barcodes_sku", "product_barcodes", ["sku"])
    op.execute(
        "INSERT INTO product_barcodes (barcode, sku, position) "
        "SELECT barcode, MIN(sku), 0 FROM products WHERE barcode IS NOT NULL GROUP BY barcode"
    )


def _accounts() -> None:
    op.create_table(
        "accounts",
        Column("username", Text, primary_key=True),
        Column("role", Text, nullable=False),
        Column("stores", Text, nullable=False),
        Column("password_hash", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        Column("disabled_at", Text),
    )
    op.create_table(
        "account_sessions",
        Column("token_hash", Text, primary_key=True),
        Column("username", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        Column("expires_at", Text, nullable=False),
        Column("revoked_at", Text),
    )
    op.create_table(
        "api_tokens",
        Column("token_id", Text, primary_key=True),
        Column("name", Text, nullable=False),
        Column("scope", Text, nullable=False),
        Column("token_hash", Text, nullable=False),
        Column("created_by", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        Column("expires_at", Text),
        Column("revoked_at", Text),
        Column("last_used_at", Text),
    )
    op.create_index("api_tokens_hash", "api_tokens", ["token_hash"], unique=True)


def _audit() -> None:
    op.create_table(
        "audit_log",
        Column("entry_id", _Serial, primary_key=True, autoincrement=True),
        Column("at", Text, nullable=False),
        Column("actor", Text, nullable=False),
        Column("entity", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("action", Text, nullable=False),
        Column("before", Text),
        Column("after", Text),
    )
    op.create_index("audit_log_at", "audit_log", ["at"])
    op.create_index("audit_log_entity", "audit_log", ["entity", "key"])


def upgrade() -> None:
    _columns()
    _barcodes()
    _accounts()
    _audit()


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

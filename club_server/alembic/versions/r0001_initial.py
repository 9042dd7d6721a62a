"""Initial schema (protocol v1): the tables as the old runner's step 1 made them.

The baseline, frozen: these are the definitions of ``club_server/schema.py``
at the commit that released step 1 (e590237), written out so that later
changes to the models never change what this revision builds. A database the
old runner left at version 1 is stamped here.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Integer, PrimaryKeyConstraint, Text, inspect

from club_server.alembic.legacy import LEGACY_TABLE, record_step

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

#: an auto-incrementing 64-bit key (SQLite only autoincrements INTEGER PRIMARY KEY)
Serial = BigInteger().with_variant(Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stores",
        Column("store_id", Text, primary_key=True),
        Column("name", Text, nullable=False),
        Column("created_at", Text, nullable=False),
    )
    op.create_table(
        "terminals",
        Column("terminal_id", Text, primary_key=True),
        Column("store_id", Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("credential_hash", Text),
        Column("created_at", Text, nullable=False),
        Column("enrolled_at", Text),
        Column("revoked_at", Text),
        Column("device", Text),
    )
    op.create_table(
        "enrollment_codes",
        Column("code_hash", Text, primary_key=True),
        Column("terminal_id", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        Column("expires_at", Text, nullable=False),
        Column("used_at", Text),
    )
    op.create_table(
        "settings",
        Column("key", Text, primary_key=True),
        Column("value", Text, nullable=False),
    )
    op.create_table(
        "tiers",
        Column("code", Text, primary_key=True),
        Column("name", Text, nullable=False),
        Column("rank", Integer, nullable=False),
        Column("min_spend", BigInteger, nullable=False),
        Column("earn_multiplier_bp", Integer, nullable=False),
        Column("assignable", Integer, nullable=False),
        Column("benefits", Text, nullable=False),
    )
    op.create_table(
        "categories",
        Column("code", Text, primary_key=True),
        Column("name", Text, nullable=False),
        Column("parent", Text),
    )
    op.create_table(
        "products",
        Column("sku", Text, primary_key=True),
        Column("barcode", Text),
        Column("name", Text, nullable=False),
        Column("category", Text, nullable=False),
        Column("list_price", BigInteger, nullable=False),
        Column("member_only", Integer, nullable=False),
        Column("active", Integer, nullable=False),
        Column("updated_at", Text, nullable=False),
    )
    op.create_table(
        "member_prices",
        Column("sku", Text, nullable=False),
        Column("tier", Text, nullable=False),
        Column("price", BigInteger, nullable=False),
        PrimaryKeyConstraint("sku", "tier"),
    )
    op.create_table(
        "category_discounts",
        Column("category", Text, nullable=False),
        Column("tier", Text, nullable=False),
        Column("percent_bp", Integer, nullable=False),
        PrimaryKeyConstraint("category", "tier"),
    )
    op.create_table(
        "offers",
        Column("offer_id", Text, primary_key=True),
        Column("title", Text, nullable=False),
        Column("message", Text, nullable=False),
        Column("unit_price", BigInteger),
        Column("percent_bp", Integer),
        Column("sku", Text),
        Column("category", Text),
        Column("target_member", Text),
        Column("target_segment", Text),
        Column("target_tier", Text),
        Column("starts_at", Text),
        Column("ends_at", Text),
        Column("stacks", Integer, nullable=False),
    )
    op.create_table(
        "members",
        Column("member_no", Text, primary_key=True),
        Column("display_name", Text, nullable=False),
        Column("tier", Text, nullable=False),
        Column("segments", Text, nullable=False),
        Column("phone_hash", Text),
        # the ledger sum, recomputed from points_ledger on every change (wire: points_base)
        Column("points_balance", BigInteger, nullable=False),
        Column("spend_12m", BigInteger, nullable=False),
        Column("status", Text, nullable=False),
        Column("updated_at", Text, nullable=False),
        Column("full_name", Text),  # server only
        Column("phone", Text),  # server only: E.164
        Column("joined_at", Text),  # server only
    )
    op.create_table(
        "cards",
        Column("serial", Text, primary_key=True),
        Column("uid", Text),
        Column("member_no", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("expires", Text),
        Column("updated_at", Text, nullable=False),
        Column("key_id", Integer),  # server only: the key that signed it
    )
    op.create_index("cards_member", "cards", ["member_no"])
    op.create_table(
        "denylist",
        Column("serial", Text, primary_key=True),
        Column("uid", Text),
        Column("reason", Text, nullable=False),
        Column("listed_at", Text, nullable=False),
    )
    op.create_table(
        "card_keys",
        Column("key_id", Integer, primary_key=True, autoincrement=False),
        Column("public_key", Text, nullable=False),  # 32 bytes, hex
        Column("retired_at", Text),
        Column("created_at", Text, nullable=False),  # server only
        Column("signing", Integer, nullable=False),  # server only: 1 = new cards are signed with it
    )
    op.create_table(
        "points_ledger",
        Column("entry_id", Serial, primary_key=True, autoincrement=True),
        Column("member_no", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("points", BigInteger, nullable=False),
        Column("sale_id", Text),
        Column("created_at", Text, nullable=False),
    )
    op.create_index("points_ledger_member", "points_ledger", ["member_no"])
    op.create_table(
        "sales",
        Column("sale_id", Text, primary_key=True),
        Column("terminal_id", Text, nullable=False),
        Column("store_id", Text, nullable=False),
        Column("body_hash", Text, nullable=False),
        Column("payload", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        Column("business_date", Text, nullable=False),
        Column("hour", Integer, nullable=False),
        Column("member_no", Text),
        Column("tier", Text),
        Column("subtotal_list", BigInteger, nullable=False),
        Column("member_discount", BigInteger, nullable=False),
        Column("points_discount", BigInteger, nullable=False),
        Column("total", BigInteger, nullable=False),
        Column("points_earned", BigInteger, nullable=False),
        Column("points_redeemed", BigInteger, nullable=False),
        Column("received_at", Text, nullable=False),
        Column("change_seq", BigInteger),  # the first result, returned to replays
    )
    op.create_index("sales_store_day", "sales", ["store_id", "business_date"])
    op.create_table(
        "changes",
        Column("seq", Serial, primary_key=True, autoincrement=True),
        Column("entity", Text, nullable=False),
        Column("key", Text, nullable=False),
    )
    op.create_table(
        "flags",
        Column("flag_id", Serial, primary_key=True, autoincrement=True),
        Column("kind", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("detail", Text, nullable=False),
        Column("sale_id", Text),
        Column("terminal_id", Text),
        Column("created_at", Text, nullable=False),
        Column("resolved_at", Text),
    )
    op.create_table(
        "counters",
        Column("name", Text, primary_key=True),
        Column("value", BigInteger, nullable=False),
    )
    if not inspect(op.get_bind()).has_table(LEGACY_TABLE):  # a step 1 that failed leaves it
        op.create_table(
            LEGACY_TABLE,
            Column("version", Integer, primary_key=True, autoincrement=False),
            Column("name", Text, nullable=False),
            Column("applied_at", Text, nullable=False),
        )
    record_step(1, "initial schema (protocol v1)")


def downgrade() -> None:
    raise NotImplementedError("the baseline cannot be downgraded")

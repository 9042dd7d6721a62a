"""The club server's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The cached entities (``settings`` .. ``card_keys``) have the columns of
``docs/sync-protocol.md`` plus a few the server keeps for itself (marked
*server only* below); the wire never carries those. Times are ISO 8601 text
(UTC, with offset), dates ``YYYY-MM-DD`` text, money and points integers,
flags 0/1 integers: the wire form is then the stored form on both backends.

Every change to a cached entity appends ``(entity, key)`` to ``changes`` in
the same transaction (:mod:`club_server.changes`).

:data:`metadata` is the whole database: Alembic's revisions
(``club_server/alembic/versions/``) must build exactly these tables, and a
test compares the two (:func:`club_server.migrations.schema_drift`). A change
here needs a new revision.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

__all__ = [
    "account_sessions",
    "accounts",
    "api_tokens",
    "audit_log",
    "credential_rotations",
    "enroll_lockouts",
    "metadata",
    "points_suspense",
    "product_barcodes",
    "rule_sets",
    "schema_migrations",
]

metadata = MetaData()

#: an auto-incrementing 64-bit key (SQLite only autoincrements INTEGER PRIMARY KEY)
Serial = BigInteger().with_variant(Integer(), "sqlite")


def _money(name: str, *, nullable: bool = False) -> Column[int]:
    return Column(name, BigInteger, nullable=nullable)


stores = Table(
    "stores", metadata,
    Column("store_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("timezone", Text),  # IANA name; null: the club's timezone setting (revision 0008)
)  # fmt: skip

terminals = Table(
    "terminals", metadata,
    Column("terminal_id", Text, primary_key=True),
    Column("store_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("credential_hash", Text),
    Column("created_at", Text, nullable=False),
    Column("enrolled_at", Text),
    Column("revoked_at", Text),
    Column("device", Text),
)  # fmt: skip

enrollment_codes = Table(
    "enrollment_codes", metadata,
    Column("code_hash", Text, primary_key=True),
    Column("terminal_id", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Column("used_at", Text),
)  # fmt: skip

settings = Table(
    "settings", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)  # fmt: skip

tiers = Table(
    "tiers", metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("rank", Integer, nullable=False),
    _money("min_spend"),
    Column("earn_multiplier_bp", Integer, nullable=False),
    Column("assignable", Integer, nullable=False),
    Column("benefits", Text, nullable=False),
    # server only (revision 0008): translations {"fa": "..."}; a retired tier is not on the wire
    Column("names", Text, nullable=False, server_default="{}"),
    Column("retired_at", Text),
)  # fmt: skip

categories = Table(
    "categories", metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("parent", Text),
    Column("names", Text, nullable=False, server_default="{}"),  # server only (revision 0008)
)  # fmt: skip

products = Table(
    "products", metadata,
    Column("sku", Text, primary_key=True),
    Column("barcode", Text),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    _money("list_price"),
    Column("member_only", Integer, nullable=False),
    Column("active", Integer, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("names", Text, nullable=False, server_default="{}"),  # server only (revision 0008)
)  # fmt: skip

#: every barcode of a product (server only, revision 0008); lanes get the first as
#: ``products.barcode``
product_barcodes = Table(
    "product_barcodes", metadata,
    Column("barcode", Text, primary_key=True),
    Column("sku", Text, nullable=False),
    Column("position", Integer, nullable=False),
)  # fmt: skip
Index("product_barcodes_sku", product_barcodes.c.sku)

member_prices = Table(
    "member_prices", metadata,
    Column("sku", Text, nullable=False),
    Column("tier", Text, nullable=False),
    _money("price"),
    PrimaryKeyConstraint("sku", "tier"),
)  # fmt: skip

category_discounts = Table(
    "category_discounts", metadata,
    Column("category", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("percent_bp", Integer, nullable=False),
    PrimaryKeyConstraint("category", "tier"),
)  # fmt: skip

offers = Table(
    "offers", metadata,
    Column("offer_id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("message", Text, nullable=False),
    _money("unit_price", nullable=True),
    Column("percent_bp", Integer),
    Column("sku", Text),
    Column("category", Text),
    Column("target_member", Text),
    Column("target_segment", Text),
    Column("target_tier", Text),
    Column("starts_at", Text),
    Column("ends_at", Text),
    Column("stacks", Integer, nullable=False),
    # translations, a JSON object: {"fa": {"title": "...", "message": "..."}}
    Column("texts", Text, nullable=False, server_default="{}"),
    # server only (revision 0008): a disabled offer is kept here but is not on the wire
    Column("enabled", Integer, nullable=False, server_default="1"),
)  # fmt: skip

members = Table(
    "members", metadata,
    Column("member_no", Text, primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("segments", Text, nullable=False),
    Column("phone_hash", Text),
    # the ledger sum, recomputed from points_ledger on every change (wire: points_base)
    Column("points_balance", BigInteger, nullable=False),
    _money("spend_12m"),
    Column("status", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("full_name", Text),  # server only
    Column("phone", Text),  # server only: E.164
    Column("joined_at", Text),  # server only
    Column("merged_into", Text),  # server only: the survivor of a merge (revision 0008)
)  # fmt: skip
Index("members_phone", members.c.phone)  # one phone, one member (revision 0008)

cards = Table(
    "cards", metadata,
    Column("serial", Text, primary_key=True),
    Column("uid", Text),
    Column("member_no", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("expires", Text),
    Column("updated_at", Text, nullable=False),
    Column("key_id", Integer),  # server only: the key that signed it
)  # fmt: skip
Index("cards_member", cards.c.member_no)

denylist = Table(
    "denylist", metadata,
    Column("serial", Text, primary_key=True),
    Column("uid", Text),
    Column("reason", Text, nullable=False),
    Column("listed_at", Text, nullable=False),
)  # fmt: skip

card_keys = Table(
    "card_keys", metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("public_key", Text, nullable=False),  # 32 bytes, hex
    Column("retired_at", Text),
    Column("created_at", Text, nullable=False),  # server only
    Column("signing", Integer, nullable=False),  # server only: 1 = new cards are signed with it
)  # fmt: skip

points_ledger = Table(
    "points_ledger", metadata,
    Column("entry_id", Serial, primary_key=True, autoincrement=True),
    Column("member_no", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("sale_id", Text),
    Column("created_at", Text, nullable=False),
)  # fmt: skip
Index("points_ledger_member", points_ledger.c.member_no)

#: pushed sales, each known by its terminal and its id (revision 0008): a sale id is
#: the idempotency key of its own terminal only
sales = Table(
    "sales", metadata,
    Column("sale_id", Text, nullable=False),
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
    _money("subtotal_list"),
    _money("member_discount"),
    _money("points_discount"),
    _money("total"),
    Column("points_earned", BigInteger, nullable=False),
    Column("points_redeemed", BigInteger, nullable=False),
    Column("received_at", Text, nullable=False),
    Column("change_seq", BigInteger),  # the first result, returned to replays
    Column("ref_sale_id", Text),  # what a void or refund reverses (revision 0004)
    # why its points were held for review instead of credited; null: credited (revision 0006)
    Column("held", Text),
    PrimaryKeyConstraint("sale_id", "terminal_id", name="sales_pkey"),
)  # fmt: skip
Index("sales_store_day", sales.c.store_id, sales.c.business_date)
Index("sales_member_day", sales.c.member_no, sales.c.business_date)  # card velocity
Index("sales_ref", sales.c.ref_sale_id)  # a sale's returns

changes = Table(
    "changes", metadata,
    Column("seq", Serial, primary_key=True, autoincrement=True),
    Column("entity", Text, nullable=False),
    Column("key", Text, nullable=False),
)  # fmt: skip

flags = Table(
    "flags", metadata,
    Column("flag_id", Serial, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("sale_id", Text),
    Column("terminal_id", Text),
    Column("created_at", Text, nullable=False),
    Column("resolved_at", Text),
    Column("payload", Text),  # a refused sale's body, kept for review (revision 0006)
)  # fmt: skip
Index("flags_terminal", flags.c.terminal_id, flags.c.resolved_at)  # incidents (revision 0006)

#: every rule set the club has published, as lanes received it (revision 0006):
#: the canonical JSON of a :class:`clubcore.repricing.PricingSnapshot`, see
#: :mod:`club_server.rulesets`
rule_sets = Table(
    "rule_sets", metadata,
    Column("rules_version", BigInteger, primary_key=True, autoincrement=False),
    Column("digest", Text, nullable=False),  # SHA-256 of body
    Column("body", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)  # fmt: skip

#: points that are not (yet) the member's: a sale for an unknown member, or a held sale
#: (revision 0006); the operator releases them to the ledger or discards them
#: (:mod:`club_server.suspense`)
points_suspense = Table(
    "points_suspense", metadata,
    Column("entry_id", Serial, primary_key=True, autoincrement=True),
    Column("member_no", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("sale_id", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("resolved_at", Text),
    Column("resolution", Text),  # released, discarded
)  # fmt: skip
Index("points_suspense_member", points_suspense.c.member_no)

counters = Table(
    "counters", metadata,
    Column("name", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)  # fmt: skip

#: one row per terminal with a rotation under way (server only; digests and ciphertext),
#: see :mod:`club_server.lifecycle`
credential_rotations = Table(
    "terminal_credential_rotations", metadata,
    Column("terminal_id", Text, primary_key=True),
    Column("old_hash", Text, nullable=False),
    Column("new_hash", Text, nullable=False),
    Column("new_secret_sealed", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)  # fmt: skip

#: refused enrollment codes by client address, and the lockout they led to (server only),
#: see :mod:`club_server.limits`
enroll_lockouts = Table(
    "enroll_lockouts", metadata,
    Column("address", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", Text, nullable=False),
    Column("last_failure_at", Text, nullable=False),
    Column("locked_until", Text),
)  # fmt: skip

#: operator accounts (revision 0008), see :mod:`club_server.admin.accounts`
accounts = Table(
    "accounts", metadata,
    Column("username", Text, primary_key=True),
    Column("role", Text, nullable=False),  # admin, operator, store_manager
    Column("stores", Text, nullable=False),  # a JSON list: a store manager's stores
    Column("password_hash", Text, nullable=False),  # scrypt$n$r$p$salt$hash
    Column("created_at", Text, nullable=False),
    Column("disabled_at", Text),
)  # fmt: skip

#: signed-in sessions of accounts: the SHA-256 of the bearer token (revision 0008)
account_sessions = Table(
    "account_sessions", metadata,
    Column("token_hash", Text, primary_key=True),
    Column("username", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Column("revoked_at", Text),
)  # fmt: skip

#: API tokens for machines (an ERP's import), SHA-256 of the token (revision 0008)
api_tokens = Table(
    "api_tokens", metadata,
    Column("token_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("scope", Text, nullable=False),  # import
    Column("token_hash", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text),
    Column("revoked_at", Text),
    Column("last_used_at", Text),
)  # fmt: skip

#: every admin change: who, when, what, before and after (revision 0008),
#: see :mod:`club_server.admin.audit`
audit_log = Table(
    "audit_log", metadata,
    Column("entry_id", Serial, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("before", Text),  # JSON, null when created
    Column("after", Text),  # JSON, null when deleted
)  # fmt: skip
Index("api_tokens_hash", api_tokens.c.token_hash, unique=True)
Index("audit_log_at", audit_log.c.at)
Index("audit_log_entity", audit_log.c.entity, audit_log.c.key)

#: the record of the schema runner used before Alembic (steps 1-4), kept with a last row
#: 5 "moved to Alembic" so that an older program refuses this database (revision 0005)
schema_migrations = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("applied_at", Text, nullable=False),
)  # fmt: skip

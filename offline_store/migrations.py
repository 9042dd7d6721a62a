"""Versioned schema migrations for the terminal database.

Each step has a number and a name, runs in its own transaction, and is
recorded in ``schema_migrations``. Steps are append-only: a released step is
never edited, a change is a new step. A database whose recorded version is
newer than the newest step known here is refused (an older program must not
write to a newer schema).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from clubcore.errors import MigrationError

__all__ = ["MIGRATIONS", "Migration", "migrate", "schema_version"]

_V1 = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE tiers (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    rank INTEGER NOT NULL,
    min_spend INTEGER NOT NULL DEFAULT 0 CHECK (min_spend >= 0),
    earn_multiplier_bp INTEGER NOT NULL DEFAULT 10000 CHECK (earn_multiplier_bp >= 0),
    assignable INTEGER NOT NULL DEFAULT 1,
    benefits TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;

-- Only what the lane needs: no address, no birth date, no raw phone number.
CREATE TABLE members (
    member_no TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    tier TEXT NOT NULL,
    segments TEXT NOT NULL DEFAULT '',
    phone_hash TEXT,
    points_base INTEGER NOT NULL DEFAULT 0,
    spend_12m INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX members_phone ON members (phone_hash) WHERE phone_hash IS NOT NULL;

CREATE TABLE cards (
    serial TEXT PRIMARY KEY,
    uid TEXT,
    member_no TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'signed' CHECK (kind IN ('signed', 'uid-only', 'printed')),
    expires TEXT,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX cards_uid ON cards (uid) WHERE uid IS NOT NULL;
CREATE INDEX cards_member ON cards (member_no);

CREATE TABLE denylist (
    serial TEXT PRIMARY KEY,
    uid TEXT,
    reason TEXT NOT NULL,
    listed_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX denylist_uid ON denylist (uid) WHERE uid IS NOT NULL;

CREATE TABLE card_keys (
    key_id INTEGER PRIMARY KEY,
    public_key BLOB NOT NULL,
    retired_at TEXT
);

CREATE TABLE categories (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent TEXT
) WITHOUT ROWID;

CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    barcode TEXT,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    list_price INTEGER NOT NULL CHECK (list_price >= 0),
    member_only INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX products_barcode ON products (barcode) WHERE barcode IS NOT NULL;
CREATE INDEX products_category ON products (category);

CREATE TABLE member_prices (
    sku TEXT NOT NULL,
    tier TEXT NOT NULL,
    price INTEGER NOT NULL CHECK (price >= 0),
    PRIMARY KEY (sku, tier)
) WITHOUT ROWID;

CREATE TABLE category_discounts (
    category TEXT NOT NULL,
    tier TEXT NOT NULL,
    percent_bp INTEGER NOT NULL CHECK (percent_bp BETWEEN 0 AND 10000),
    PRIMARY KEY (category, tier)
) WITHOUT ROWID;

CREATE TABLE offers (
    offer_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    unit_price INTEGER,
    percent_bp INTEGER,
    sku TEXT,
    category TEXT,
    target_member TEXT,
    target_segment TEXT,
    target_tier TEXT,
    starts_at TEXT,
    ends_at TEXT,
    stacks INTEGER NOT NULL DEFAULT 0,
    CHECK ((unit_price IS NULL) <> (percent_bp IS NULL))
) WITHOUT ROWID;
CREATE INDEX offers_member ON offers (target_member);

CREATE TABLE sales (
    sale_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('sale', 'void', 'refund')),
    ref_sale_id TEXT REFERENCES sales (sale_id),
    terminal_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    business_date TEXT NOT NULL,
    hour INTEGER NOT NULL,
    member_no TEXT,
    tier TEXT,
    id_method TEXT,
    rules_version INTEGER NOT NULL,
    currency TEXT NOT NULL,
    subtotal_list INTEGER NOT NULL,
    member_discount INTEGER NOT NULL,
    subtotal INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    points_discount INTEGER NOT NULL,
    total INTEGER NOT NULL,
    points_earned INTEGER NOT NULL,
    tender TEXT NOT NULL,
    staff_id TEXT,
    reason TEXT
) WITHOUT ROWID;
CREATE INDEX sales_date ON sales (business_date);
CREATE INDEX sales_ref ON sales (ref_sale_id) WHERE ref_sale_id IS NOT NULL;

CREATE TABLE sale_lines (
    sale_id TEXT NOT NULL REFERENCES sales (sale_id),
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    list_unit INTEGER NOT NULL,
    unit_price INTEGER NOT NULL,
    source TEXT NOT NULL,
    offer_id TEXT,
    stacked_offer_id TEXT,
    PRIMARY KEY (sale_id, line_no)
) WITHOUT ROWID;

CREATE TABLE points_ledger (
    entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_no TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('earn', 'redeem', 'adjust', 'expire')),
    points INTEGER NOT NULL,
    sale_id TEXT REFERENCES sales (sale_id),
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'confirmed'))
);
CREATE INDEX points_ledger_member ON points_ledger (member_no, state);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at TEXT
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE sync_cursors (
    stream TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE staff (
    staff_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('manager', 'technician')),
    pin_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite_utils.Database], None]


def _script(sql: str) -> Callable[[sqlite_utils.Database], None]:
    def apply(db: sqlite_utils.Database) -> None:
        # executescript() would COMMIT first; run statement by statement instead
        for statement in _statements(sql):
            db.execute(statement)

    return apply


def _statements(sql: str) -> list[str]:
    """The statements of a script, each whole: a ``;`` inside a trigger body or a quoted
    string does not end one (:func:`sqlite3.complete_statement` decides)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements, buffer = [], ""
    for piece in "\n".join(lines).split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip() != ";":
                statements.append(buffer.strip())
            buffer = ""
    return statements


_V2 = """
-- the change-log position at which the server applied this entry's sale (sync protocol v1)
ALTER TABLE points_ledger ADD COLUMN change_seq INTEGER;
-- outbox entries the server refused (conflict, rejected): kept aside, never retried
ALTER TABLE outbox ADD COLUMN refused_at TEXT;
"""

_V3 = """
ALTER TABLE offers ADD COLUMN texts TEXT NOT NULL DEFAULT '{}';
"""

_V4 = """
-- ledger entries of sales the server refused: 'refused', no longer counted (a table
-- rebuild: SQLite cannot change a CHECK constraint in place)
CREATE TABLE points_ledger_v4 (
    entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_no TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('earn', 'redeem', 'adjust', 'expire')),
    points INTEGER NOT NULL,
    sale_id TEXT REFERENCES sales (sale_id),
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'confirmed', 'refused')),
    change_seq INTEGER
);
INSERT INTO points_ledger_v4 (entry_id, member_no, kind, points, sale_id, created_at, state,
    change_seq)
SELECT entry_id, member_no, kind, points, sale_id, created_at, state, change_seq
FROM points_ledger;
DROP TABLE points_ledger;
ALTER TABLE points_ledger_v4 RENAME TO points_ledger;
CREATE INDEX points_ledger_member ON points_ledger (member_no, state);
UPDATE points_ledger SET state = 'refused'
WHERE state = 'pending'
  AND sale_id IN (SELECT idempotency_key FROM outbox WHERE refused_at IS NOT NULL);
"""

_V5 = """
-- sales the club stored but whose points it holds for review (sync answer 'held'): the
-- outbox entry is sent, 'held' says why; its ledger entries 'held', not counted (a table
-- rebuild: SQLite cannot change a CHECK constraint in place)
ALTER TABLE outbox ADD COLUMN held TEXT;
CREATE INDEX outbox_held ON outbox (seq) WHERE held IS NOT NULL;
CREATE TABLE points_ledger_v5 (
    entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_no TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('earn', 'redeem', 'adjust', 'expire')),
    points INTEGER NOT NULL,
    sale_id TEXT REFERENCES sales (sale_id),
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'confirmed', 'refused', 'held')),
    change_seq INTEGER
);
INSERT INTO points_ledger_v5 (entry_id, member_no, kind, points, sale_id, created_at, state,
    change_seq)
SELECT entry_id, member_no, kind, points, sale_id, created_at, state, change_seq
FROM points_ledger;
DROP TABLE points_ledger;
ALTER TABLE points_ledger_v5 RENAME TO points_ledger;
CREATE INDEX points_ledger_member ON points_ledger (member_no, state);
-- a program of version 4 recorded a 'held' answer as refused, with 'held: <why>' as its
-- error: the club stored those sales, so they are sent and held
UPDATE points_ledger SET state = 'held'
WHERE state = 'refused'
  AND sale_id IN (SELECT idempotency_key FROM outbox
                  WHERE refused_at IS NOT NULL AND last_error LIKE 'held: %');
UPDATE outbox SET sent_at = refused_at, held = substr(last_error, 7), refused_at = NULL
WHERE refused_at IS NOT NULL AND last_error LIKE 'held: %';
"""

_V6 = """
-- staff may be cashiers (a table rebuild to change the role CHECK); PIN lockouts move to
-- pin_lockouts, one row per scope (terminal.pins)
CREATE TABLE staff_v6 (
    staff_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('cashier', 'manager', 'technician')),
    pin_hash TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO staff_v6 (staff_id, name, role, pin_hash)
SELECT staff_id, name, role, pin_hash FROM staff;
DROP TABLE staff;
ALTER TABLE staff_v6 RENAME TO staff;
CREATE TABLE pin_lockouts (
    scope TEXT PRIMARY KEY,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    lockouts INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- who rang the sale up, and its number on this lane for its business day
ALTER TABLE sales ADD COLUMN cashier_id TEXT;
ALTER TABLE sales ADD COLUMN sale_no INTEGER;
CREATE UNIQUE INDEX sales_day_no ON sales (business_date, sale_no) WHERE sale_no IS NOT NULL;
CREATE INDEX sales_cashier ON sales (cashier_id, business_date);

-- how each sale was paid, in the order taken (clubcore.tender)
CREATE TABLE sale_payments (
    sale_id TEXT NOT NULL REFERENCES sales (sale_id),
    seq INTEGER NOT NULL,
    tender TEXT NOT NULL CHECK (tender IN ('cash', 'card')),
    amount INTEGER NOT NULL,
    tendered INTEGER,
    reference TEXT,
    PRIMARY KEY (sale_id, seq)
) WITHOUT ROWID;

-- a cashier's shift on this lane: opened at sign-in, closed at sign-out; at most one open
CREATE TABLE shifts (
    shift_id INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id TEXT NOT NULL REFERENCES staff (staff_id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    opening_float INTEGER NOT NULL DEFAULT 0 CHECK (opening_float >= 0)
);
CREATE UNIQUE INDEX shifts_one_open ON shifts (ended_at IS NULL) WHERE ended_at IS NULL;

-- closing the day: the cash counted against what the records expect (terminal.closing)
CREATE TABLE day_closings (
    closing_id TEXT PRIMARY KEY,
    business_date TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    staff_id TEXT,
    expected_cash INTEGER NOT NULL,
    counted_cash INTEGER NOT NULL,
    report TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX day_closings_date ON day_closings (business_date);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _script(_V1)),
    Migration(2, "ledger change_seq, refused outbox entries", _script(_V2)),
    Migration(3, "offer translations", _script(_V3)),
    Migration(4, "refused ledger entries", _script(_V4)),
    Migration(5, "held sales", _script(_V5)),
    Migration(6, "cashiers, shifts, sale numbers, payments, day closings", _script(_V6)),
)


def schema_version(db: sqlite_utils.Database) -> int:
    """The newest applied migration, 0 for an empty database."""
    if not db["schema_migrations"].exists():
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite_utils.Database) -> list[int]:
    """Apply every pending migration, each in its own transaction.

    Returns:
        the versions applied now (empty when up to date).

    Raises:
        MigrationError: a step failed (it is rolled back), or the database is
            newer than this program.
    """
    with db.atomic():
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    current = schema_version(db)
    newest = MIGRATIONS[-1].version
    if current > newest:
        raise MigrationError(
            f"the database is at schema version {current}, newer than this program ({newest})"
        )
    applied = []
    for step in MIGRATIONS:
        if step.version <= current:
            continue
        try:
            with db.atomic():
                step.apply(db)
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [step.version, step.name, datetime.now(UTC).isoformat()],
                )
        except sqlite3.DatabaseError as exc:
            raise MigrationError(f"migration {step.version} ({step.name}) failed: {exc}") from exc
        applied.append(step.version)
    return applied

"""A sale is known by its terminal and its id: ``sales`` keyed by (sale_id, terminal_id).

A sale id is the idempotency key of its own terminal only, so a lane cannot
squat another lane's sale ids (``club_server.sales``). The primary key of
``sales`` becomes (``sale_id``, ``terminal_id``); ``sale_id`` stays its first
column, so lookups by id alone still use it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import warnings

from alembic import op
from sqlalchemy.exc import SAWarning

revision = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE sales DROP CONSTRAINT sales_pkey")
        op.execute("ALTER TABLE sales ADD CONSTRAINT sales_pkey PRIMARY KEY (sale_id, terminal_id)")
        return
    # SQLite cannot change a primary key in place: the table is copied (indexes kept);
    # SQLAlchemy warns that the copy's key differs from the reflected one, which is the point
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_sales'", SAWarning)
        with op.batch_alter_table("sales", recreate="always") as batch:
            batch.create_primary_key("sales_pkey", ["sale_id", "terminal_id"])


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

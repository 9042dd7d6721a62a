"""Sale references and the sale checks' indexes (the old runner's step 4).

``sales.ref_sale_id`` is what a void or refund reverses; it is filled in for
the returns already stored from their bodies (``payload``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json

from alembic import op
from sqlalchemy import Column, Text, column, select, table

from club_server.alembic.legacy import record_step

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

_sales = table(
    "sales", column("sale_id", Text), column("kind", Text), column("payload", Text),
    column("ref_sale_id", Text),
)  # fmt: skip


def upgrade() -> None:
    op.add_column("sales", Column("ref_sale_id", Text))
    bind = op.get_bind()
    returns = bind.execute(
        select(_sales.c.sale_id, _sales.c.payload).where(_sales.c.kind.in_(["void", "refund"]))
    ).all()
    for sale_id, payload in returns:
        ref = json.loads(payload).get("ref_sale_id")
        bind.execute(_sales.update().where(_sales.c.sale_id == sale_id).values(ref_sale_id=ref))
    op.create_index("sales_member_day", "sales", ["member_no", "business_date"])
    op.create_index("sales_ref", "sales", ["ref_sale_id"])
    record_step(4, "sale references and the sale checks' indexes")


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

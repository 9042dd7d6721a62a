"""Offer translations: offers.texts, a JSON object (the old runner's step 3).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Text

from club_server.alembic.legacy import record_step

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("offers", Column("texts", Text, nullable=False, server_default="{}"))
    record_step(3, "offer translations")


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

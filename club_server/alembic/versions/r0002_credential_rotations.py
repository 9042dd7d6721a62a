"""Pending terminal credential rotations (the old runner's step 2).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Text

from club_server.alembic.legacy import record_step

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terminal_credential_rotations",
        Column("terminal_id", Text, primary_key=True),
        Column("old_hash", Text, nullable=False),
        Column("new_hash", Text, nullable=False),
        Column("new_secret_sealed", Text, nullable=False),
        Column("created_at", Text, nullable=False),
    )
    record_step(2, "pending terminal credential rotations")


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

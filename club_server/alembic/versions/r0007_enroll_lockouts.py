"""Refused enrollment codes by client address, and lockouts (``club_server.limits``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Integer, Text

revision = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enroll_lockouts",
        Column("address", Text, primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("window_started_at", Text, nullable=False),
        Column("last_failure_at", Text, nullable=False),
        Column("locked_until", Text),
    )


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

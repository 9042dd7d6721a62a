"""Moved to Alembic: the old runner's record gets a last row, version 5.

A program from before Alembic reads version 5 as newer than itself and
refuses the database (see :mod:`club_server.alembic.legacy`). No schema change.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from club_server.alembic.legacy import record_step

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    record_step(5, "moved to Alembic (older programs refuse this database)")


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

"""Trusting no lane: published rule sets, points in suspense, held sales, flag bodies.

``rule_sets`` keeps every rule set the club published (by ``rules_version``)
so that a pushed sale is re-priced with the rules it names; the current one
of an upgraded database is written at the first push after the upgrade
(:func:`club_server.rulesets.snapshots`). ``points_suspense`` holds points
that are not the member's yet (unknown member, held sale); ``sales.held``
says why a sale's points were held; ``flags.payload`` keeps a refused body.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Integer, Text

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

_Serial = BigInteger().with_variant(Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("sales", Column("held", Text))
    op.add_column("flags", Column("payload", Text))
    op.create_index("flags_terminal", "flags", ["terminal_id", "resolved_at"])
    op.create_table(
        "rule_sets",
        Column("rules_version", BigInteger, primary_key=True, autoincrement=False),
        Column("digest", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", Text, nullable=False),
    )
    op.create_table(
        "points_suspense",
        Column("entry_id", _Serial, primary_key=True, autoincrement=True),
        Column("member_no", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("points", BigInteger, nullable=False),
        Column("sale_id", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        Column("resolved_at", Text),
        Column("resolution", Text),
    )
    op.create_index("points_suspense_member", "points_suspense", ["member_no"])


def downgrade() -> None:
    raise NotImplementedError("revisions are forward only: restore the backup instead")

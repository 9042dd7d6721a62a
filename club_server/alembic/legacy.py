"""The runner used before Alembic, as far as the revisions need it.

That runner recorded its steps 1 to 4 in ``schema_migrations``. Revisions
0001 to 0004 are those steps, and each still adds its row there, so a fresh
database and one upgraded from an old version hold the same rows; 0005 adds a
last row, version 5, which an older program reads as "newer than me" and
refuses the database instead of writing into a schema it does not know. The
table is kept for that reason (and as history); nothing else reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op
from sqlalchemy import Integer, Text, column, table

__all__ = ["LEGACY_REVISIONS", "LEGACY_TABLE", "record_step"]

LEGACY_TABLE = "schema_migrations"
#: the old runner's version -> the Alembic revision of the same schema
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003", 4: "0004"}

_steps = table(
    LEGACY_TABLE, column("version", Integer), column("name", Text), column("applied_at", Text)
)


def record_step(version: int, name: str) -> None:
    """Add the old runner's row for step ``version`` (inside a running revision)."""
    now = datetime.now(UTC).isoformat()
    op.bulk_insert(_steps, [{"version": version, "name": name, "applied_at": now}])

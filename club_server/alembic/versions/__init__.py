"""Alembic revisions of the club server's schema, one file each (Alembic skips this file)."""

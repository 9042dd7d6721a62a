"""The reference club server: members, cards, keys, terminals, sales, points and reports.

It implements the server side of sync protocol v1 (``docs/sync-protocol.md``)
over SQLite (the default, one file) or PostgreSQL. Layers:

- :mod:`club_server.db`, :mod:`~club_server.schema`, :mod:`~club_server.migrations`
  (Alembic, with its revisions in ``club_server/alembic/``): the database.
- services, pure functions over a SQLAlchemy connection: terminals, snapshot,
  changes, sales, reports, members, cards, keys, demo, flags.
- :mod:`club_server.app` and :mod:`~club_server.routes`: the HTTP API (FastAPI).
- :mod:`club_server.cli`: the ``club-server`` command.

The server imports the shared domain core (``clubcore``), never ``terminal``.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"

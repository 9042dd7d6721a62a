"""Alembic's environment for the club server: run on the connection the caller passes.

:func:`club_server.migrations.alembic_config` puts an open connection, inside
the caller's write transaction (and, on PostgreSQL, holding the writers'
advisory lock), in ``config.attributes["connection"]``; every revision runs
in that one transaction. Offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from club_server.schema import metadata


def run() -> None:
    """Run the revisions Alembic asks for on the caller's connection.

    Raises:
        RuntimeError: offline mode, or no connection was passed.
    """
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or not isinstance(connection, Connection):
        raise RuntimeError("run the club server's migrations through club_server.migrations")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()

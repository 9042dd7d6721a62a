"""The club server's Alembic environment: ``env.py`` and the revisions in ``versions/``.

Run through :mod:`club_server.migrations` (``open_database``, ``club-server db
upgrade``), which configures Alembic in code from the database URL: there is
no ``alembic.ini``. Revisions are forward only (a bad upgrade is undone by
restoring the backup), and the ids are numbers in order: ``0001``, ``0002`` ...

Revisions 0001 to 0004 are the steps of the runner used before Alembic, with
the same numbers; 0005 marks the move (see :mod:`club_server.alembic.legacy`).
"""

"""``python -m terminal`` runs the ``club-terminal`` command line."""

from terminal.cli import main

main()

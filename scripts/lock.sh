#!/usr/bin/env bash
# Regenerate the lock files in requirements/ from pyproject.toml (pip-tools), with
# the sha256 of every file PyPI has for each pinned version, so that
# `pip install --require-hashes` installs the exact same bits on every machine:
#   requirements/kiosk.txt   the terminal and its touchscreen app (deploy/install-terminal.sh)
#   requirements/server.txt  the club server (docs/operator-guide.md)
#   requirements/dev.txt     everything: app, server, tests, linters (scripts/setup.sh)
#   requirements/build.txt   setuptools and wheel, to build this project without fetching them
# Run it after changing a dependency in pyproject.toml, and commit the result;
# tests/deploy/test_lock.py fails while pyproject.toml and the locks disagree.
# Extra arguments go to pip-compile (e.g. --upgrade, --upgrade-package kivy).
set -euo pipefail
cd "$(dirname "$0")/.."
export CUSTOM_COMPILE_COMMAND="scripts/lock.sh"
compile() {
  .venv/bin/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host "$@"
}
compile --extra ui -o requirements/kiosk.txt "${@:1}" pyproject.toml
compile --extra server -o requirements/server.txt "${@:1}" pyproject.toml
compile --all-extras -o requirements/dev.txt "${@:1}" pyproject.toml
compile -o requirements/build.txt "${@:1}" requirements/build.in

#!/usr/bin/env bash
# The whole test suite: set up what is needed, then lint, type-check and test.
# Extra arguments go to pytest (e.g. scripts/test.sh -k pricing).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy" >&2
.venv/bin/mypy
echo "== pytest" >&2
if [ $# -gt 0 ]; then exec .venv/bin/pytest "$@"; fi
.venv/bin/pytest
# The suite must pass whatever the date: tests use injected clocks, never the
# real one mixed with fixed dates. Run the date-heavy parts again with the
# process clock 400 days ahead to keep that true.
echo "== pytest, the clock 400 days ahead (club server, sync, checkout)" >&2
exec scripts/moved-clock.sh +400d .venv/bin/pytest -p no:cacheprovider \
  tests/club_server tests/sync tests/terminal/test_checkout.py

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
exec .venv/bin/pytest "$@"

#!/usr/bin/env bash
# The demo terminal: set up what is needed, then run the scripted demo sale
# against a demo store kept in ./data (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/club-terminal --data-dir ./data demo "$@"

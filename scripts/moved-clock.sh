#!/usr/bin/env bash
# Run a command with the process clock moved (libfaketime), e.g.
#   scripts/moved-clock.sh +400d .venv/bin/pytest tests/club_server
#   scripts/moved-clock.sh '@2026-01-01 00:00:00' .venv/bin/pytest
# The first argument is libfaketime's FAKETIME: an offset (+400d, -2h) or a
# start time (@YYYY-MM-DD hh:mm:ss) from which the clock runs on.
# Python's timed lock waits (sem_clockwait) are not wrapped by libfaketime
# 0.9.10; tests/faketime/sem_clockwait.c, built here into .venv, wraps them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then echo "usage: $0 FAKETIME COMMAND [ARG...]" >&2; exit 2; fi
offset=$1; shift
lib=""
for candidate in /usr/lib/*/faketime/libfaketime.so.1; do [ -f "$candidate" ] && lib=$candidate; done
if [ -z "$lib" ]; then echo "libfaketime is missing: run scripts/setup.sh" >&2; exit 1; fi
shim=.venv/faketime/sem_clockwait.so
source=tests/faketime/sem_clockwait.c
if [ ! -f "$shim" ] || [ "$source" -nt "$shim" ]; then
  mkdir -p "$(dirname "$shim")"
  cc -O2 -shared -fPIC -o "$shim" "$source"
fi
LD_PRELOAD="$PWD/$shim $lib" FAKETIME="$offset" exec "$@"

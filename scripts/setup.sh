#!/usr/bin/env bash
# Set up everything Club Terminal needs on a Debian-like machine, idempotently:
# system packages (apt-get), a virtual environment in .venv, and the project
# with its dependencies, the exact versions of the lock file requirements/dev.txt
# (pip --require-hashes). Safe to run again; it skips what is done.
#
# Environment: PYTHON (interpreter for the venv, default python3),
#              CLUB_SKIP_APT=1 to skip system packages.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv python3-dev build-essential   # the venv and native wheels
  swig libpcsclite-dev                       # building pyscard
  pcscd pcsc-tools vsmartcard-vpcd           # PC/SC service, tools, virtual reader for tests
  libusb-1.0-0                               # nfcpy's USB readers
  fonts-dejavu-core                          # Latin + Arabic-script font for the UI
  xvfb xauth                                 # a virtual display for UI tests and screenshots
  libgl1 libgl1-mesa-dri libegl1 libmtdev1   # OpenGL (software rendering works) and touch input for Kivy
  procps                                     # pgrep/pkill used by tests
)
# development only (not installed on terminals by deploy/install-terminal.sh)
DEV_PACKAGES=(
  shellcheck                                 # the deploy scripts' lint, run by the tests
  libfaketime faketime                       # a moved clock: the doctor's clock-skew test, the suite 400 days ahead
  nginx                                      # the loopback test of several server processes behind nginx
)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

install_system_packages() {
  if [ "${CLUB_SKIP_APT:-0}" = 1 ]; then log "skipping system packages (CLUB_SKIP_APT=1)"; return; fi
  if ! command -v apt-get >/dev/null; then
    log "no apt-get here: install these yourself: ${APT_PACKAGES[*]} ${DEV_PACKAGES[*]}"; return
  fi
  local missing=()
  for pkg in "${APT_PACKAGES[@]}" "${DEV_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "system packages present"; return; fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  log "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

make_venv() {
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    log "Python 3.11 or newer is needed; $python is $("$python" -V 2>&1)"; exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $("$python" -V)"
    "$python" -m venv .venv
  fi
}

# The exact versions and sha256 of requirements/dev.txt (every extra: app, server,
# tests), then the project itself, editable, without resolving anything again.
# scripts/lock.sh regenerates the lock files after a change to pyproject.toml.
install_project() {
  local stamp=.venv/.club-installed want
  want=$(cat pyproject.toml requirements/build.txt requirements/dev.txt | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then log "python packages up to date"; return; fi
  log "installing the locked dependencies (requirements/dev.txt, hashes checked) into .venv"
  .venv/bin/python -m pip install -q --require-hashes --no-deps -r requirements/build.txt
  .venv/bin/python -m pip install -q --require-hashes -r requirements/dev.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
}

install_system_packages
make_venv
install_project
log "ready"

#!/usr/bin/env bash
# Turn a Debian / Raspberry Pi OS machine into a Club Terminal kiosk.
#
# Idempotent: every step looks first and acts only when something differs, so
# a second run prints no "[change]" line and ends with "0 changes".
# Output, one line per step:
#   [change] ... done now          [ok] ... already as it should be
#   [would]  ... (--dry-run)       [skip] ... left out, and why
#
# Usage: sudo deploy/install-terminal.sh [options]
#   --source DIR|WHEEL  the project to pip-install into the venv
#                       (default: the checkout this script is in)
#   --root DIR          install into the root filesystem at DIR instead of /
#   --prefix DIR        the same as --root
#   --dry-run           print every action it would take; change nothing
#   --skip-packages     do not install system packages (apt-get)
#   --skip-user         do not create the clubterm user or change groups
#   --skip-venv         do not create the venv / pip-install the app
#   --skip-services     do not enable units, reload udev or unload modules
#   -h, --help          this help
#
# What it does (see docs/technician-guide.md):
#   system packages (scripts/setup.sh's list, plus cage, xwayland, logrotate);
#   pcscd.socket enabled; system user clubterm (groups plugdev, input, video,
#   render, those that exist); the app in /opt/club-terminal/venv, with the
#   exact dependencies of requirements/kiosk.txt (no server stack); the data dir
#   /var/lib/club-terminal (0700 clubterm); Kivy's home
#   /var/lib/club-terminal-kivy with the kiosk config.ini; /var/log/club-terminal;
#   systemd units club-terminal.service (cage kiosk on tty1) and
#   club-terminal-sync.service; PAM service for the kiosk session; udev rule
#   for nfcpy readers; modprobe blacklist for pn533_usb/port100; logrotate;
#   /usr/local/bin/club-terminal (runs as clubterm on the data dir).
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

APP_USER=clubterm
APP_GROUPS=(plugdev input video render)
OPT_DIR=/opt/club-terminal
VENV_DIR=$OPT_DIR/venv
DATA_DIR=/var/lib/club-terminal
KIVY_DIR=/var/lib/club-terminal-kivy
LOG_DIR=/var/log/club-terminal
UNITS=(club-terminal.service club-terminal-sync.service)

# The same list as scripts/setup.sh (tests/deploy checks it stays a superset),
# plus what the kiosk needs on a bare Raspberry Pi OS Lite / Debian.
APT_PACKAGES=(
  python3-venv python3-dev build-essential
  swig libpcsclite-dev
  pcscd pcsc-tools vsmartcard-vpcd
  libusb-1.0-0
  fonts-dejavu-core
  xvfb xauth
  libgl1 libgl1-mesa-dri libegl1 libmtdev1
  procps
  cage xwayland logrotate
)

ROOT=/
SOURCE=
DRY_RUN=0
SKIP_PACKAGES=0
SKIP_USER=0
SKIP_VENV=0
SKIP_SERVICES=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { printf 'install-terminal: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --source) [ $# -ge 2 ] || die "--source needs a directory or a wheel"; SOURCE=$2; shift 2 ;;
    --source=*) SOURCE=${1#*=}; shift ;;
    --root|--prefix) [ $# -ge 2 ] || die "$1 needs a directory"; ROOT=$2; shift 2 ;;
    --root=*|--prefix=*) ROOT=${1#*=}; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --skip-packages) SKIP_PACKAGES=1; shift ;;
    --skip-user) SKIP_USER=1; shift ;;
    --skip-venv) SKIP_VENV=1; shift ;;
    --skip-services) SKIP_SERVICES=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

[ -n "$SOURCE" ] || SOURCE="$(cd "$DEPLOY_DIR/.." && pwd)"
if [ "$ROOT" != / ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
  ROOT="$(cd "$ROOT" && pwd)"
fi
if [ "$DRY_RUN" = 0 ] && [ "$ROOT" = / ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo), or look first with --dry-run"
fi

CHANGES=0
# r PATH: PATH inside the target root.
r() { if [ "$ROOT" = / ]; then printf '%s' "$1"; else printf '%s%s' "$ROOT" "$1"; fi; }
ok() { printf '[ok] %s\n' "$*"; }
skip() { printf '[skip] %s\n' "$*"; }
# act DESCRIPTION COMMAND...: do (or, dry, describe) one change.
act() {
  local what=$1; shift
  CHANGES=$((CHANGES + 1))
  if [ "$DRY_RUN" = 1 ]; then printf '[would] %s\n' "$what"; return 0; fi
  printf '[change] %s\n' "$what"
  "$@"
}

# --- the user ---------------------------------------------------------------
user_exists() { grep -q "^$1:" "$(r /etc/passwd)" 2>/dev/null; }
group_exists() { grep -q "^$1:" "$(r /etc/group)" 2>/dev/null; }
user_in_group() { grep -Eq "^$2:[^:]*:[^:]*:(.*,)?$1(,.*)?$" "$(r /etc/group)" 2>/dev/null; }
root_opt() { if [ "$ROOT" != / ]; then printf -- '--root=%s' "$ROOT"; fi; }

ensure_user() {
  if [ "$SKIP_USER" = 1 ]; then skip "system user $APP_USER (--skip-user)"; return; fi
  local ro; ro=$(root_opt)
  if user_exists "$APP_USER"; then
    ok "system user $APP_USER"
  else
    # shellcheck disable=SC2086  # $ro is empty or one word
    act "create system user $APP_USER (home $DATA_DIR, no login shell)" \
      useradd $ro --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "Club Terminal" "$APP_USER"
  fi
  local g
  for g in "${APP_GROUPS[@]}"; do
    if ! group_exists "$g"; then skip "group $g does not exist here"; continue; fi
    if user_in_group "$APP_USER" "$g"; then ok "$APP_USER in group $g"; continue; fi
    # shellcheck disable=SC2086
    act "add $APP_USER to group $g" usermod $ro --append --groups "$g" "$APP_USER"
  done
}

# owner_spec: "clubterm:clubterm" when files can be given to the user, else "".
owner_spec() {
  if user_exists "$APP_USER"; then
    if [ "$ROOT" = / ]; then printf '%s:%s' "$APP_USER" "$APP_USER"; return; fi
    # another root: numeric ids from its own /etc/passwd, not the host's
    awk -F: -v u="$APP_USER" '$1 == u { printf "%s:%s", $3, $4 }' "$(r /etc/passwd)"
  elif [ "$DRY_RUN" = 1 ] && [ "$SKIP_USER" = 0 ]; then
    printf '%s:%s' "$APP_USER" "$APP_USER"   # it would have been created
  fi
}

# --- files and directories --------------------------------------------------
# ensure_dir PATH MODE OWNER(user:group or "" for root's/unchanged)
ensure_dir() {
  local path=$1 mode=$2 owner=$3 p; p=$(r "$path")
  if [ ! -d "$p" ]; then
    act "create directory $path (mode $mode${owner:+, owner $owner})" \
      install -d -m "$mode" "$p"
    if [ -n "$owner" ] && [ "$DRY_RUN" = 0 ]; then chown "$owner" "$p"; fi
    return
  fi
  local have before=$CHANGES; have=$(stat -c %a "$p")
  if [ "$have" != "${mode#0}" ]; then act "chmod $mode $path (was $have)" chmod "$mode" "$p"; fi
  if [ -n "$owner" ]; then ensure_owner "$path" "$owner"; fi
  if [ "$CHANGES" = "$before" ]; then ok "directory $path ($mode${owner:+, $owner})"; fi
}

ensure_owner() {
  local path=$1 owner=$2 p have want; p=$(r "$path")
  have=$(stat -c %U:%G "$p"); want=$owner
  if [[ $owner =~ ^[0-9]+:[0-9]+$ ]]; then have=$(stat -c %u:%g "$p"); fi
  if [ "$have" != "$want" ]; then act "chown $owner $path (was $have)" chown "$owner" "$p"; fi
}

# ensure_file SRC DEST MODE [OWNER]: DEST has SRC's content and MODE.
ensure_file() {
  local src=$1 dest=$2 mode=$3 owner=${4:-} d; d=$(r "$dest")
  [ -f "$src" ] || die "missing file in the deploy kit: $src"
  if [ ! -f "$d" ]; then
    act "install $dest (mode $mode)" install -D -m "$mode" "$src" "$d"
    if [ -n "$owner" ] && [ "$DRY_RUN" = 0 ]; then chown "$owner" "$d"; fi
    CHANGED_FILES+=("$dest")
    return
  fi
  if ! cmp -s "$src" "$d"; then
    act "update $dest (content differs)" install -m "$mode" "$src" "$d"
    CHANGED_FILES+=("$dest")
  fi
  local have before=$CHANGES; have=$(stat -c %a "$d")
  if [ "$have" != "${mode#0}" ]; then act "chmod $mode $dest (was $have)" chmod "$mode" "$d"; fi
  if [ -n "$owner" ]; then ensure_owner "$dest" "$owner"; fi
  if [ "$CHANGES" = "$before" ]; then ok "$dest"; fi
}
CHANGED_FILES=()
changed() { local f; for f in "${CHANGED_FILES[@]}"; do [ "$f" = "$1" ] && return 0; done; return 1; }

# --- system packages --------------------------------------------------------
ensure_packages() {
  if [ "$SKIP_PACKAGES" = 1 ]; then skip "system packages (--skip-packages)"; return; fi
  local missing=() pkg admindir=()
  [ "$ROOT" = / ] || admindir=(--admindir="$(r /var/lib/dpkg)")
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query "${admindir[@]}" -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then ok "system packages (${#APT_PACKAGES[@]})"; return; fi
  local run=()
  if [ "$ROOT" != / ]; then
    [ -x "$(r /usr/bin/apt-get)" ] || [ "$DRY_RUN" = 1 ] \
      || die "no apt-get in $ROOT: pass --skip-packages, or debootstrap the root first"
    run=(chroot "$ROOT")
  fi
  act "apt-get update" "${run[@]}" apt-get update -qq
  act "apt-get install ${missing[*]}" \
    env DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# --- the app in a venv --------------------------------------------------------
source_digest() {
  if [ -f "$SOURCE" ]; then sha256sum "$SOURCE" | cut -d' ' -f1; return; fi
  (cd "$SOURCE" && find . -path ./.venv -prune -o -path ./.git -prune -o -path ./tests -prune \
      -o -type f \( -name '*.py' -o -name pyproject.toml -o -name '*.json' -o -name kiosk.txt \) -print \
    | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1)
}

ensure_venv() {
  if [ "$SKIP_VENV" = 1 ]; then skip "the app's venv $VENV_DIR (--skip-venv)"; return; fi
  [ -e "$SOURCE" ] || die "--source $SOURCE: no such directory or wheel"
  if [ "$ROOT" != / ] && [ "$DRY_RUN" = 0 ]; then
    die "a venv cannot be built for another root from here (its paths would point into $ROOT): pass --skip-venv"
  fi
  local want stamp=$OPT_DIR/.installed-source
  want=$(source_digest)
  if [ ! -x "$(r "$VENV_DIR/bin/python")" ]; then
    act "create venv $VENV_DIR" python3 -m venv "$VENV_DIR"
  fi
  if [ -f "$(r "$stamp")" ] && [ "$(cat "$(r "$stamp")")" = "$want" ]; then
    ok "app installed in $VENV_DIR from $SOURCE"; return
  fi
  act "pip install ${SOURCE}[ui] into $VENV_DIR (the lock requirements/kiosk.txt, hashes checked)" pip_install
  if [ "$DRY_RUN" = 0 ]; then printf '%s\n' "$want" > "$(r "$stamp")"; fi
}
# The kiosk's exact dependencies (requirements/kiosk.txt: the app and its UI, no
# server stack; every file's sha256 checked), then the app itself without resolving
# anything again. A wheel given as --source brings no lock: its own dependencies
# are resolved by pip (the checkout's lock is used when there is one).
pip_install() {
  local lock="$DEPLOY_DIR/../requirements"
  if [ -d "$SOURCE" ] && [ -f "$SOURCE/requirements/kiosk.txt" ]; then lock="$SOURCE/requirements"; fi
  if [ -f "$lock/kiosk.txt" ]; then
    "$VENV_DIR/bin/python" -m pip install -q --require-hashes --no-deps -r "$lock/build.txt"
    "$VENV_DIR/bin/python" -m pip install -q --require-hashes -r "$lock/kiosk.txt"
    "$VENV_DIR/bin/python" -m pip install -q --no-deps --no-build-isolation "$SOURCE"
  else
    "$VENV_DIR/bin/python" -m pip install -q "${SOURCE}[ui]"
  fi
}

# --- services -----------------------------------------------------------------
systemctl_r() { if [ "$ROOT" = / ]; then systemctl "$@"; else systemctl --root="$ROOT" "$@"; fi; }
unit_present() {
  local d
  for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
    [ -e "$(r "$d/$1")" ] && return 0
  done
  return 1
}
ensure_enabled() {
  local unit=$1 now=${2:-}
  if ! unit_present "$unit" && { [ "$DRY_RUN" = 0 ] || [ "$SKIP_PACKAGES" = 1 ]; }; then
    skip "enable $unit: not installed in $ROOT"; return
  fi
  if systemctl_r is-enabled --quiet "$unit" 2>/dev/null; then ok "$unit enabled"; return; fi
  if [ "$now" = now ] && [ "$ROOT" = / ]; then
    act "enable and start $unit" systemctl enable --now --quiet "$unit"
  else
    act "enable $unit" systemctl_r enable --quiet "$unit"
  fi
}

ensure_services() {
  if [ "$SKIP_SERVICES" = 1 ]; then skip "systemd, udev and kernel modules (--skip-services)"; return; fi
  if [ "$ROOT" = / ] && { changed /etc/systemd/system/club-terminal.service \
       || changed /etc/systemd/system/club-terminal-sync.service; }; then
    act "systemctl daemon-reload" systemctl daemon-reload
  fi
  ensure_enabled pcscd.socket now
  local unit
  for unit in "${UNITS[@]}"; do ensure_enabled "$unit"; done
  local target
  target=$(systemctl_r get-default 2>/dev/null || true)
  if [ "$target" = graphical.target ]; then ok "default target graphical.target (the kiosk starts at boot)"
  elif ! unit_present graphical.target && { [ "$DRY_RUN" = 0 ] || [ "$SKIP_PACKAGES" = 1 ]; }; then
    skip "default target graphical.target: not installed in $ROOT"
  else act "set the default target to graphical.target (was ${target:-unset})" systemctl_r set-default graphical.target
  fi
  if [ "$ROOT" != / ]; then skip "udev reload and module unload: not the running system"; return; fi
  if changed /etc/udev/rules.d/60-club-terminal-nfc.rules; then
    act "reload udev rules and re-trigger USB devices" reload_udev
  fi
  local mod
  for mod in port100 pn533_usb pn533 nfc; do
    if grep -q "^$mod " /proc/modules 2>/dev/null; then
      act "unload kernel module $mod (blacklisted)" modprobe -r "$mod"
    fi
  done
}
reload_udev() { udevadm control --reload-rules && udevadm trigger --subsystem-match=usb --action=change; }

# --- main -------------------------------------------------------------------
printf 'install-terminal: root %s, source %s%s\n' "$ROOT" "$SOURCE" "$( [ "$DRY_RUN" = 1 ] && printf ' (dry run: nothing is changed)')"

ensure_packages
ensure_user
OWNER=$(owner_spec)
if [ -z "$OWNER" ]; then skip "ownership $APP_USER:$APP_USER (no such user in $ROOT): directories stay root's"; fi

ensure_dir "$OPT_DIR" 0755 ""
ensure_venv
ensure_dir "$OPT_DIR/docs" 0755 ""
if [ -f "$SOURCE/docs/technician-guide.md" ]; then
  ensure_file "$SOURCE/docs/technician-guide.md" "$OPT_DIR/docs/technician-guide.md" 0644
fi
ensure_dir "$DATA_DIR" 0700 "$OWNER"
ensure_dir "$KIVY_DIR" 0755 "$OWNER"
ensure_file "$DEPLOY_DIR/kivy/config.ini" "$KIVY_DIR/config.ini" 0644 "$OWNER"
ensure_dir "$LOG_DIR" 0750 "$OWNER"

ensure_file "$DEPLOY_DIR/systemd/club-terminal.service" /etc/systemd/system/club-terminal.service 0644
ensure_file "$DEPLOY_DIR/systemd/club-terminal-sync.service" /etc/systemd/system/club-terminal-sync.service 0644
ensure_file "$DEPLOY_DIR/pam/club-terminal" /etc/pam.d/club-terminal 0644
ensure_file "$DEPLOY_DIR/udev/60-club-terminal-nfc.rules" /etc/udev/rules.d/60-club-terminal-nfc.rules 0644
ensure_file "$DEPLOY_DIR/modprobe/blacklist-club-terminal-nfc.conf" /etc/modprobe.d/blacklist-club-terminal-nfc.conf 0644
ensure_file "$DEPLOY_DIR/logrotate/club-terminal" /etc/logrotate.d/club-terminal 0644
ensure_file "$DEPLOY_DIR/bin/club-terminal" /usr/local/bin/club-terminal 0755

ensure_services

if [ "$DRY_RUN" = 1 ]; then
  printf 'install-terminal: %d changes would be made\n' "$CHANGES"
else
  printf 'install-terminal: %d changes\n' "$CHANGES"
  if [ "$CHANGES" -gt 0 ] && [ "$ROOT" = / ]; then
    printf 'next: sudo club-terminal provision --server URL --code CODE, then reboot (the kiosk starts on tty1)\n'
  fi
fi

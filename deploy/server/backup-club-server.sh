#!/usr/bin/env bash
# Back up the club server's PostgreSQL database with pg_dump (custom format,
# compressed) and delete dumps older than the retention period.
#
# Environment (from /etc/club-server/club-server.env):
#   CLUB_SERVER_DB         postgresql://... URL of the database (required)
#   CLUB_BACKUP_DIR        where dumps go (default /var/backups/club-server)
#   CLUB_BACKUP_KEEP_DAYS  keep dumps this many days (default 14)
# Options: --dry-run prints what it would do.
# Restore: pg_restore --clean --if-exists -d "$CLUB_SERVER_DB" FILE.dump
set -euo pipefail

dry_run=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "backup-club-server: unknown option: $arg" >&2; exit 2 ;;
  esac
done

db="${CLUB_SERVER_DB:?CLUB_SERVER_DB is not set (see /etc/club-server/club-server.env)}"
dir="${CLUB_BACKUP_DIR:-/var/backups/club-server}"
keep="${CLUB_BACKUP_KEEP_DAYS:-14}"
case "$keep" in ''|*[!0-9]*) echo "backup-club-server: CLUB_BACKUP_KEEP_DAYS must be a number of days, not '$keep'" >&2; exit 2 ;; esac
case "$db" in
  postgresql://*|postgres://*|postgresql+*://*) ;;
  *) echo "backup-club-server: CLUB_SERVER_DB is not a PostgreSQL URL; back up a SQLite file with: sqlite3 FILE '.backup DEST'" >&2; exit 2 ;;
esac
# pg_dump does not understand SQLAlchemy's driver suffix (postgresql+psycopg://).
db="postgresql://${db#*://}"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$dir/club-server-$stamp.dump"

if [ "$dry_run" = 1 ]; then
  echo "would: mkdir -p -m 0700 $dir"
  echo "would: pg_dump --format=custom --file=$out <CLUB_SERVER_DB>"
  echo "would: delete $dir/club-server-*.dump older than $keep days"
  exit 0
fi

umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
# Write to a temporary name first: a failed dump never looks like a backup.
pg_dump --format=custom --compress=6 --no-owner --file="$out.partial" "$db"
mv "$out.partial" "$out"
echo "backup-club-server: wrote $out ($(du -h "$out" | cut -f1))"

find "$dir" -maxdepth 1 -type f -name 'club-server-*.dump' -mtime "+$keep" -print -delete
find "$dir" -maxdepth 1 -type f -name 'club-server-*.dump.partial' -mmin +1440 -delete

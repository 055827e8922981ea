#!/usr/bin/env bash
# Back up the productops database: a pg_dump custom-format archive with a timestamped name.
#
#   DATABASE_URL=postgres://user@host:5432/productops scripts/backup.sh [BACKUP_DIR]
#
# BACKUP_DIR (argument or variable, default $VAR_DIR/backups, i.e. var/backups) receives
# productops-<database>-<UTC timestamp>.dump. With BACKUP_KEEP=N only the newest N dumps of
# that database are kept there (default 0: keep every dump). The dump is written under a
# .partial name and renamed once pg_dump succeeded and pg_restore can read its table of
# contents, so a failed run never leaves a file that looks like a backup. The last line printed
# is the dump's path (for scripts); figures go to stderr.
#
# The password can be in the URL, in PGPASSWORD, or in ~/.pgpass (then it is not visible in the
# process list). docs/operations.md, "Backups and restores", has the restore and the drill.
set -euo pipefail

if [ -z "${DATABASE_URL:-}" ]; then
  echo "backup.sh: set DATABASE_URL (postgres://user[:password]@host:port/database)" >&2
  exit 2
fi
case "$DATABASE_URL" in
  postgres://* | postgresql://*) ;;
  *) echo "backup.sh: DATABASE_URL is not a PostgreSQL URL; only PostgreSQL is backed up" >&2; exit 2 ;;
esac

backup_dir="${1:-${BACKUP_DIR:-${VAR_DIR:-var}/backups}}"
keep="${BACKUP_KEEP:-0}"
case "$keep" in *[!0-9]* | '') echo "backup.sh: BACKUP_KEEP must be a number" >&2; exit 2 ;; esac

url_path="${DATABASE_URL%%\?*}"
database="${url_path##*/}"
if ! [[ "$database" =~ ^[A-Za-z0-9_.-]+$ ]]; then
  echo "backup.sh: cannot read a database name from DATABASE_URL" >&2
  exit 2
fi

mkdir -p "$backup_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$backup_dir/productops-$database-$stamp.dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

started=$(date +%s.%N)
# Custom format: compressed, and pg_restore can restore it selectively or in parallel.
pg_dump --format=custom --dbname="$DATABASE_URL" --file="$partial"
# The archive's table of contents must be readable, or the dump is not kept.
pg_restore --list "$partial" >/dev/null
mv "$partial" "$target"
trap - EXIT
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
size=$(stat -c %s "$target")
echo "backup.sh: $database dumped in ${elapsed}s, $size bytes" >&2

if [ "$keep" -gt 0 ]; then
  # Newest first by the timestamp in the name; everything past the first $keep goes.
  mapfile -t old < <(find "$backup_dir" -maxdepth 1 -name "productops-$database-*.dump" -printf '%f\n' \
    | sort -r | tail -n +"$((keep + 1))")
  for name in "${old[@]}"; do
    rm -f -- "$backup_dir/$name"
    echo "backup.sh: removed $backup_dir/$name (BACKUP_KEEP=$keep)" >&2
  done
fi

echo "$target"

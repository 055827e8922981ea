#!/usr/bin/env bash
# Restore a scripts/backup.sh dump into a new or empty PostgreSQL database, then check that
# the code's migrations match it.
#
#   scripts/restore.sh [--create] DUMP [TARGET_DATABASE_URL]
#
# TARGET_DATABASE_URL defaults to DATABASE_URL. The target database must exist and hold no
# table (the restore refuses to mix a dump into live data), or be created with --create
# (through the server's "postgres" database, so the URL's user needs CREATEDB). The restore is
# one transaction: it lands whole or not at all. Ownership and grants are not restored
# (--no-owner --no-privileges): the target URL's user owns everything, whatever role the dump
# came from. Then ANALYZE (pg_restore brings no planner statistics) and
# `manage.py migrate --check`, which fails if this code has migrations the dump lacks: the dump
# is from an older version, so run `manage.py migrate` before starting the app on it. (Restore
# with the code version that made the dump, or a newer one, never an older one.) A final
# `migrate`, with nothing to apply, sets the role's timeouts for the new database.
set -euo pipefail
cd "$(dirname "$0")/.."

create=0
if [ "${1:-}" = "--create" ]; then
  create=1
  shift
fi
dump="${1:-}"
target="${2:-${DATABASE_URL:-}}"
if [ -z "$dump" ] || [ -z "$target" ]; then
  echo "usage: scripts/restore.sh [--create] DUMP [TARGET_DATABASE_URL] (default: \$DATABASE_URL)" >&2
  exit 2
fi
if [ ! -r "$dump" ]; then
  echo "restore.sh: cannot read $dump" >&2
  exit 2
fi
case "$target" in
  postgres://* | postgresql://*) ;;
  *) echo "restore.sh: the target is not a PostgreSQL URL" >&2; exit 2 ;;
esac
# Before anything is created: the file must be an archive pg_restore can read.
if ! pg_restore --list "$dump" >/dev/null; then
  echo "restore.sh: $dump is not a pg_dump custom-format archive" >&2
  exit 2
fi

url_path="${target%%\?*}"
database="${url_path##*/}"
query=""
[[ "$target" == *\?* ]] && query="?${target#*\?}"
server_url="${url_path%/*}/postgres$query"
if ! [[ "$database" =~ ^[A-Za-z0-9_]+$ ]]; then
  echo "restore.sh: the target database name must be letters, digits and _ ($database)" >&2
  exit 2
fi

exists=$(psql "$server_url" -XtAc "SELECT 1 FROM pg_database WHERE datname = '$database'")
if [ "$exists" != "1" ]; then
  if [ "$create" = 1 ]; then
    psql "$server_url" -Xq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$database\""
    echo "restore.sh: created database $database" >&2
  else
    echo "restore.sh: database $database does not exist (create it, or pass --create)" >&2
    exit 1
  fi
fi
tables=$(psql "$target" -XtAc \
  "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
if [ "$tables" != "0" ]; then
  echo "restore.sh: database $database already has $tables tables; restore into a new or empty one" >&2
  exit 1
fi

started=$(date +%s.%N)
pg_restore --dbname="$target" --no-owner --no-privileges --single-transaction --exit-on-error "$dump"
psql "$target" -Xq -v ON_ERROR_STOP=1 -c "ANALYZE"
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "restore.sh: $dump restored into $database in ${elapsed}s" >&2

python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python; fi
fi
if ! DATABASE_URL="$target" "$python" manage.py migrate --check; then
  echo "restore.sh: the dump lacks migrations of this code; run manage.py migrate on $database" >&2
  exit 1
fi
# Nothing to apply, but migrate's post_migrate hook sets the role's statement and lock timeouts
# in this database (productops/db/roles.py): pg_dump does not carry ALTER ROLE ... IN DATABASE.
DATABASE_URL="$target" "$python" manage.py migrate --noinput -v 0
echo "restore.sh: migrations match; $database is ready" >&2

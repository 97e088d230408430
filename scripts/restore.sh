#!/usr/bin/env bash
# Put a backup of scripts/backup.sh back into a database.
#
#   scripts/restore.sh DUMP postgres://user@host:port/database
#
# The target database must exist and be empty (a new one: `createdb -O portal portal_restored`):
# a restore never writes over a live portal. After it, run `manage.py migrate` (a dump of an older
# release is brought up to date) and compare `manage.py export_ledger` with the original's.
# Uploaded scans: untar the .media.tar.gz beside the dump into PORTAL_MEDIA_ROOT.
set -euo pipefail
dump=${1:?usage: $0 DUMP TARGET_DATABASE_URL}
target=${2:?usage: $0 DUMP TARGET_DATABASE_URL}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
tables=$("$PG_BIN/psql" -X -At -d "$target" -c "select count(*) from pg_tables where schemaname = 'public'")
if [ "$tables" != 0 ]; then
  echo "restore.sh: the target database has $tables tables; restore into a new, empty database" >&2
  exit 2
fi
"$PG_BIN/pg_restore" --no-owner --no-privileges --exit-on-error --dbname="$target" "$dump"
echo "restored $dump into ${target##*/}"

#!/usr/bin/env bash
# A backup of the portal: the database (pg_dump, custom format) and the uploaded scans.
#
#   DATABASE_URL=postgres://… PORTAL_MEDIA_ROOT=/var/lib/portal/media scripts/backup.sh DIR
#
# Writes DIR/portal-YYYYMMDD-HHMMSS.dump (and .media.tar.gz when the media directory exists),
# checks that pg_restore can read the dump's table of contents, and deletes backups older than
# PORTAL_BACKUP_KEEP_DAYS (default 14). Prints the dump's path. deploy/portal-backup.timer runs it
# every night; scripts/restore.sh puts a dump back.
set -euo pipefail
dir=${1:?usage: $0 DIR}
: "${DATABASE_URL:?DATABASE_URL (postgres://…) is required}"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
keep=${PORTAL_BACKUP_KEEP_DAYS:-14}
mkdir -p "$dir"
umask 077
stamp=$(date +%Y%m%d-%H%M%S)
dump="$dir/portal-$stamp.dump"
# pg_dump takes a consistent snapshot while the portal keeps running.
"$PG_BIN/pg_dump" --format=custom --no-owner --no-privileges --file="$dump.partial" "$DATABASE_URL"
"$PG_BIN/pg_restore" --list "$dump.partial" >/dev/null
mv "$dump.partial" "$dump"
if [ -n "${PORTAL_MEDIA_ROOT:-}" ] && [ -d "$PORTAL_MEDIA_ROOT" ]; then
  tar -czf "$dir/portal-$stamp.media.tar.gz" -C "$PORTAL_MEDIA_ROOT" .
fi
find "$dir" -maxdepth 1 -name 'portal-*' -type f -mtime +"$keep" -delete
echo "$dump"

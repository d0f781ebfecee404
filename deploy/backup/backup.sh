#!/usr/bin/env bash
# The ledger's nightly backup (docs/deploy.md, Backups): one pg_dump archive (custom format)
# per run, named by its UTC time, checked readable, kept LEDGER_BACKUP_DAYS days (30).
#
#   LEDGER_BACKUP_URL=postgresql://ledger_owner@db.internal/ledger deploy/backup/backup.sh
#
# The URL is libpq's (no ?schema=): the whole database is dumped. The master key is NOT in
# it; keep that apart (docs/keys.md). Copy the archives off the machine.
set -euo pipefail
: "${LEDGER_BACKUP_URL:?set LEDGER_BACKUP_URL=postgresql://OWNER@HOST[:PORT]/DATABASE}"
dir=${LEDGER_BACKUP_DIR:-/var/backups/ledger}
umask 077
mkdir -p "$dir"
archive="$dir/ledger-$(date -u +%Y%m%dT%H%M%SZ).dump"
pg_dump --format=custom --file="$archive.partial" "$LEDGER_BACKUP_URL"
pg_restore --list "$archive.partial" >/dev/null   # the archive can be read back
mv "$archive.partial" "$archive"
find "$dir" -name 'ledger-*.dump' -mtime +"${LEDGER_BACKUP_DAYS:-30}" -delete
echo "$archive"

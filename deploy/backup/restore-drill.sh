#!/usr/bin/env bash
# The restore drill (docs/deploy.md, Backups): restore a backup into a NEW database and prove
# that it is the ledger the witnesses cosigned. Exit 0 only if every step holds.
#
#   deploy/backup/restore-drill.sh /var/backups/ledger/ledger-20270105T020000Z.dump
#
# Environment: PGHOST, PGPORT, PGUSER (a role that may create databases, for createdb and
# pg_restore), LEDGER_OWNER (ledger_owner), LEDGER_DRILL_USER (ledger_app: asking the
# witnesses stores their cosignatures), LEDGER_SCHEMA (ledger), LEDGER_WITNESSES (as the
# server's), DRILL_DATABASE (default ledger_drill_<time>). `ledger` must be on PATH.
set -euo pipefail
dump=${1:?usage: restore-drill.sh BACKUP.dump}
host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}
name=${DRILL_DATABASE:-ledger_drill_$(date -u +%Y%m%d%H%M%S)}
: "${LEDGER_WITNESSES:?set LEDGER_WITNESSES as the server has it: the drill asks the witnesses}"

echo "1/5 restore $dump into the new database $name"
createdb --host="$host" --port="$port" --owner="${LEDGER_OWNER:-ledger_owner}" \
    --template=template0 "$name"
pg_restore --host="$host" --port="$port" --exit-on-error --dbname="$name" "$dump"

export LEDGER_DATABASE_URL="postgresql://${LEDGER_DRILL_USER:-ledger_app}@$host:$port/$name?schema=${LEDGER_SCHEMA:-ledger}"
echo "2/5 ledger migrate --check: the schema is this release's"
ledger migrate --check
echo "3/5 ledger verify: every hash, link, signature, node and checkpoint"
ledger verify
echo "4/5 ledger verify --witnesses: the witnesses cosigned this log, not a longer one"
ledger verify --witnesses
echo "5/5 passed: $name is the witnessed ledger (drop it with: dropdb $name)"

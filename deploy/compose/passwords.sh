#!/bin/sh
# Runs once in the PostgreSQL container after roles.sql: gives the three roles their passwords
# from the environment (deploy/compose/.env).
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres <<SQL
ALTER ROLE ledger_owner PASSWORD '${LEDGER_OWNER_PASSWORD}';
ALTER ROLE ledger_app PASSWORD '${LEDGER_APP_PASSWORD}';
ALTER ROLE ledger_reader PASSWORD '${LEDGER_READER_PASSWORD}';
SQL

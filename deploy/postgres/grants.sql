-- Least privilege on the ledger's tables (docs/deploy.md, PostgreSQL). Run as the owner after
-- `ledger init` and again after every `ledger migrate` (it is idempotent, and a migration may
-- add tables or replace the append's functions):
--
--   psql "postgresql://ledger_owner@DBHOST/ledger" -v schema=ledger -f deploy/postgres/grants.sql
--
-- The app role may read every table and INSERT into the ledger's own: entries, log leaves,
-- Merkle nodes, checkpoints, the stream heads map, metadata, sealed keys and documents. It
-- may not UPDATE, DELETE or TRUNCATE them: a compromised server can add entries, which are
-- signed and logged, but cannot rewrite or remove one. On its side tables (tokens, sessions,
-- upload allowances, calendar, cosignatures, read models, reminders) it may also update and
-- delete.
--
-- The append takes an EXCLUSIVE lock on the events table, which PostgreSQL grants only to a
-- role that may update, delete or truncate it: the two functions that take it run as their
-- owner (SECURITY DEFINER, with a fixed search_path); the app may only execute them. The
-- reader role may only read.
\set ON_ERROR_STOP on
\if :{?schema}
\else
  \set schema ledger
\endif
\if :{?app}
\else
  \set app ledger_app
\endif
\if :{?reader}
\else
  \set reader ledger_reader
\endif
SET ledger_grants.schema TO :'schema';
SET ledger_grants.app TO :'app';
SET ledger_grants.reader TO :'reader';

DO $grants$
DECLARE
  s text := current_setting('ledger_grants.schema');
  app text := current_setting('ledger_grants.app');
  reader text := current_setting('ledger_grants.reader');
  -- The ledger's own tables: append only for the app.
  append_only text[] := ARRAY['stored_events', 'log_leaves', 'log_nodes', 'log_checkpoints',
                              'head_nodes', 'ledger_meta', 'key_custody', 'documents',
                              'document_owners'];
  item record;
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I', s, app, reader);
  -- Side tables some services create on first use (reminders, feeds): the app owns those.
  EXECUTE format('GRANT CREATE ON SCHEMA %I TO %I', s, app);
  FOR item IN
    SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = s AND c.relkind IN ('r', 'p') AND c.relowner <> app::regrole
  LOOP
    EXECUTE format('REVOKE ALL ON %I.%I FROM %I, %I', s, item.relname, app, reader);
    EXECUTE format('GRANT SELECT ON %I.%I TO %I, %I', s, item.relname, app, reader);
    IF item.relname = ANY (append_only) THEN
      EXECUTE format('GRANT INSERT ON %I.%I TO %I', s, item.relname, app);
    ELSE
      EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I.%I TO %I', s, item.relname, app);
    END IF;
  END LOOP;
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, app);
  FOR item IN
    SELECT p.oid::regprocedure AS signature, p.proname FROM pg_proc AS p
    JOIN pg_namespace AS n ON n.oid = p.pronamespace
    WHERE n.nspname = s AND p.proname LIKE 'ledger\_%'
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', item.signature);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', item.signature, app);
    IF item.proname IN ('ledger_lock_and_read', 'ledger_write_if') THEN
      EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp',
                     item.signature);
    END IF;
  END LOOP;
END
$grants$;

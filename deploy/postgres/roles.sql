-- The ledger's database and its three roles (docs/deploy.md, PostgreSQL). Run once, as a
-- PostgreSQL superuser:
--
--   psql -h DBHOST -U postgres -v db=ledger -f deploy/postgres/roles.sql
--
-- owner  (ledger_owner)  owns the schema and every table; used only by the operator for
--                         `ledger init`, `ledger migrate`, `ledger keys reseal` and grants.sql
-- app    (ledger_app)    the server, projection workers and reminders: may read everything and
--                         insert into the ledger's tables, never update or delete them
-- reader (ledger_reader) verification and reporting (`ledger verify`, a replica's readers)
--
-- Set the passwords afterwards (\password ledger_app in psql), or use client certificates;
-- then run grants.sql as the owner after `ledger init`.
\set ON_ERROR_STOP on
\if :{?db}
\else
  \set db ledger
\endif
\if :{?owner}
\else
  \set owner ledger_owner
\endif
\if :{?app}
\else
  \set app ledger_app
\endif
\if :{?reader}
\else
  \set reader ledger_reader
\endif

CREATE ROLE :"owner" LOGIN;
CREATE ROLE :"app" LOGIN;
CREATE ROLE :"reader" LOGIN;
CREATE DATABASE :"db" OWNER :"owner" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"owner", :"app", :"reader";

\connect :"db"
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA ledger AUTHORIZATION :"owner";

-- Monitoring schema and the extensions it relies on.
--
-- The `monitoring` schema holds raw metrics, rollups and worker issues. It is
-- exposed through the Data API (supabase/config.toml `[api] schemas`) but only
-- `service_role` may use it: the API roles `anon` and `authenticated` are shut
-- out here at the schema level and again on every object.

-- pg_cron runs aggregation and retention. On Supabase it lives in pg_catalog.
create extension if not exists pg_cron with schema pg_catalog;

create schema if not exists monitoring;
comment on schema monitoring is
  'Pipeline monitoring: raw metrics, rollups, worker issues. service_role only.';

revoke all on schema monitoring from public, anon, authenticated;
grant usage on schema monitoring to service_role;

-- Functions are executable by PUBLIC by default, and per-schema default
-- privileges can only add to the global ones, never take away (an
-- `alter default privileges in schema monitoring revoke ... from public` is a
-- no-op). So every migration revokes and grants explicitly on the objects it
-- creates, and 20261127001000_monitoring_access.sql sweeps and asserts it.

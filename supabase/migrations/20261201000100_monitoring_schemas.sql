-- The monitoring schemas and the extension they rely on.
--
-- Owns: extension pg_cron, schema monitoring, schema monitoring_internal.
--
-- `monitoring` holds raw metrics, rollups and worker issues. It is exposed
-- through the Data API (supabase/config.toml `[api] schemas`) but only
-- `service_role` may use it: the API roles `anon` and `authenticated` are shut
-- out here at the schema level and again on every object.
-- `monitoring_internal` holds the rollup machinery behind the views and the
-- health check (20261201000600..000800). It is not exposed through the Data
-- API; service_role may read it (the views are security_invoker) and only the
-- owner's SECURITY DEFINER functions write it.

-- pg_cron runs aggregation, retention and the rollup refresh. On Supabase it lives in pg_catalog.
create extension if not exists pg_cron with schema pg_catalog;

create schema if not exists monitoring;
comment on schema monitoring is
  'Pipeline monitoring: raw metrics, rollups, worker issues. service_role only.';
revoke all on schema monitoring from public, anon, authenticated;
grant usage on schema monitoring to service_role;

create schema if not exists monitoring_internal;
comment on schema monitoring_internal is
  'Rollup machinery behind the monitoring views and health check. Not exposed through the API.';
revoke all on schema monitoring_internal from public, anon, authenticated;
grant usage on schema monitoring_internal to service_role;

-- Functions are executable by PUBLIC by default, and per-schema default
-- privileges can only add to the global ones, never take away (an
-- `alter default privileges in schema monitoring revoke ... from public` is a
-- no-op). So every migration revokes and grants explicitly on the objects it
-- creates, and the last migration (20261201001300_monitoring_access.sql)
-- sweeps all three schemas' objects and asserts it.

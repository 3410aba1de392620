-- Privileges, over every schema the migrations create (monitoring,
-- monitoring_internal) and our public objects: anon and authenticated get
-- nothing (no schema usage, no table, view or sequence privilege, no EXECUTE),
-- PUBLIC executes none of our functions; the denial is checked both in the
-- catalog and by trying as each role. service_role can do its job and only
-- reads monitoring_internal. Every table has row level security. Every
-- SECURITY DEFINER function pins search_path to ''.
begin;
create extension if not exists pgtap with schema extensions;
select plan(114);

-- ------------------------------------------------------------ catalog: exact privileges
select schema_privs_are('monitoring', r, array[]::text[], format('%s has no privilege on schema monitoring', r))
from unnest(array['anon', 'authenticated']) as r;
select schema_privs_are('monitoring', 'service_role', array['USAGE'], 'service_role may use schema monitoring');
select schema_privs_are('monitoring_internal', r, array[]::text[],
  format('%s has no privilege on schema monitoring_internal', r))
from unnest(array['anon', 'authenticated']) as r;
select schema_privs_are('monitoring_internal', 'service_role', array['USAGE'],
  'service_role may use schema monitoring_internal');

select table_privs_are(s, t, r, array[]::text[], format('%s has no privilege on %s.%s', r, s, t))
from (values
  ('monitoring', 'pipeline_metrics'), ('monitoring', 'aggregated_metrics'), ('monitoring', 'worker_issues'),
  ('monitoring', 'queue_snapshots'), ('monitoring', 'health_thresholds'), ('monitoring', 'aggregation_watermarks'),
  ('public', 'monitoring_events'),
  ('monitoring', 'queue_metrics'), ('monitoring', 'api_metrics'), ('public', 'queue_monitoring_view')
) as o(s, t), unnest(array['anon', 'authenticated']) as r;

select function_privs_are(s, f, a, r, array[]::text[], format('%s cannot execute %s.%s', r, s, f))
from (values
  ('monitoring', 'aggregate_metrics', array['text', 'timestamp with time zone']),
  ('monitoring', 'aggregate_hourly_metrics', array[]::text[]),
  ('monitoring', 'purge_expired_metrics', array['timestamp with time zone', 'integer']),
  ('monitoring', 'queue_status', array[]::text[]),
  ('public', 'get_system_health', array[]::text[]),
  ('public', 'purge_old_monitoring_events', array['integer'])
) as o(s, f, a), unnest(array['anon', 'authenticated']) as r;

select table_privs_are('monitoring', t, 'service_role', array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  format('service_role reads and writes monitoring.%s', t))
from unnest(array['pipeline_metrics', 'aggregated_metrics', 'worker_issues', 'queue_snapshots',
                  'aggregation_watermarks']) as t;
select table_privs_are('public', 'monitoring_events', 'service_role', array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  'service_role reads and writes public.monitoring_events');
select table_privs_are('monitoring', 'health_thresholds', 'service_role', array['SELECT'],
  'service_role reads thresholds (and may update their values, per column) but cannot add or delete settings');
select table_privs_are(s, v, 'service_role', array['SELECT'], format('service_role reads %s.%s', s, v))
from (values ('monitoring', 'queue_metrics'), ('monitoring', 'api_metrics'), ('public', 'queue_monitoring_view')) as o(s, v);
select ok(has_column_privilege('service_role', 'monitoring.health_thresholds', 'value', 'UPDATE'),
  'service_role may update a threshold value');

-- Future-proof sweeps over everything in both schemas (and our public objects).
select is_empty(
  $$select c.oid::regclass::text || ' ' || r from pg_class c, unnest(array['anon', 'authenticated']) as r
    where c.relkind in ('r', 'v', 'm', 'p', 'S')
      and (c.relnamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
           or c.oid in ('public.monitoring_events'::regclass, 'public.queue_monitoring_view'::regclass))
      and (has_table_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
           or has_any_column_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))$$,
  'no relation of ours grants anything to anon or authenticated');
select is_empty(
  $$select p.oid::regprocedure::text || ' ' || r from pg_proc p, unnest(array['anon', 'authenticated']) as r
    where (p.pronamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
           or p.oid in ('public.get_system_health()'::regprocedure,
                        'public.purge_old_monitoring_events(integer)'::regprocedure))
      and has_function_privilege(r, p.oid, 'EXECUTE')$$,
  'no function of ours is executable by anon or authenticated');
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc p,
         aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
    where (p.pronamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
           or p.oid in ('public.get_system_health()'::regprocedure,
                        'public.purge_old_monitoring_events(integer)'::regprocedure))
      and a.grantee = 0$$,
  'PUBLIC executes none of our functions (the default grant is revoked)');
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc p
    where p.prosecdef
      and p.pronamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace,
                             'public'::regnamespace)
      and not coalesce(p.proconfig, '{}') @> array['search_path=""']$$,
  'every SECURITY DEFINER function in monitoring, monitoring_internal and public has search_path = ''''');
select is_empty(
  $$select c.oid::regclass::text from pg_class c
    where c.relkind in ('r', 'p') and not c.relrowsecurity
      and (c.relnamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
           or c.oid = 'public.monitoring_events'::regclass)$$,
  'row level security is enabled on every table of ours');
select is_empty(
  $$select c.oid::regclass::text from pg_class c
    where c.relkind in ('r', 'v', 'm', 'p')
      and c.relnamespace = 'monitoring_internal'::regnamespace
      and (not has_table_privilege('service_role', c.oid, 'SELECT')
           or has_table_privilege('service_role', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))$$,
  'service_role reads every monitoring_internal table and view and writes none (only the owner''s functions do)');
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc p
    where p.pronamespace = 'monitoring_internal'::regnamespace
      and p.prorettype = 'trigger'::regtype
      and has_function_privilege('service_role', p.oid, 'EXECUTE')$$,
  'service_role cannot call the rollup trigger functions');
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc p
    where p.pronamespace = 'monitoring_internal'::regnamespace
      and p.prorettype <> 'trigger'::regtype
      and not has_function_privilege('service_role', p.oid, 'EXECUTE')$$,
  'service_role executes every other monitoring_internal function (the views and health run as the caller)');

-- ------------------------------------------------------------ trying it: anon and authenticated are refused
-- 42501 = insufficient_privilege, whether for the schema, the relation or the function.
create temp table pgtap_denied (role_name text, stmt text) on commit drop;
insert into pgtap_denied
select r, s
from unnest(array['anon', 'authenticated']) as r,
     unnest(array[
       'select * from monitoring.pipeline_metrics',
       'insert into monitoring.pipeline_metrics (metric_name, metric_value) values (''x'', 1)',
       'select * from monitoring.aggregated_metrics',
       'select * from monitoring.worker_issues',
       'insert into monitoring.worker_issues (worker_name, issue_type, severity) values (''w'', ''t'', ''info'')',
       'select * from monitoring.queue_snapshots',
       'select * from monitoring.health_thresholds',
       'update monitoring.health_thresholds set value = 1',
       'select * from monitoring.aggregation_watermarks',
       'select * from public.monitoring_events',
       'insert into public.monitoring_events (event_type) values (''x'')',
       'delete from public.monitoring_events',
       'select * from monitoring.queue_metrics',
       'select * from monitoring.api_metrics',
       'select * from public.queue_monitoring_view',
       'select public.get_system_health()',
       'select public.purge_old_monitoring_events(30)',
       'select monitoring.aggregate_metrics(''hourly'')',
       'select monitoring.aggregate_hourly_metrics()',
       'select monitoring.purge_expired_metrics()',
       'select * from monitoring.queue_status()',
       'select * from monitoring_internal.queue_minute_stats',
       'select monitoring_internal.refresh_rollups()',
       'select monitoring_internal.health_queue()'
     ]) as s;
grant select on pgtap_denied to anon, authenticated;

set local role anon;
select throws_ok(stmt, '42501', null, 'anon is refused: ' || stmt) from pgtap_denied where role_name = 'anon';
reset role;
set local role authenticated;
select throws_ok(stmt, '42501', null, 'authenticated is refused: ' || stmt) from pgtap_denied where role_name = 'authenticated';
reset role;

-- ------------------------------------------------------------ service_role does its job
set local role service_role;
select lives_ok($$insert into monitoring.pipeline_metrics (metric_name, metric_value, tags)
                  values ('pgtap.priv', 1, '{"queue": "pgtap"}')$$, 'service_role inserts metrics');
select lives_ok($$select public.get_system_health()$$, 'service_role calls get_system_health');
select lives_ok($$select * from public.queue_monitoring_view$$, 'service_role reads queue_monitoring_view');
select lives_ok($$select monitoring.aggregate_metrics('weekly', '2001-01-01 00:00+00')$$,
  'service_role runs the aggregation (an empty period, here)');
select lives_ok($$select monitoring.purge_expired_metrics('2001-01-01 00:00+00')$$, 'service_role runs the retention purge');
select lives_ok($$update monitoring.health_thresholds set value = 20 where setting = 'processing_window_minutes'$$,
  'service_role tunes a threshold');
select throws_ok($$delete from monitoring.health_thresholds where setting = 'processing_window_minutes'$$,
  '42501', null, 'service_role cannot delete a threshold the health check needs');
select throws_ok($$insert into monitoring_internal.queue_minute_stats (minute, hour, batches, time_sum)
                   values (now(), now(), 1, 1)$$,
  '42501', null, 'service_role cannot write rollups');
select lives_ok($$select monitoring_internal.refresh_rollups()$$, 'service_role runs the rollup refresh');
reset role;

select * from finish();
rollback;

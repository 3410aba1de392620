-- Retention boundaries: for every window a row one second inside (kept), one
-- exactly at the cutoff (kept: only strictly older rows go) and one second
-- outside (deleted). monitoring.purge_expired_metrics takes its reference time
-- as a parameter; it is set in 2001, before any real data, so only this test's
-- rows are old enough to go. public.purge_old_monitoring_events uses now(),
-- which is constant inside this transaction. Rows of 2001 have no day
-- partition: they are in the default one, which keeps the exact window
-- (day partitions go whole: 22_metric_partitions.sql).
begin;
create extension if not exists pgtap with schema extensions;
select plan(24);

create temp table pgtap_ref on commit drop as
  select timestamptz '2001-06-01 12:00+00' as p_now;

-- ------------------------------------------------------------ raw metrics: 14 days
insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp")
select 'pgtap.ret.' || label, 1, p_now - interval '14 days' + shift
from pgtap_ref, (values ('inside', interval '1 second'), ('edge', interval '0'), ('outside', interval '-1 second')) as v(label, shift);

-- ------------------------------------------------------------ rollups: hourly 90 d, daily 365 d, weekly 3 y
insert into monitoring.aggregated_metrics (metric_name, period, period_start)
select 'pgtap.ret.' || p.period || '.' || v.label, p.period, r.p_now - p.keep + v.shift
from pgtap_ref as r,
     (values ('hourly', interval '90 days'), ('daily', interval '365 days'), ('weekly', interval '3 years')) as p(period, keep),
     (values ('inside', interval '1 second'), ('edge', interval '0'), ('outside', interval '-1 second')) as v(label, shift);
-- A daily rollup just past the hourly window is still young for a daily one.
insert into monitoring.aggregated_metrics (metric_name, period, period_start)
select 'pgtap.ret.daily.past_hourly_window', 'daily', p_now - interval '90 days' - interval '1 second' from pgtap_ref;

-- ------------------------------------------------------------ queue snapshots: 14 days
insert into monitoring.queue_snapshots (queue_name, queue_length, captured_at)
select 'pgtap.ret.' || label, 0, p_now - interval '14 days' + shift
from pgtap_ref, (values ('inside', interval '1 second'), ('edge', interval '0'), ('outside', interval '-1 second')) as v(label, shift);

-- ------------------------------------------------------------ worker issues: resolved, 30 days after resolution
insert into monitoring.worker_issues (worker_name, issue_type, severity, resolved, resolved_at, created_at)
select 'pgtap.ret.' || label, 't', 'error', resolved, resolved_at, created_at
from pgtap_ref, lateral (values
  ('resolved_inside',  true,  p_now - interval '30 days' + interval '1 second', p_now - interval '40 days'),
  ('resolved_edge',    true,  p_now - interval '30 days',                       p_now - interval '40 days'),
  ('resolved_outside', true,  p_now - interval '30 days' - interval '1 second', p_now - interval '40 days'),
  -- resolved by a writer that did not set resolved_at: created_at counts
  ('resolved_no_time', true,  null::timestamptz,                                p_now - interval '30 days' - interval '1 second'),
  -- open issues stay until resolved, however old
  ('open_ancient',     false, null::timestamptz,                                p_now - interval '10 years')
) as v(label, resolved, resolved_at, created_at);

select is(
  monitoring.purge_expired_metrics((select p_now from pgtap_ref), null),
  '{"pipeline_metrics": 1, "pipeline_metrics_partitions": 0, "pipeline_metrics_partitions_skipped": 0,
    "pipeline_metrics_partitions_freed": 0,
    "aggregated_hourly": 1, "aggregated_daily": 1, "aggregated_weekly": 1,
    "queue_snapshots": 1, "worker_issues": 2}'::jsonb,
  'one call purges exactly the rows past each window, and reports how many');

select set_eq(
  $$select metric_name from monitoring.pipeline_metrics where metric_name like 'pgtap.ret.%'$$,
  array['pgtap.ret.inside', 'pgtap.ret.edge'],
  'raw metrics: 1 s inside 14 days and exactly 14 days old are kept, 1 s older is deleted');
select set_eq(
  $$select metric_name from monitoring.aggregated_metrics where metric_name like 'pgtap.ret.hourly.%'$$,
  array['pgtap.ret.hourly.inside', 'pgtap.ret.hourly.edge'],
  'hourly rollups: the 90-day boundary');
select set_eq(
  $$select metric_name from monitoring.aggregated_metrics where metric_name like 'pgtap.ret.daily.%'$$,
  array['pgtap.ret.daily.inside', 'pgtap.ret.daily.edge', 'pgtap.ret.daily.past_hourly_window'],
  'daily rollups: the 365-day boundary (and the hourly window does not apply to them)');
select set_eq(
  $$select metric_name from monitoring.aggregated_metrics where metric_name like 'pgtap.ret.weekly.%'$$,
  array['pgtap.ret.weekly.inside', 'pgtap.ret.weekly.edge'],
  'weekly rollups: the 3-year boundary');
select set_eq(
  $$select queue_name from monitoring.queue_snapshots where queue_name like 'pgtap.ret.%'$$,
  array['pgtap.ret.inside', 'pgtap.ret.edge'],
  'queue snapshots: the 14-day boundary');
select set_eq(
  $$select worker_name from monitoring.worker_issues where worker_name like 'pgtap.ret.%'$$,
  array['pgtap.ret.resolved_inside', 'pgtap.ret.resolved_edge', 'pgtap.ret.open_ancient'],
  'worker issues: resolved ones go 30 days after resolution (or creation when unset); open ones stay');

select is(
  monitoring.purge_expired_metrics((select p_now from pgtap_ref), null),
  '{"pipeline_metrics": 0, "pipeline_metrics_partitions": 0, "pipeline_metrics_partitions_skipped": 0,
    "pipeline_metrics_partitions_freed": 0,
    "aggregated_hourly": 0, "aggregated_daily": 0, "aggregated_weekly": 0,
    "queue_snapshots": 0, "worker_issues": 0}'::jsonb,
  'a second purge at the same time finds nothing');
select is(
  monitoring.purge_expired_metrics((select p_now + interval '1 second' from pgtap_ref), null) -> 'pipeline_metrics',
  '1'::jsonb, 'one second later the row exactly at the old cutoff is due');

-- ------------------------------------------------------------ batches
insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp")
select 'pgtap.ret.batch.' || n, n, timestamptz '2001-01-01 00:00+00' + n * interval '1 day'
from generate_series(1, 5) as n;

select is(monitoring.purge_expired_metrics((select p_now from pgtap_ref), 2) -> 'pipeline_metrics', '2'::jsonb,
  'p_batch_size bounds the rows deleted per call');
select set_eq(
  $$select metric_name from monitoring.pipeline_metrics where metric_name like 'pgtap.ret.batch.%'$$,
  array['pgtap.ret.batch.3', 'pgtap.ret.batch.4', 'pgtap.ret.batch.5'],
  'a batch takes the oldest rows first');
select is(monitoring.purge_expired_metrics((select p_now from pgtap_ref), 2) -> 'pipeline_metrics', '2'::jsonb,
  'the next call takes the next batch');
select is(monitoring.purge_expired_metrics((select p_now from pgtap_ref), 2) -> 'pipeline_metrics', '1'::jsonb,
  'and the last one the rest');
select is(monitoring.purge_expired_metrics((select p_now from pgtap_ref)) -> 'pipeline_metrics', '0'::jsonb,
  'then nothing is left (default batch size)');

select throws_ok($$select monitoring.purge_expired_metrics(now(), 0)$$, '22023', null, 'a batch size below 1 is rejected');
select throws_ok($$select monitoring.purge_expired_metrics(null)$$, '22004', null, 'a null reference time is rejected');

-- ------------------------------------------------------------ events: 30 days (now() is fixed in this transaction)
insert into public.monitoring_events (event_type, created_at)
select 'pgtap.ret.' || label, now() - interval '30 days' + shift
from (values ('inside', interval '1 second'), ('edge', interval '0'), ('outside', interval '-1 second')) as v(label, shift);

create temp table pgtap_events_due on commit drop as
  select count(*)::integer as n from public.monitoring_events where created_at < now() - interval '30 days';

select is(public.purge_old_monitoring_events(30), (select n from pgtap_events_due),
  'purge_old_monitoring_events(30) deletes every event older than 30 days and says how many');
select set_eq(
  $$select event_type from public.monitoring_events where event_type like 'pgtap.ret.%'$$,
  array['pgtap.ret.inside', 'pgtap.ret.edge'],
  'events: 1 s inside 30 days and exactly 30 days old are kept, 1 s older is deleted');
select is(public.purge_old_monitoring_events(), 0, 'the default window is 30 days');

insert into public.monitoring_events (event_type, created_at) values ('pgtap.ret.week_old', now() - interval '8 days');
create temp table pgtap_events_due_7 on commit drop as
  select count(*)::integer as n from public.monitoring_events where created_at < now() - interval '7 days';
select is(public.purge_old_monitoring_events(7), (select n from pgtap_events_due_7),
  'a shorter window purges younger events too');
select is_empty($$select 1 from public.monitoring_events where event_type like 'pgtap.ret.%'$$,
  'with a 7-day window none of them is left');

select throws_ok($$select public.purge_old_monitoring_events(0)$$, '22023', null, 'a window of 0 days is rejected');
select throws_ok($$select public.purge_old_monitoring_events(-5)$$, '22023', null, 'a negative window is rejected');
select throws_ok($$select public.purge_old_monitoring_events(null)$$, '22023', null, 'a null window is rejected');

select * from finish();
rollback;

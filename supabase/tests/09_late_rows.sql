-- Late rows: a period that receives rows (or loses some) after it was
-- aggregated is re-aggregated by the next run, exactly, through the seals and
-- change records the views' rollups use too. Real-time periods five days back
-- (inside raw retention); each check reads only this file's metrics, so data
-- already in the database does not matter. Across separate transactions (the
-- snapshot rule, the SDK through an outage, a 3-day back-fill):
-- tests/integration/test_rollup_late_rows.py.
begin;
create extension if not exists pgtap with schema extensions;
select plan(25);

-- Five days back: clear of benchmarks/sql_scale.py's 1M-row hour (3 days back),
-- so the runs stay small on a database that holds its data set.
create temp table pgtap_late_ref on commit drop as
  select date_trunc('hour', now() - interval '5 days', 'UTC') as h,
         date_trunc('day', now() - interval '5 days', 'UTC') as d;

-- This run's periods start here: H (hourly) and D (daily) are new to both jobs.
delete from monitoring.aggregation_watermarks;
insert into monitoring.aggregation_watermarks (period, aggregated_until)
select 'hourly', h from pgtap_late_ref union all select 'daily', d from pgtap_late_ref;

insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.late', g, '{"queue": "q"}', r.h + g * interval '5 minutes'
from pgtap_late_ref as r, generate_series(1, 10) as g;

-- ------------------------------------------------------------ the triggers' reach
select ok(exists (select 1 from monitoring_internal.rollup_changes as c, pgtap_late_ref as r
                  where c.minute = r.h + interval '5 minutes' and c.xid = pg_current_xact_id()),
  'an insert of any metric (not only queue_processing/api_call) records the minutes it touched');
insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp")
values ('pgtap.late.purged', 1, date_trunc('minute', now() - interval '14 days' - interval '30 minutes', 'UTC'));
select ok(not exists (select 1 from monitoring_internal.rollup_changes as c
                      where c.minute = date_trunc('minute', now() - interval '14 days' - interval '30 minutes', 'UTC')
                        and c.xid = pg_current_xact_id()),
  'rows older than raw retention (14 days) are outside the reach: the retention purge records nothing');

-- ------------------------------------------------------------ first aggregation seals the hour
select cmp_ok(monitoring.aggregate_metrics('hourly', (select h from pgtap_late_ref) + interval '63 minutes'), '>=', 1,
  'the hourly run aggregates H');
select is((select count_value from monitoring.aggregated_metrics as a, pgtap_late_ref as r
           where a.metric_name = 'pgtap.late' and a.period = 'hourly' and a.period_start = r.h),
  10, 'H holds its 10 rows');
select ok(exists (select 1 from monitoring_internal.rollup_seals as s, pgtap_late_ref as r
                  where s.kind = 'hourly' and s.period_start = r.h),
  'the run sealed H with the snapshot its rollups were computed from');
select is((select aggregated_until from monitoring.aggregation_watermarks where period = 'hourly'),
  (select h + interval '1 hour' from pgtap_late_ref), 'the watermark moved past H');

-- A seal never trusts its own transaction's writes (it could write more after
-- sealing), and this transaction wrote H's rows: forget its change records, as
-- if an earlier transaction had written them.
delete from monitoring_internal.rollup_changes where xid = pg_current_xact_id();
select ok(not exists (select 1 from monitoring_internal.stale_aggregation_periods as s, pgtap_late_ref as r
                      where s.period = 'hourly' and s.period_start = r.h),
  'a sealed hour without later changes is not stale');
select monitoring.aggregate_metrics('hourly', (select h from pgtap_late_ref) + interval '63 minutes');
select is((select count_value from monitoring.aggregated_metrics as a, pgtap_late_ref as r
           where a.metric_name = 'pgtap.late' and a.period = 'hourly' and a.period_start = r.h),
  10, 'running again changes nothing');

-- ------------------------------------------------------------ late rows
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.late', g, '{"queue": "q"}', r.h + interval '59 minutes'
from pgtap_late_ref as r, generate_series(11, 15) as g;
select ok(exists (select 1 from monitoring_internal.stale_aggregation_periods as s, pgtap_late_ref as r
                  where s.period = 'hourly' and s.period_start = r.h),
  'rows written into H after it was sealed make it stale');

-- refresh_rollups keeps the change records an aggregated period still needs,
-- and still deletes those no seal needs.
insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp")
values ('pgtap.late.unsealed', 1, '2035-06-01 12:00+00');
select monitoring_internal.refresh_rollups(0);
select ok(exists (select 1 from monitoring_internal.rollup_changes as c, pgtap_late_ref as r
                  where c.minute = r.h + interval '59 minutes'),
  'refresh_rollups keeps the change record of the stale hour for the next aggregation run');
select ok(not exists (select 1 from monitoring_internal.rollup_changes as c
                      where c.minute = '2035-06-01 12:00+00'),
  'and deletes one that no seal needs');

select cmp_ok(monitoring.aggregate_metrics('hourly', (select h from pgtap_late_ref) + interval '63 minutes'), '>=', 1,
  'the next run re-aggregates the stale hour, though it is behind the watermark');
select results_eq(
  $$select a.count_value, a.sum_value, a.min_value, a.max_value, a.avg_value, a.p50_value, a.p95_value, a.p99_value
    from monitoring.aggregated_metrics as a, pgtap_late_ref as r
    where a.metric_name = 'pgtap.late' and a.period = 'hourly' and a.period_start = r.h$$,
  $$select count(*)::integer, sum(m.metric_value), min(m.metric_value), max(m.metric_value), avg(m.metric_value),
           percentile_cont(0.5) within group (order by m.metric_value),
           percentile_cont(0.95) within group (order by m.metric_value),
           percentile_cont(0.99) within group (order by m.metric_value)
    from monitoring.pipeline_metrics as m, pgtap_late_ref as r
    where m.metric_name = 'pgtap.late' and m."timestamp" >= r.h and m."timestamp" < r.h + interval '1 hour'$$,
  'the re-aggregated hour equals what raw says: count, sum, min, max, avg, percentiles');
select is((select count(*)::integer from monitoring.aggregated_metrics as a, pgtap_late_ref as r
           where a.metric_name = 'pgtap.late' and a.period = 'hourly' and a.period_start = r.h),
  1, 'still one row for the dimension set (natural key: recomputed, not added)');
select is((select aggregated_until from monitoring.aggregation_watermarks where period = 'hourly'),
  (select h + interval '1 hour' from pgtap_late_ref), 'the watermark stays where it was');

-- ------------------------------------------------------------ deleted and moved rows
delete from monitoring.pipeline_metrics
where metric_name = 'pgtap.late' and metric_value > 12;
select monitoring.aggregate_metrics('hourly', (select h from pgtap_late_ref) + interval '63 minutes');
select is((select count_value from monitoring.aggregated_metrics as a, pgtap_late_ref as r
           where a.metric_name = 'pgtap.late' and a.period = 'hourly' and a.period_start = r.h),
  12, 'deleted rows leave the rollup too');
update monitoring.pipeline_metrics set tags = '{"queue": "moved"}'
where metric_name = 'pgtap.late';
select monitoring.aggregate_metrics('hourly', (select h from pgtap_late_ref) + interval '63 minutes');
select results_eq(
  $$select a.dimensions, a.count_value from monitoring.aggregated_metrics as a, pgtap_late_ref as r
    where a.metric_name = 'pgtap.late' and a.period = 'hourly' and a.period_start = r.h$$,
  $$values ('{"queue": "moved"}'::jsonb, 12)$$,
  'a dimension set no raw row has any more is deleted from the period');

-- ------------------------------------------------------------ daily
select cmp_ok(monitoring.aggregate_metrics('daily', (select d from pgtap_late_ref) + interval '24 hours 3 minutes'),
  '>=', 1, 'the daily run aggregates D');
delete from monitoring_internal.rollup_changes where xid = pg_current_xact_id();
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.late', 100, '{"queue": "moved"}', r.d + interval '23 hours 59 minutes' from pgtap_late_ref as r;
select ok(exists (select 1 from monitoring_internal.stale_aggregation_periods as s, pgtap_late_ref as r
                  where s.period = 'daily' and s.period_start = r.d),
  'a late row makes its day stale');
select monitoring.aggregate_metrics('daily', (select d from pgtap_late_ref) + interval '24 hours 3 minutes');
select is((select count_value from monitoring.aggregated_metrics as a, pgtap_late_ref as r
           where a.metric_name = 'pgtap.late' and a.period = 'daily' and a.period_start = r.d),
  (select count(*)::integer from monitoring.pipeline_metrics as m, pgtap_late_ref as r
   where m.metric_name = 'pgtap.late' and m."timestamp" >= r.d and m."timestamp" < r.d + interval '1 day'),
  'the daily run re-aggregates the stale day: its count equals raw');

-- ------------------------------------------------------------ the floor, and pruning
insert into monitoring_internal.rollup_seals (kind, period_start, snap, sealed_by) values
  ('hourly', date_trunc('hour', now() - interval '15 days', 'UTC'), pg_current_snapshot(), pg_current_xact_id()),
  ('hourly', date_trunc('hour', now() - interval '10 days', 'UTC'), pg_current_snapshot(), pg_current_xact_id()),
  ('hour',   date_trunc('hour', now() - interval '10 days', 'UTC'), pg_current_snapshot(), pg_current_xact_id())
on conflict (kind, period_start) do nothing;
select monitoring_internal.refresh_rollups(0);
select ok(not exists (select 1 from monitoring_internal.rollup_seals
                      where kind = 'hourly' and period_start = date_trunc('hour', now() - interval '15 days', 'UTC')),
  'refresh prunes seals of aggregated periods older than raw retention');
select ok(exists (select 1 from monitoring_internal.rollup_seals
                  where kind = 'hourly' and period_start = date_trunc('hour', now() - interval '10 days', 'UTC')),
  'but keeps those raw rows still cover (10 days old)');
select ok(not exists (select 1 from monitoring_internal.rollup_seals
                      where kind = 'hour' and period_start = date_trunc('hour', now() - interval '10 days', 'UTC')),
  'while the views'' own seals still go after 8 days');

-- A stale period older than the floor is never recomputed from partial raw data.
insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp")
values ('pgtap.late.floor', 1, date_trunc('hour', now() - interval '14 days', 'UTC') + interval '10 minutes');
insert into monitoring_internal.rollup_seals (kind, period_start, snap, sealed_by)
values ('hourly', date_trunc('hour', now() - interval '14 days', 'UTC'), pg_current_snapshot(), pg_current_xact_id())
on conflict (kind, period_start) do nothing;
-- (No new hours for this run: only stale ones could be aggregated.)
update monitoring.aggregation_watermarks set aggregated_until = date_trunc('hour', now() - interval '3 minutes', 'UTC')
where period = 'hourly';
select monitoring.aggregate_metrics('hourly');
select is_empty($$select 1 from monitoring.aggregated_metrics where metric_name = 'pgtap.late.floor'$$,
  'the hour straddling now() - 14 days is not re-aggregated, stale or not');

select is((select count(*)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.late.purged'),
  0, 'nothing was aggregated from outside raw retention');

select * from finish();
rollback;

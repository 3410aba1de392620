-- Aggregation: known data in 2035 (no other data lives there) with a fixed
-- reference time p_now, so results are deterministic: missed hours
-- back-filled, percentiles, dimension tags only, the raw-retention floor, the
-- completeness grace, idempotency (run again, lose the watermark: same rows,
-- nothing double counted), daily and weekly from raw data, bad arguments.
-- Late rows and the cardinality bound: 09_late_rows.sql, 10_dimension_limits.sql.
-- Because 2035 is in the future, those runs write provisional rollups and
-- leave the watermark alone (it never passes real time); the watermark itself
-- is tested with real-time runs at the end.
begin;
create extension if not exists pgtap with schema extensions;
select plan(35);

-- Start from a clean slate inside this transaction.
delete from monitoring.aggregation_watermarks;

-- Reference time for most runs: 2035-03-14 10:30 UTC, a Wednesday.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp") values
  -- A: in an hour that began before now - 14 days (10:30): may be partly purged, never aggregated
  ('pgtap.agg', 1, '{"queue": "old"}',   '2035-02-28 10:40+00'),
  -- C: before the watermark (06:00): already aggregated by an earlier run
  ('pgtap.agg', 3, '{"queue": "q0"}',    '2035-03-14 05:10+00'),
  -- D, E: the missed hours 06:00 and 07:00 (08:00 had no data)
  ('pgtap.agg', 4, '{"queue": "q1", "ok": true}', '2035-03-14 06:15+00'),
  ('pgtap.agg', 5, '{"ok": true, "queue": "q1"}', '2035-03-14 07:45+00'),
  -- G: null and array tags are not dimensions either
  ('pgtap.agg', 10, '{"queue": "q2", "note": null, "arr": [1]}', '2035-03-14 09:10+00'),
  ('pgtap.agg', 20, '{"queue": "q2"}',                            '2035-03-14 09:20+00'),
  -- H: the hour in progress at p_now
  ('pgtap.agg', 6, '{"queue": "q1", "ok": true}', '2035-03-14 10:05+00'),
  -- I: the day before (for the daily rollup)
  ('pgtap.agg', 7, '{"queue": "q1", "ok": true}', '2035-03-13 08:00+00'),
  ('pgtap.agg', 9, '{"queue": "q1", "ok": true}', '2035-03-13 20:00+00');
-- F: 100 values 1..100 in 09:00, each with different numeric measurement tags
-- (which must not split the group) and the boolean dimension ok.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.agg', g,
       jsonb_build_object('queue', 'q1', 'ok', true, 'success_count', g, 'error_count', 100 - g, 'batch_size', 100),
       timestamptz '2035-03-14 09:00+00' + g * interval '35 seconds'
from generate_series(1, 100) as g;
-- B: first hour inside raw retention (for the run without a watermark)
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
values ('pgtap.agg', 2, '{"queue": "floor"}', '2035-02-28 12:10+00');

-- ------------------------------------------------------------ back-fill of missed hours
-- The last run aggregated up to 06:00; runs at 07:05 .. 10:05 were missed.
insert into monitoring.aggregation_watermarks (period, aggregated_until) values ('hourly', '2035-03-14 06:00+00');

select is(monitoring.aggregate_metrics('hourly', '2035-03-14 10:30+00'), 4,
  'one run back-fills every missed complete hour: 06:00, 07:00 and two groups at 09:00');

select results_eq(
  $$select period_start, dimensions, count_value from monitoring.aggregated_metrics
    where metric_name = 'pgtap.agg' and period = 'hourly' order by period_start, dimensions ->> 'queue'$$,
  $$values ('2035-03-14 06:00+00'::timestamptz, '{"ok": true, "queue": "q1"}'::jsonb, 1),
           ('2035-03-14 07:00+00', '{"ok": true, "queue": "q1"}', 1),
           ('2035-03-14 09:00+00', '{"ok": true, "queue": "q1"}', 100),
           ('2035-03-14 09:00+00', '{"queue": "q2"}', 2)$$,
  'hourly rollups group by string/boolean tags only; nothing before the watermark, nothing for the hour in progress');

select results_eq(
  $$select min_value, max_value, avg_value, sum_value, count_value, p50_value, p95_value, p99_value
    from monitoring.aggregated_metrics
    where metric_name = 'pgtap.agg' and period = 'hourly' and period_start = '2035-03-14 09:00+00'
      and dimensions = '{"queue": "q1", "ok": true}'$$,
  $$values (1::double precision, 100::double precision, 50.5::double precision, 5050::double precision, 100,
            50.5::double precision, 95.05::double precision, 99.01::double precision)$$,
  'min/max/avg/sum/count and p50/p95/p99 (percentile_cont) of 1..100');

select is(
  (select array[p50_value, p95_value, p99_value] from monitoring.aggregated_metrics
   where metric_name = 'pgtap.agg' and period = 'hourly' and period_start = '2035-03-14 09:00+00'
     and dimensions = '{"queue": "q2"}'),
  array[15, 19.5, 19.9]::double precision[],
  'percentiles interpolate between two values (10, 20)');

select is(
  (select aggregated_until from monitoring.aggregation_watermarks where period = 'hourly'),
  '2035-03-14 06:00+00'::timestamptz, 'a run ahead of real time does not mark future hours as done');

-- ------------------------------------------------------------ idempotency
create temp table pgtap_agg_before on commit drop as
  select period, period_start, metric_name, dimensions, min_value, max_value, avg_value, sum_value,
         count_value, p50_value, p95_value, p99_value
  from monitoring.aggregated_metrics where metric_name = 'pgtap.agg';

select is(monitoring.aggregate_metrics('hourly', '2035-03-14 10:30+00'), 4,
  'a second run recomputes the same four rollups (the provisional ones, in place)');
select is(monitoring.aggregate_metrics('hourly', '2035-03-14 10:59:59+00'), 4, 'as does a run later in the same hour');
select set_eq(
  $$select period, period_start, metric_name, dimensions, min_value, max_value, avg_value, sum_value,
           count_value, p50_value, p95_value, p99_value
    from monitoring.aggregated_metrics where metric_name = 'pgtap.agg'$$,
  $$select * from pgtap_agg_before$$,
  'repeated runs leave exactly the same rows');

-- ------------------------------------------------------------ completeness grace
select is(monitoring.aggregate_metrics('hourly', '2035-03-14 11:02:59+00'), 4,
  'an hour is not complete until 3 minutes after it ends (still four rollups)');
select is(monitoring.aggregate_metrics('hourly', '2035-03-14 11:03:00+00'), 5,
  '3 minutes after the hour, 10:00 is aggregated too');
select is(
  (select count_value from monitoring.aggregated_metrics
   where metric_name = 'pgtap.agg' and period = 'hourly' and period_start = '2035-03-14 10:00+00'),
  1, 'the 10:00 rollup holds its one row');

-- ------------------------------------------------------------ lost watermark: recompute, never double count
delete from monitoring.aggregation_watermarks where period = 'hourly';
-- p_now 11:05: raw retention reaches back to 2035-02-28 11:05, so the first whole
-- hour is 12:00: row A (moved to 11:40) is in a cut hour, row B (12:10) is not.
update monitoring.pipeline_metrics set "timestamp" = '2035-02-28 11:40+00'
where metric_name = 'pgtap.agg' and tags ->> 'queue' = 'old';

select is(monitoring.aggregate_metrics('hourly', '2035-03-14 11:05+00'), 9,
  'without a watermark a run covers all raw retention: 5 existing rollups recomputed, 4 new');
select results_eq(
  $$select period_start, dimensions ->> 'queue', count_value from monitoring.aggregated_metrics
    where metric_name = 'pgtap.agg' and period = 'hourly' order by period_start, 2$$,
  $$values ('2035-02-28 12:00+00'::timestamptz, 'floor', 1),
           ('2035-03-13 08:00+00', 'q1', 1),
           ('2035-03-13 20:00+00', 'q1', 1),
           ('2035-03-14 05:00+00', 'q0', 1),
           ('2035-03-14 06:00+00', 'q1', 1),
           ('2035-03-14 07:00+00', 'q1', 1),
           ('2035-03-14 09:00+00', 'q1', 100),
           ('2035-03-14 09:00+00', 'q2', 2),
           ('2035-03-14 10:00+00', 'q1', 1)$$,
  'one row per hour and dimension set (counts not doubled); the hour cut by raw retention is skipped');
select is(
  (select count(*)::integer from monitoring.aggregated_metrics
   where metric_name = 'pgtap.agg' and period = 'hourly' and dimensions ->> 'queue' = 'old'),
  0, 'a period older than raw retention is never aggregated from partial data');

-- ------------------------------------------------------------ daily, from raw
select is(monitoring.aggregate_metrics('daily', '2035-03-14 10:30+00'), 1,
  'daily: the one complete day with data inside raw retention (2035-03-13)');
select results_eq(
  $$select period_start, dimensions, count_value, min_value, max_value, avg_value, p50_value
    from monitoring.aggregated_metrics where metric_name = 'pgtap.agg' and period = 'daily'$$,
  $$values ('2035-03-13 00:00+00'::timestamptz, '{"ok": true, "queue": "q1"}'::jsonb, 2,
            7::double precision, 9::double precision, 8::double precision, 8::double precision)$$,
  'the daily rollup of 2035-03-13 (UTC day), computed from raw rows');
select is(monitoring.aggregate_metrics('daily', '2035-03-14 23:59+00'), 1, 'at 23:59 only 03-13 is (re)computed');
select is_empty(
  $$select 1 from monitoring.aggregated_metrics
    where metric_name = 'pgtap.agg' and period = 'daily' and period_start = '2035-03-14 00:00+00'$$,
  'the day in progress is not aggregated');
select is(monitoring.aggregate_metrics('daily', '2035-03-15 00:03+00'), 4,
  'once 2035-03-14 is complete: one row each for q0, q1 and q2 (and 03-13 again)');
select is(
  (select count(*)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.agg' and period = 'daily'),
  4, 'daily rows: one for 03-13, three for 03-14, none doubled');

-- ------------------------------------------------------------ weekly, from raw
-- 2035-03-12 is a Monday; the week 03-12..03-19 becomes complete on 03-19.
select is(monitoring.aggregate_metrics('weekly', '2035-03-18 23:00+00'), 0, 'the week in progress is not aggregated');
select is(monitoring.aggregate_metrics('weekly', '2035-03-19 00:30+00'), 3,
  'weekly: the ISO week starting Monday 2035-03-12, one row per dimension set');
select results_eq(
  $$select period_start, dimensions ->> 'queue', count_value, min_value, max_value, p50_value
    from monitoring.aggregated_metrics where metric_name = 'pgtap.agg' and period = 'weekly'
    order by 2$$,
  $$values ('2035-03-12 00:00+00'::timestamptz, 'q0', 1, 3::double precision, 3::double precision, 3::double precision),
           ('2035-03-12 00:00+00', 'q1', 105, 1, 100, 48),
           ('2035-03-12 00:00+00', 'q2', 2, 10, 20, 15)$$,
  'weekly rollups from raw data: exact counts and percentiles over the whole week');
select is(
  (select count(*)::integer from monitoring.aggregated_metrics
   where metric_name = 'pgtap.agg' and period = 'weekly' and period_start = '2035-03-05 00:00+00'),
  0, 'the week cut by raw retention (from 2035-03-05) is not aggregated');

-- ------------------------------------------------------------ back-fill in chunks: p_now in the past
-- Raw rows are purged on real time, so an earlier p_now must not reach back
-- further than now() - 14 days: the hour that straddles that point may already
-- be partly purged.
delete from monitoring.aggregation_watermarks where period = 'hourly';
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp") values
  ('pgtap.agg.past', 1, '{"case": "cut"}',    now() - interval '14 days' - interval '10 minutes'),
  ('pgtap.agg.past', 2, '{"case": "intact"}', now() - interval '14 days' + interval '2 hours');
select cmp_ok(monitoring.aggregate_metrics('hourly', now() - interval '14 days' + interval '4 hours'), '>=', 1,
  'a run with an earlier p_now aggregates what raw retention still fully holds');
select is(
  array(select dimensions ->> 'case' from monitoring.aggregated_metrics where metric_name = 'pgtap.agg.past'),
  array['intact'],
  'but not the hour that straddles now() - 14 days');
select is(
  (select aggregated_until from monitoring.aggregation_watermarks where period = 'hourly'),
  date_trunc('hour', now() - interval '14 days' + interval '4 hours' - interval '3 minutes', 'UTC'),
  'a run in the past moves the watermark to its last complete hour');
-- A seal never trusts writes of the transaction that sealed it (it could write
-- more afterwards), and this one wrote the rows itself: forget its change
-- records, as if the rows had come from an earlier, committed transaction.
-- (Late rows: 09_late_rows.sql.)
delete from monitoring_internal.rollup_changes where xid = pg_current_xact_id();
select is(monitoring.aggregate_metrics('hourly', now() - interval '14 days' + interval '4 hours'), 0,
  'so the same run again writes nothing: each period is aggregated once, unless it changes');

-- ------------------------------------------------------------ the spec's wrapper
-- Real time now: only the last complete hour is left to do, so the run stays small.
update monitoring.aggregation_watermarks
set aggregated_until = date_trunc('hour', now() - interval '3 minutes', 'UTC') - interval '1 hour'
where period = 'hourly';
select cmp_ok(monitoring.aggregate_hourly_metrics(), '>=', 0, 'aggregate_hourly_metrics() runs the hourly aggregation');
select is(
  (select aggregated_until from monitoring.aggregation_watermarks where period = 'hourly'),
  date_trunc('hour', now() - interval '3 minutes', 'UTC'),
  'the wrapper aggregates up to the last complete hour before now()');
select is(monitoring.aggregate_hourly_metrics(), 0, 'and a second call has nothing left to do');

-- ------------------------------------------------------------ bad arguments
select throws_ok($$select monitoring.aggregate_metrics('monthly')$$, '22023', null, 'an unknown period is rejected');
select throws_ok($$select monitoring.aggregate_metrics(null)$$, '22023', null, 'a null period is rejected');
select throws_ok($$select monitoring.aggregate_metrics('hourly', null)$$, '22004', null, 'a null reference time is rejected');
select is(
  (select count(*)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.agg' and period = 'hourly'),
  9, 'rejected calls wrote nothing');

select * from finish();
rollback;

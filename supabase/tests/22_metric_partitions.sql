-- Daily partitions of monitoring.pipeline_metrics (20261213000100..000400):
-- creation ahead, the default partition for days without one, rows moved out
-- of it, whole-day retention, the (id, "timestamp") key, access. Everything
-- here happens in 2001 (or 2090 for the future), where no real row lives, and
-- is rolled back.
begin;
create extension if not exists pgtap with schema extensions;
select plan(28);

-- A retention run frees the tables an earlier run detached and does nothing
-- else (20261213000100): on a database whose cron job has run, free them
-- first, so the runs below are judged on this test's rows alone.
select monitoring.purge_expired_metrics('2001-01-01 00:00+00', 1);

-- ------------------------------------------------------------ shape
select is((select c.relkind::text from pg_class as c where c.oid = 'monitoring.pipeline_metrics'::regclass), 'p',
  'pipeline_metrics is a partitioned table');
select is((select pg_get_partkeydef('monitoring.pipeline_metrics'::regclass)), 'RANGE ("timestamp")',
  'partitioned by range on "timestamp"');
select col_is_pk('monitoring', 'pipeline_metrics', array['id', 'timestamp'], 'the primary key is (id, "timestamp")');
select is((select count(*)::integer from monitoring_internal.metric_partitions() where is_default), 1,
  'there is one default partition');
select is_empty(
  $$select d::date from generate_series(((now() at time zone 'UTC')::date)::timestamp,
                                       ((now() at time zone 'UTC')::date + 3)::timestamp, interval '1 day') as d
    where not exists (select 1 from monitoring_internal.metric_partitions() as p
                      where not p.is_default and p.range_start <= (d::date::text || ' 00:00+00')::timestamptz
                        and p.range_end >= ((d::date + 1)::text || ' 00:00+00')::timestamptz)$$,
  'today and the next three days have their partition');
select is((select jobname::text from cron.job where jobname = 'metric-partition-maintenance'
             and command like '%monitoring_internal.maintain_metric_partitions()%'),
  'metric-partition-maintenance', 'pg_cron maintains the partitions');

-- ------------------------------------------------------------ no row refused for its time
insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp") values
  ('pgtap.part.backdated', 1, '2001-03-01 10:00+00'),
  ('pgtap.part.backdated', 2, '2001-03-01 23:59:59.999999+00'),
  ('pgtap.part.nextday',   3, '2001-03-02 00:00+00'),
  ('pgtap.part.future',    4, '2090-01-01 00:00+00');
select is(
  (select count(*)::integer from monitoring_internal.pipeline_metrics_default where metric_name like 'pgtap.part.%'),
  4, 'rows of days without a partition (back-dated, far future) go to the default partition');
select is(
  (select count(*)::integer from monitoring.pipeline_metrics
   where metric_name like 'pgtap.part.%' and "timestamp" < '2001-04-01'), 3,
  'and read through the table as any row');

-- ------------------------------------------------------------ creating a day moves its rows
select is(monitoring_internal.create_metric_partition('2001-03-01'), 2::bigint,
  'creating the partition of 2001-03-01 moves that day''s two rows out of the default');
select is(
  (select string_agg(distinct m.tableoid::regclass::text, ',') from monitoring.pipeline_metrics as m
   where m.metric_name = 'pgtap.part.backdated'),
  'monitoring_internal.pipeline_metrics_p20010301', 'they now live in the day''s partition');
select is(
  (select m.tableoid::regclass::text from monitoring.pipeline_metrics as m where m.metric_name = 'pgtap.part.nextday'),
  'monitoring_internal.pipeline_metrics_default', 'the next day''s first microsecond stays in the default');
select is(monitoring_internal.create_metric_partition('2001-03-01'), null,
  'a day that has its partition is left alone');
select is(
  (select count(*)::integer from monitoring.pipeline_metrics where metric_name like 'pgtap.part.%'), 4,
  'no row was lost or doubled by the move');
select ok(
  (select c.relrowsecurity from pg_class as c where c.oid = 'monitoring_internal.pipeline_metrics_p20010301'::regclass)
  and not has_table_privilege('anon', 'monitoring_internal.pipeline_metrics_p20010301', 'select')
  and not has_table_privilege('authenticated', 'monitoring_internal.pipeline_metrics_p20010301', 'select')
  and not has_table_privilege('service_role', 'monitoring_internal.pipeline_metrics_p20010301', 'insert'),
  'a new partition has RLS and nothing for the API roles but service_role''s SELECT');
select monitoring_internal.maintain_metric_partitions(now());
select is(
  monitoring_internal.maintain_metric_partitions(now()) - 'busy',
  '{"created": 0, "moved_rows": 0, "skipped": 0}'::jsonb,
  'maintenance right after maintenance creates nothing');
select monitoring_internal.maintain_metric_partitions(
  ((now() at time zone 'UTC')::date::text || ' 23:50+00')::timestamptz);
select ok(
  exists (select 1 from monitoring_internal.metric_partitions() as p
          where not p.is_default
            and p.range_start <= (((now() at time zone 'UTC')::date + 4)::text || ' 00:00+00')::timestamptz
            and p.range_end >= (((now() at time zone 'UTC')::date + 5)::text || ' 00:00+00')::timestamptz),
  'the run at 23:50 already makes the day that is three days ahead after midnight');

-- ------------------------------------------------------------ the key: exactly once
set local role service_role;
insert into monitoring.pipeline_metrics (id, metric_name, metric_value, "timestamp")
values ('0190b3c4-0000-7000-8000-000000000001', 'pgtap.part.key', 1, '2001-03-01 12:00+00');
insert into monitoring.pipeline_metrics (id, metric_name, metric_value, "timestamp")
values ('0190b3c4-0000-7000-8000-000000000001', 'pgtap.part.key', 1, '2001-03-01 12:00+00')
on conflict (id, "timestamp") do nothing;
reset role;
select is((select count(*)::integer from monitoring.pipeline_metrics where metric_name = 'pgtap.part.key'), 1,
  'a row sent twice with the same id and time is stored once (the SDK''s upsert)');
select throws_ok(
  $$insert into monitoring.pipeline_metrics (id, metric_name, metric_value, "timestamp")
    values ('0190b3c4-0000-7000-8000-000000000001', 'pgtap.part.key', 1, '2001-03-01 12:00+00')$$,
  '23505', null, 'a plain duplicate insert is refused by the primary key');
select lives_ok(
  $$insert into monitoring.pipeline_metrics (metric_name, metric_value) values ('pgtap.part.defaults', 1)$$,
  'a writer that sends neither id nor timestamp still inserts');

-- ------------------------------------------------------------ retention drops whole days
-- 2001-03-01's partition ends 2001-03-02 00:00 (exclusive). While its last
-- row is not older than 14 days it stays whole; once every row it can hold is
-- older, it goes whole.
select is(
  monitoring.purge_expired_metrics('2001-03-15 23:59:59.999999+00', null) -> 'pipeline_metrics_partitions', '0'::jsonb,
  'a day partition whose last microsecond is exactly 14 days old is kept');
select is(
  (select count(*)::integer from monitoring.pipeline_metrics where metric_name = 'pgtap.part.backdated'), 2,
  'with all its rows, the older one too (a day goes whole or not at all)');
select is(
  monitoring.purge_expired_metrics('2001-03-16 00:00+00', null)
    - 'aggregated_hourly' - 'aggregated_daily' - 'aggregated_weekly' - 'queue_snapshots' - 'worker_issues',
  '{"pipeline_metrics": 0, "pipeline_metrics_partitions": 1, "pipeline_metrics_partitions_skipped": 0,
    "pipeline_metrics_partitions_freed": 0}'::jsonb,
  'when the day ended 14 days ago it leaves the table whole, and no row is deleted one by one');
select ok(to_regclass('monitoring_internal.pipeline_metrics_p20010301') is null
          and not exists (select 1 from monitoring_internal.metric_partitions() as p
                          where p.range_start = '2001-03-01 00:00+00'),
  'the partition is detached');
select is(
  (select array_agg(metric_name order by metric_name) from monitoring.pipeline_metrics where metric_name like 'pgtap.part.%'),
  array['pgtap.part.defaults', 'pgtap.part.future', 'pgtap.part.nextday'],
  'with its rows; the default''s row exactly 14 days old and younger ones stay');
select is(
  (select array[(r -> 'pipeline_metrics_partitions')::integer, (r -> 'pipeline_metrics_partitions_freed')::integer]
   from monitoring.purge_expired_metrics('2001-03-16 00:00+00', null) as r),
  array[0, 1], 'the next run drops the detached table (its files), and detaches nothing');
select ok(to_regclass('monitoring_internal.expired_pipeline_metrics_p20010301') is null, 'the detached table is gone');

-- A reference time ahead of now() may drop days still inside the 14-day
-- reach of change tracking: their minutes are recorded as changed, so no
-- rollup keeps counting rows that are gone.
-- The per-minute refresh reads pipeline_metrics and holds its lock until it
-- commits, which makes a detach skip (100 ms lock_timeout); holding the
-- refresh's own lock waits for a run in progress and makes the next ones skip.
select pg_advisory_xact_lock(hashtextextended('monitoring_internal.refresh_rollups:seal', 0));
create temp table pgtap_tomorrow on commit drop as
  select ((((now() at time zone 'UTC')::date + 1)::text || ' 00:00+00')::timestamptz) as t;
select is(
  (monitoring.purge_expired_metrics(now() + interval '16 days', null) -> 'pipeline_metrics_partitions')::integer
    >= 16, true, 'a reference time 16 days ahead detaches every day up to tomorrow');
select is(
  (select count(*)::integer from monitoring_internal.rollup_changes, pgtap_tomorrow
   where xid = pg_current_xact_id() and minute >= t and minute < t + interval '1 day'),
  1440, 'each minute of a removed day inside the 14-day reach is recorded as changed');

select * from finish();
rollback;

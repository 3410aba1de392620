-- pg_cron jobs: every periodic task is scheduled, by name, with a five-field
-- schedule, active, in this database, and the command it runs exists.
-- Scheduling again by name updates the job instead of adding a second one.
begin;
create extension if not exists pgtap with schema extensions;
select plan(9);

select has_extension('pg_cron', 'pg_cron is installed');

select results_eq(
  $$select jobname::text collate "default", schedule collate "default", command collate "default" from cron.job
    where jobname in ('hourly-metrics-aggregation', 'daily-metrics-aggregation', 'weekly-metrics-aggregation',
                      'metrics-retention', 'purge-old-monitoring-events')
    order by jobname$$,
  $$values ('daily-metrics-aggregation',   '15 0 * * *',   'select monitoring.aggregate_metrics(''daily'')'),
           ('hourly-metrics-aggregation',  '5 * * * *',    'select monitoring.aggregate_hourly_metrics()'),
           ('metrics-retention',           '*/15 * * * *', 'select monitoring.purge_expired_metrics()'),
           ('purge-old-monitoring-events', '0 0 * * 0',    'select public.purge_old_monitoring_events(30)'),
           ('weekly-metrics-aggregation',  '25 0 * * 1',   'select monitoring.aggregate_metrics(''weekly'')')$$,
  'each periodic task has its job, schedule and command');

select is_empty(
  $$select jobname from cron.job
    where jobname in ('hourly-metrics-aggregation', 'daily-metrics-aggregation', 'weekly-metrics-aggregation',
                      'metrics-retention', 'purge-old-monitoring-events')
      and (not active or database <> current_database() or array_length(regexp_split_to_array(schedule, '\s+'), 1) <> 5)$$,
  'every job is active, runs in this database and has a five-field schedule');

select is(
  (select count(*)::integer from cron.job where jobname like '%metrics%' or jobname like '%monitoring%'),
  (select count(distinct jobname)::integer from cron.job where jobname like '%metrics%' or jobname like '%monitoring%'),
  'no job name is scheduled twice');

-- The commands run: each job's SQL executes (inside this transaction, rolled back).
-- Only the last complete hour is left to aggregate, so the run stays small on a big database.
insert into monitoring.aggregation_watermarks (period, aggregated_until)
values ('hourly', date_trunc('hour', now() - interval '3 minutes', 'UTC') - interval '1 hour')
on conflict (period) do update set aggregated_until = excluded.aggregated_until;
select lives_ok($$select monitoring.aggregate_hourly_metrics()$$, 'the hourly job''s command runs');
select lives_ok($$select monitoring.purge_expired_metrics()$$, 'the retention job''s command runs');
select lives_ok($$select public.purge_old_monitoring_events(30)$$, 'the events job''s command runs');

-- Re-scheduling by name is idempotent: same job id, updated in place.
create temp table pgtap_job on commit drop as
  select jobid from cron.job where jobname = 'hourly-metrics-aggregation';
do $$ begin perform cron.schedule('hourly-metrics-aggregation', '5 * * * *', 'select monitoring.aggregate_hourly_metrics()'); end $$;
select is(
  (select array_agg(jobid) from cron.job where jobname = 'hourly-metrics-aggregation'),
  (select array_agg(jobid) from pgtap_job),
  'scheduling an existing name again keeps one job with the same id');
do $$ begin perform cron.schedule('hourly-metrics-aggregation', '7 * * * *', 'select monitoring.aggregate_hourly_metrics()'); end $$;
select is(
  (select schedule::text from cron.job where jobname = 'hourly-metrics-aggregation'), '7 * * * *',
  'and updates its schedule in place');

select * from finish();
rollback;

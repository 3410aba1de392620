-- pg_cron self-monitoring (20261211000300): schedule arithmetic, per-job
-- status (failed / missed / overrunning, the numbers behind them), the
-- cron_health component and its thresholds, the registry, and the history
-- prune (this project's jobs only, each job's latest run kept).
--
-- Everything happens inside this transaction (rolled back): jobs created with
-- cron.schedule here are never seen by pg_cron's scheduler, and their run
-- history is written by hand (postgres may write cron.job_run_details on the
-- hosted model). The project's real jobs are made quiet first (no history,
-- first seen now), so the counts are this file's. The checks run at a fixed
-- past time T (hh:07:30 of the previous hour), passed as p_now.
begin;
create extension if not exists pgtap with schema extensions;
select plan(31);

-- ------------------------------------------------------------ schedule arithmetic
select is(monitoring_internal.cron_recent_runs('*/15 * * * *', '2026-12-01 10:44:59+00', 'GMT', 2),
  array['2026-12-01 10:30+00', '2026-12-01 10:15+00']::timestamptz[], 'steps: the last two firings, newest first');
select is(monitoring_internal.cron_recent_runs('5 * * * *', '2026-12-01 10:05:00+00', 'GMT', 1),
  array['2026-12-01 10:05+00']::timestamptz[], 'a firing exactly at p_at counts');
select is(monitoring_internal.cron_recent_runs('25 0 * * 1', '2026-12-01 10:00+00', 'GMT', 2),
  array['2026-11-30 00:25+00', '2026-11-23 00:25+00']::timestamptz[], 'weekly on Mondays');
select is(monitoring_internal.cron_recent_runs('0 9 * * mon-fri', '2026-11-30 08:00+00', 'GMT', 1),
  array['2026-11-27 09:00+00']::timestamptz[], 'day names and ranges: Monday 08:00 looks back to Friday');
select is(monitoring_internal.cron_recent_runs('0 0 * * 7', '2026-12-01 10:00+00', 'GMT', 1),
  array['2026-11-29 00:00+00']::timestamptz[], '7 is Sunday');
select is(monitoring_internal.cron_recent_runs('0 12 13 * fri', '2026-12-01 10:00+00', 'GMT', 2),
  array['2026-11-27 12:00+00', '2026-11-20 12:00+00']::timestamptz[],
  'both day fields restricted: either matches (Vixie cron, as pg_cron)');
select is(monitoring_internal.cron_recent_runs('10-30/10 2 1 jan,jul *', '2026-12-01 10:00+00', 'GMT', 2),
  array['2026-07-01 02:30+00', '2026-07-01 02:20+00']::timestamptz[], 'a stepped range, month names, lists');
select is(monitoring_internal.cron_recent_runs('@yearly', '2026-12-01 10:00+00', 'GMT', 2),
  array['2026-01-01 00:00+00', '2025-01-01 00:00+00']::timestamptz[], 'macros; a yearly schedule has two firings too');
select is(monitoring_internal.cron_recent_runs('0 3 * * *', '2026-12-01 10:00+00', 'Europe/Paris', 1),
  array['2026-12-01 02:00+00']::timestamptz[], 'in pg_cron''s time zone');
select is(monitoring_internal.cron_recent_runs('0 0 $ * *', now(), 'GMT', 1), null,
  'a schedule it cannot read gives null (the job is judged on failures only)');
select is(monitoring_internal.cron_recent_runs('61 * * * *', now(), 'GMT', 1), null, 'out of range: null');

-- ------------------------------------------------------------ jobs and their history
delete from cron.job_run_details where jobid in (select jobid from monitoring_internal.cron_project_jobs());
create temp table pgtap_t on commit drop as
  select date_trunc('hour', now(), 'UTC') - interval '1 hour' + interval '7 minutes 30 seconds' as t;
create function pg_temp.t() returns timestamptz language sql as $$ select t from pgtap_t $$;
create function pg_temp.job(p_name text) returns bigint language sql as $$
  select jobid from cron.job where jobname = p_name
$$;
create function pg_temp.run(p_job text, p_status text, p_start interval, p_seconds double precision, p_msg text default null)
returns void language sql as $$
  insert into cron.job_run_details (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)
  select j.jobid, 1, current_database(), 'postgres', j.command, p_status, coalesce(p_msg, p_status),
         pg_temp.t() + p_start,
         case when p_status in ('succeeded', 'failed') then pg_temp.t() + p_start + make_interval(secs => p_seconds) end
  from cron.job as j where j.jobname = p_job
$$;

select cron.schedule('pgtap-cron-ok',      '* * * * *',    'select monitoring.record_queue_depths()');
select cron.schedule('pgtap-cron-failed',  '*/5 * * * *',  'select 1/0 from monitoring.health_thresholds');
select cron.schedule('pgtap-cron-missed',  '* * * * *',    'select monitoring_internal.register_cron_jobs()');
select cron.schedule('pgtap-cron-yearly',  '0 0 1 1 *',    'select monitoring.prune_cron_history()');
select cron.schedule('pgtap-cron-new',     '0 0 1 1 *',    'select monitoring.prune_cron_history()');
select cron.schedule('pgtap-cron-overrun', '*/5 * * * *',  'select monitoring.purge_expired_metrics()');
select cron.schedule('pgtap-cron-paused',  '* * * * *',    'select monitoring.purge_expired_metrics()');
select cron.schedule('pgtap-other-team',   '* * * * *',    'select 1');
select cron.alter_job(pg_temp.job('pgtap-cron-paused'), active := false);

select monitoring_internal.register_cron_jobs();
select ok(pg_temp.job('pgtap-cron-ok') in (select jobid from monitoring_internal.cron_job_registry),
  'the registry notes this project''s jobs');
select ok(pg_temp.job('pgtap-other-team') not in (select jobid from monitoring_internal.cron_project_jobs()),
  'a job that does not call into monitoring is not this project''s');
-- Real jobs first seen now (after every due time at T); test jobs long ago, but for pgtap-cron-new.
update monitoring_internal.cron_job_registry set first_seen_at = now();
update monitoring_internal.cron_job_registry set first_seen_at = pg_temp.t() - interval '2 years'
where jobname like 'pgtap-cron-%' and jobname <> 'pgtap-cron-new';

select pg_temp.run('pgtap-cron-ok', 'succeeded', interval '-30 seconds', 0.2);
select pg_temp.run('pgtap-cron-failed', 'succeeded', interval '-17 minutes -28 seconds', 0.1);
select pg_temp.run('pgtap-cron-failed', 'failed', interval '-12 minutes -28 seconds', 0.1, 'ERROR:  division by zero');
select pg_temp.run('pgtap-cron-failed', 'failed', interval '-7 minutes -28 seconds', 0.1, 'ERROR:  division by zero');
select pg_temp.run('pgtap-cron-failed', 'failed', interval '-2 minutes -28 seconds', 0.1, 'ERROR:  division by zero');
select pg_temp.run('pgtap-cron-missed', 'succeeded', interval '-10 minutes', 0.1);
select pg_temp.run('pgtap-cron-overrun', 'running', interval '-8 minutes -30 seconds', null);
select pg_temp.run('pgtap-other-team', 'failed', interval '-1 minute', 0.1);

select results_eq(
  $$select jobname, expected_interval_seconds, last_due_at, failed, missed, overrunning, consecutive_failures
    from monitoring_internal.cron_job_status(pg_temp.t()) where jobname like 'pgtap-%' order by jobname$$,
  $$values
    ('pgtap-cron-failed',  300::double precision, pg_temp.t() - interval '2 minutes 30 seconds', true,  false, false, 3::bigint),
    ('pgtap-cron-missed',  60,  pg_temp.t() - interval '2 minutes 30 seconds', false, true,  false, 0),
    ('pgtap-cron-new',     365 * 86400, date_trunc('year', pg_temp.t() - interval '2 minutes', 'UTC'), false, false, false, 0),
    ('pgtap-cron-ok',      60,  pg_temp.t() - interval '2 minutes 30 seconds', false, false, false, 0),
    ('pgtap-cron-overrun', 300, pg_temp.t() - interval '2 minutes 30 seconds', false, false, true,  0),
    ('pgtap-cron-paused',  60,  pg_temp.t() - interval '2 minutes 30 seconds', false, false, false, 0),
    ('pgtap-cron-yearly',  365 * 86400, date_trunc('year', pg_temp.t() - interval '2 minutes', 'UTC'), false, true, false, 0)$$,
  'per job: interval, due time (2 min grace), failed with 3 failures in a row, missed (a run expected since the due '
  'time, or a yearly run never seen), a job first seen after its due time is not missed, overrunning (running '
  '8.5 min on a 5 min schedule, and not missed), a paused job is not judged; other teams'' jobs are not listed');

select is(
  (select last_message from monitoring_internal.cron_job_status(pg_temp.t()) where jobname = 'pgtap-cron-failed'),
  'ERROR:  division by zero', 'the last failure''s message');

create temp table pgtap_h on commit drop as select monitoring_internal.health_cron(pg_temp.t()) as h;
select is(
  (select h - 'problem_jobs' - 'jobs_checked' from pgtap_h),
  '{"status": "critical", "inactive_jobs": 1, "failed_jobs": 1, "missed_jobs": 2, "overrunning_jobs": 1,
    "max_consecutive_failures": 3}'::jsonb,
  'cron_health: the numbers behind the status');
select is(
  (select (h ->> 'jobs_checked')::bigint from pgtap_h),
  (select count(*) from monitoring_internal.cron_project_jobs() where active),
  'cron_health checks every active job of this project');
select is(
  (select jsonb_agg(jsonb_build_object('j', p ->> 'jobname', 'p', p -> 'problems') order by p ->> 'jobname')
   from pgtap_h, jsonb_array_elements(h -> 'problem_jobs') as p),
  '[{"j": "pgtap-cron-failed", "p": ["failed"]}, {"j": "pgtap-cron-missed", "p": ["missed"]},
    {"j": "pgtap-cron-overrun", "p": ["overrunning"]}, {"j": "pgtap-cron-yearly", "p": ["missed"]}]'::jsonb,
  'problem_jobs lists each failed, missed or overrunning job and why');
select is(
  (select p - 'last_run_started_at' - 'last_due_at' from pgtap_h, jsonb_array_elements(h -> 'problem_jobs') as p
   where p ->> 'jobname' = 'pgtap-cron-failed'),
  '{"jobname": "pgtap-cron-failed", "schedule": "*/5 * * * *", "problems": ["failed"], "last_run_status": "failed",
    "last_run_seconds": 0.100, "expected_interval_seconds": 300, "consecutive_failures": 3,
    "last_message": "ERROR:  division by zero"}'::jsonb,
  'and the numbers behind it');

-- Thresholds: more than one missed job is critical; fewer is a warning; so are failures up to 2 in a row.
select cron.unschedule(pg_temp.job('pgtap-cron-yearly'));
update monitoring.health_thresholds set value = 3 where setting = 'cron_consecutive_failures_critical';
select is(monitoring_internal.health_cron(pg_temp.t()) ->> 'status', 'warning',
  'one missed job, 3 failures in a row with the critical threshold raised to 3: warning');
update monitoring.health_thresholds set value = 0 where setting = 'cron_missed_jobs_critical';
select is(monitoring_internal.health_cron(pg_temp.t()) ->> 'status', 'critical',
  'cron_missed_jobs_critical is read from the settings');
update monitoring.health_thresholds set value = 1 where setting = 'cron_missed_jobs_critical';
-- A run at the due time clears "missed"; a success clears "failed".
select pg_temp.run('pgtap-cron-missed', 'succeeded', interval '-2 minutes -29 seconds', 0.1);
select pg_temp.run('pgtap-cron-failed', 'succeeded', interval '-1 minute', 0.1);
select results_eq(
  $$select jobname, failed, missed, consecutive_failures from monitoring_internal.cron_job_status(pg_temp.t())
    where jobname in ('pgtap-cron-failed', 'pgtap-cron-missed') order by jobname$$,
  $$values ('pgtap-cron-failed', false, false, 0::bigint), ('pgtap-cron-missed', false, false, 0)$$,
  'a run since the due time is not missed; a success after failures resets them');
select is(monitoring_internal.health_cron(pg_temp.t()) ->> 'status', 'warning', 'left: the overrunning job, a warning');
update monitoring.health_thresholds set value = 1 where setting = 'cron_overrunning_jobs_warning';
select is(monitoring_internal.health_cron(pg_temp.t()) ->> 'status', 'healthy', 'its threshold is a setting too');

-- get_system_health carries the component and counts it in overall_status.
select ok(public.get_system_health() ? 'cron_health', 'get_system_health has cron_health');

-- service_role: no access to pg_cron's tables, yet cron_health works for it.
set local role service_role;
select throws_ok($$select count(*) from cron.job_run_details$$, '42501', null, 'service_role cannot read pg_cron''s history');
select is(public.get_system_health() -> 'cron_health' ->> 'jobs_checked',
  (select count(*)::text from monitoring_internal.cron_project_jobs() where active),
  'yet get_system_health reports cron_health for it (SECURITY DEFINER readers)');
reset role;

-- ------------------------------------------------------------ prune
-- Runs are inserted oldest first, as pg_cron numbers them (runid).
select cron.schedule('pgtap-cron-prune', '0 * * * *', 'select monitoring.prune_cron_history()');
select cron.schedule('pgtap-cron-rare', '0 0 1 1 *', 'select monitoring.prune_cron_history()');
select pg_temp.run('pgtap-cron-prune', 'succeeded', interval '-10 days', 0.1);
select pg_temp.run('pgtap-cron-prune', 'succeeded', interval '-8 days', 0.1);
select pg_temp.run('pgtap-cron-prune', 'succeeded', interval '-1 day', 0.1);
select pg_temp.run('pgtap-other-team', 'succeeded', interval '-10 days', 0.1);
select pg_temp.run('pgtap-cron-rare', 'succeeded', interval '-30 days', 0.1);
create temp table pgtap_pruned on commit drop as select monitoring.prune_cron_history(pg_temp.t()) as n;
select is((select n from pgtap_pruned), 2::bigint,
  'prune deletes this project''s runs older than 7 days (two here) and returns the count');
select results_eq(
  $$select j.jobname::text collate "default", count(*)::integer from cron.job_run_details as d join cron.job as j using (jobid)
    where j.jobname in ('pgtap-cron-prune', 'pgtap-other-team', 'pgtap-cron-rare') group by 1 order by 1$$,
  $$values ('pgtap-cron-prune', 1), ('pgtap-cron-rare', 1), ('pgtap-other-team', 2)$$,
  'other teams'' history is left alone; a job''s latest run is kept however old');
select throws_ok($$select monitoring.prune_cron_history(now(), 0)$$, '22023', null, 'a retention below one day is refused');

-- ------------------------------------------------------------ the jobs
select results_eq(
  $$select jobname::text collate "default", schedule collate "default", command collate "default" from cron.job
    where jobname in ('cron-job-registry', 'cron-history-prune', 'worker-heartbeat-retention') order by jobname$$,
  $$values ('cron-history-prune', '30 0 * * *', 'select monitoring.prune_cron_history()'),
           ('cron-job-registry', '*/10 * * * *', 'select monitoring_internal.register_cron_jobs()'),
           ('worker-heartbeat-retention', '40 0 * * *', 'select monitoring_internal.purge_worker_heartbeats()')$$,
  'the machinery''s own jobs are scheduled');

select * from finish();
rollback;

-- pg_cron self-monitoring: is each of this project's jobs running, on time,
-- successfully? And a bounded cron.job_run_details (pg_cron never prunes it).
--
-- Owns: monitoring_internal.cron_job_registry (when each job was first seen),
-- the schedule arithmetic monitoring_internal.cron_field_values() and
-- cron_recent_runs(), the SECURITY DEFINER
-- readers monitoring_internal.cron_project_jobs(), register_cron_jobs() and
-- cron_job_status(), the health component monitoring_internal.health_cron(),
-- and monitoring.prune_cron_history().
--
-- "This project's jobs": pg_cron jobs of this database whose command calls
-- into schema monitoring or monitoring_internal, or public.purge_old_monitoring_events
-- (cron_project_jobs()); other teams' jobs are neither judged nor pruned.
-- A job that is not active (cron.alter_job(active := false)) is paused on
-- purpose and not judged.
--
-- Per job (cron_job_status), with pg_cron's time zone (cron.timezone, GMT):
-- * failed: its last completed run (succeeded | failed) failed;
--   consecutive_failures = failed runs since its last success.
-- * missed: the latest time its schedule fired, at least cron_missed_grace_seconds
--   (120) ago, has no run that started then or later (30 s of clock slack), the
--   job is not still running, and the job was seen (cron_job_registry) before
--   that time: a job scheduled yesterday for Mondays is not "missed" today.
--   The registry is filled at deploy and every 10 minutes (job
--   cron-job-registry, 20261211000500).
-- * overrunning: its latest run took (or, still running, has taken) longer
--   than its schedule's interval (the gap between its last two firing times
--   before the due time).
-- Schedules: five fields with numbers, names (jan, mon), ranges, lists, steps,
-- the @hourly/@daily/@weekly/@monthly/@yearly macros, and pg_cron's
-- 'N seconds'. Anything else (e.g. '$' for the last day of the month) gives a
-- null interval: such a job is judged only on failures.
--
-- cron_health (in public.get_system_health(), 20261211000600):
--   warning:  failed_jobs > cron_failed_jobs_warning (0), missed_jobs >
--             cron_missed_jobs_warning (0), overrunning_jobs > cron_overrunning_jobs_warning (0)
--   critical: max_consecutive_failures > cron_consecutive_failures_critical (2),
--             missed_jobs > cron_missed_jobs_critical (1: pg_cron itself is likely down)
--   with jobs_checked, inactive_jobs and problem_jobs (each failed, missed or
--   overrunning job and the numbers behind it; its last error message cut to 500 chars).
--
-- Privileges (the hosted role model): postgres may read cron.job and
-- cron.job_run_details and delete from the latter; service_role may neither.
-- The SECURITY DEFINER functions (owner postgres, search_path '') read them for
-- the health check, which service_role calls as itself (SECURITY INVOKER).
-- Cost: cron.job_run_details has no index but its primary key, and only its
-- owner could add one; cron_job_status reads this project's rows of it once
-- per call. The daily prune keeps those to ~7 days (about 2,900 rows a day for
-- the per-minute jobs).
--
-- monitoring.prune_cron_history(p_now, p_older_than_days): deletes this
-- project's jobs' runs that ended (or started) more than cron_run_history_days
-- (7) ago, keeping each job's latest run so its status stays known; returns the
-- rows deleted. Run daily by the job cron-history-prune. Pruning every job's
-- history (other teams' too) is the project owner's call: README.

-- ---------------------------------------------------------------- registry
create table monitoring_internal.cron_job_registry (
  jobid         bigint,
  jobname       text,
  first_seen_at timestamptz not null default now(),
  constraint cron_job_registry_pkey primary key (jobid)
);
comment on table monitoring_internal.cron_job_registry is
  'When each of this project''s pg_cron jobs was first seen: a job is not missed before it existed.';

alter table monitoring_internal.cron_job_registry enable row level security;
create policy cron_job_registry_service_role_read on monitoring_internal.cron_job_registry
  as permissive for select to service_role using (true);
revoke all on monitoring_internal.cron_job_registry from public, anon, authenticated, service_role;
grant select on monitoring_internal.cron_job_registry to service_role;

-- ---------------------------------------------------------------- schedule arithmetic
-- The values of one cron field in [p_min, p_max] (names already replaced by
-- numbers), sorted; null when the field cannot be read.
create or replace function monitoring_internal.cron_field_values(p_field text, p_min integer, p_max integer)
returns integer[]
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_part text;
  v_m    text[];
  v_lo   integer;
  v_hi   integer;
  v_step integer;
  v_out  integer[] := array[]::integer[];
begin
  foreach v_part in array string_to_array(p_field, ',') loop
    v_m := regexp_match(v_part, '^(\*|(\d{1,2})(?:-(\d{1,2}))?)(?:/(\d{1,2}))?$');
    if v_m is null then
      return null;
    end if;
    if v_m[1] = '*' then
      v_lo := p_min;
      v_hi := p_max;
    else
      v_lo := v_m[2]::integer;
      v_hi := coalesce(v_m[3]::integer, case when v_m[4] is not null then p_max else v_lo end);
    end if;
    v_step := coalesce(v_m[4]::integer, 1);
    if v_lo < p_min or v_hi > p_max or v_lo > v_hi or v_step < 1 then
      return null;
    end if;
    v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
  end loop;
  return array(select distinct u.v from unnest(v_out) as u(v) order by 1);
end;
$$;

comment on function monitoring_internal.cron_field_values(text, integer, integer) is
  'The sorted values of one numeric cron field (*, n, a-b, lists, /step); null if unreadable.';

-- The latest p_count minutes at or before p_at (in time zone p_tz) when a
-- five-field schedule fires, newest first; null for a schedule it cannot read
-- (fewer elements when it fires less often than p_count times in 367 * p_count days).
create or replace function monitoring_internal.cron_recent_runs(
  p_schedule text, p_at timestamptz, p_tz text, p_count integer default 1)
returns timestamptz[]
language plpgsql
stable
set search_path = ''
as $$
declare
  v_sched  text := lower(btrim(p_schedule));
  v_fields text[];
  v_min    integer[];
  v_hour   integer[];
  v_dom    integer[];
  v_month  integer[];
  v_dow    integer[];
  v_any    boolean;
  v_local  timestamp := date_trunc('minute', p_at at time zone p_tz);
  v_cur_h  integer := extract(hour from v_local)::integer;
  v_cur_m  integer := extract(minute from v_local)::integer;
  v_day    date;
  v_h      integer;
  v_m      integer;
  v_name   text;
  v_i      integer;
  v_out    timestamptz[] := array[]::timestamptz[];
begin
  v_sched := case v_sched
    when '@yearly' then '0 0 1 1 *' when '@annually' then '0 0 1 1 *' when '@monthly' then '0 0 1 * *'
    when '@weekly' then '0 0 * * 0' when '@daily' then '0 0 * * *' when '@midnight' then '0 0 * * *'
    when '@hourly' then '0 * * * *' else v_sched end;
  v_fields := regexp_split_to_array(v_sched, '\s+');
  if array_length(v_fields, 1) <> 5 then
    return null;
  end if;
  v_i := 0;
  foreach v_name in array array['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'] loop
    v_i := v_i + 1;
    v_fields[4] := replace(v_fields[4], v_name, v_i::text);
  end loop;
  v_i := -1;
  foreach v_name in array array['sun','mon','tue','wed','thu','fri','sat'] loop
    v_i := v_i + 1;
    v_fields[5] := replace(v_fields[5], v_name, v_i::text);
  end loop;
  v_min   := monitoring_internal.cron_field_values(v_fields[1], 0, 59);
  v_hour  := monitoring_internal.cron_field_values(v_fields[2], 0, 23);
  v_dom   := monitoring_internal.cron_field_values(v_fields[3], 1, 31);
  v_month := monitoring_internal.cron_field_values(v_fields[4], 1, 12);
  v_dow   := monitoring_internal.cron_field_values(v_fields[5], 0, 7);
  if v_min is null or v_hour is null or v_dom is null or v_month is null or v_dow is null then
    return null;
  end if;
  -- 7 is Sunday too.
  if 7 = any (v_dow) then
    v_dow := v_dow || 0;
  end if;
  -- Vixie cron, as pg_cron: when both day fields are restricted, either may match.
  v_any := left(v_fields[3], 1) <> '*' and left(v_fields[5], 1) <> '*';

  -- Plain loops over the sorted arrays (no queries): this runs for every job on
  -- every health check.
  for v_i in 0..(367 * greatest(p_count, 1)) loop
    v_day := v_local::date - v_i;
    continue when not (extract(month from v_day)::integer = any (v_month));
    if v_any then
      continue when not (extract(day from v_day)::integer = any (v_dom)
                         or extract(dow from v_day)::integer = any (v_dow));
    else
      continue when not (extract(day from v_day)::integer = any (v_dom)
                         and extract(dow from v_day)::integer = any (v_dow));
    end if;
    for v_j in reverse array_length(v_hour, 1)..1 loop
      v_h := v_hour[v_j];
      continue when v_i = 0 and v_h > v_cur_h;
      for v_k in reverse array_length(v_min, 1)..1 loop
        v_m := v_min[v_k];
        if v_i > 0 or v_h < v_cur_h or v_m <= v_cur_m then
          v_out := v_out || ((v_day + make_interval(hours => v_h, mins => v_m)) at time zone p_tz);
          if cardinality(v_out) >= p_count then
            return v_out;
          end if;
        end if;
      end loop;
    end loop;
  end loop;
  return v_out;
end;
$$;

comment on function monitoring_internal.cron_recent_runs(text, timestamptz, text, integer) is
  'The latest p_count times at or before p_at when a five-field cron schedule fires (time zone p_tz), '
  'newest first; null if unreadable.';

-- ---------------------------------------------------------------- this project's jobs
create or replace function monitoring_internal.cron_project_jobs()
returns table (jobid bigint, jobname text, schedule text, active boolean)
language sql
stable
-- Definer: cron.job is readable by postgres, not by service_role.
security definer
set search_path = ''
as $$
  select j.jobid, j.jobname::text, j.schedule::text, j.active
  from cron.job as j
  where j.database = current_database()
    and j.command ~ '\m(monitoring|monitoring_internal)\.|\mpurge_old_monitoring_events\M';
$$;

comment on function monitoring_internal.cron_project_jobs() is
  'This project''s pg_cron jobs: this database''s jobs calling into monitoring, monitoring_internal '
  'or purge_old_monitoring_events.';

create or replace function monitoring_internal.register_cron_jobs()
returns integer
language plpgsql
volatile
-- Definer: service_role may not write monitoring_internal.
security definer
set search_path = ''
as $$
declare
  v_rows integer;
begin
  insert into monitoring_internal.cron_job_registry as r (jobid, jobname)
  select j.jobid, j.jobname from monitoring_internal.cron_project_jobs() as j
  on conflict (jobid) do update set jobname = excluded.jobname
    where r.jobname is distinct from excluded.jobname;
  get diagnostics v_rows = row_count;
  delete from monitoring_internal.cron_job_registry as r
  where r.jobid not in (select j.jobid from monitoring_internal.cron_project_jobs() as j);
  return v_rows;
end;
$$;

comment on function monitoring_internal.register_cron_jobs() is
  'Notes when each of this project''s pg_cron jobs was first seen; forgets unscheduled ones.';

-- ---------------------------------------------------------------- per job
create or replace function monitoring_internal.cron_job_status(p_now timestamptz default now())
returns table (
  jobid                     bigint,
  jobname                   text,
  schedule                  text,
  active                    boolean,
  expected_interval_seconds double precision,
  last_due_at               timestamptz,
  first_seen_at             timestamptz,
  last_run_status           text,
  last_run_started_at       timestamptz,
  last_run_seconds          double precision,
  last_completed_status     text,
  last_message              text,
  consecutive_failures      bigint,
  failed                    boolean,
  missed                    boolean,
  overrunning               boolean
)
language plpgsql
stable
-- Definer: cron.job_run_details is readable by postgres, not by service_role.
security definer
set search_path = ''
as $$
declare
  v_grace double precision :=
    (monitoring_internal.health_settings(array['cron_missed_grace_seconds']) ->> 'cron_missed_grace_seconds')::double precision;
  v_tz    text := coalesce(nullif(current_setting('cron.timezone', true), ''), 'GMT');
begin
  return query
  with jobs as (
    select j.jobid, j.jobname, j.schedule, j.active, g.first_seen_at,
           (regexp_match(j.schedule, '^\s*(\d+)\s+seconds?\s*$', 'i'))[1]::double precision as every_seconds
    from monitoring_internal.cron_project_jobs() as j
    left join monitoring_internal.cron_job_registry as g on g.jobid = j.jobid
  ),
  -- Each distinct schedule's last two firing times before now() - grace: the
  -- due time and, by their gap, the interval. 'N seconds' schedules: due N s
  -- before that.
  times as (
    select x.schedule,
           monitoring_internal.cron_recent_runs(x.schedule, p_now - make_interval(secs => v_grace), v_tz, 2) as t
    from (select distinct j.schedule from jobs as j where j.every_seconds is null) as x
  ),
  sched as (
    select j.*,
           coalesce(make_interval(secs => j.every_seconds), t.t[1] - t.t[2]) as iv,
           coalesce(p_now - make_interval(secs => v_grace + j.every_seconds), t.t[1]) as due
    from jobs as j
    left join times as t on t.schedule = j.schedule
  ),
  runs as materialized (
    select d.jobid, d.runid, d.status, d.start_time, d.end_time, d.return_message
    from cron.job_run_details as d
    where d.jobid in (select j.jobid from jobs as j)
  ),
  latest as (
    select distinct on (r.jobid) r.* from runs as r order by r.jobid, r.runid desc
  ),
  latest_done as (
    select distinct on (r.jobid) r.* from runs as r
    where r.status in ('succeeded', 'failed') order by r.jobid, r.runid desc
  ),
  per_job as (
    select r.jobid,
           max(r.start_time) as last_start,
           max(r.runid) filter (where r.status = 'succeeded') as last_ok
    from runs as r group by r.jobid
  )
  select s.jobid, s.jobname, s.schedule, s.active,
         extract(epoch from s.iv)::double precision,
         s.due, s.first_seen_at,
         l.status, l.start_time,
         extract(epoch from coalesce(l.end_time, p_now) - l.start_time)::double precision,
         d.status, left(d.return_message, 500),
         (select count(*) from runs as f
          where f.jobid = s.jobid and f.status = 'failed' and f.runid > coalesce(p.last_ok, 0)),
         coalesce(s.active and d.status = 'failed', false),
         coalesce(s.active
                  and s.due is not null
                  and s.first_seen_at < s.due
                  and (p.last_start is null or p.last_start < s.due - interval '30 seconds')
                  and coalesce(l.status, '') not in ('starting', 'running', 'sending', 'connecting'), false),
         coalesce(s.active
                  and s.iv is not null
                  and coalesce(l.end_time, p_now) - l.start_time > s.iv, false)
  from sched as s
  left join latest as l on l.jobid = s.jobid
  left join latest_done as d on d.jobid = s.jobid
  left join per_job as p on p.jobid = s.jobid
  order by s.jobname, s.jobid;
end;
$$;

comment on function monitoring_internal.cron_job_status(timestamptz) is
  'Per project pg_cron job: schedule interval, last due time, last run, consecutive failures; '
  'failed / missed / overrunning flags.';

-- ---------------------------------------------------------------- health component
create or replace function monitoring_internal.health_cron(p_now timestamptz default now())
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_th jsonb := monitoring_internal.health_settings(array[
                  'cron_failed_jobs_warning', 'cron_consecutive_failures_critical', 'cron_missed_jobs_warning',
                  'cron_missed_jobs_critical', 'cron_overrunning_jobs_warning']);
  v    record;
begin
  select count(*) filter (where s.active) as checked,
         count(*) filter (where not s.active) as inactive,
         count(*) filter (where s.failed) as failed,
         count(*) filter (where s.missed) as missed,
         count(*) filter (where s.overrunning) as overrunning,
         coalesce(max(s.consecutive_failures) filter (where s.active), 0) as max_failures,
         coalesce(jsonb_agg(jsonb_build_object(
           'jobname', s.jobname,
           'schedule', s.schedule,
           'problems', to_jsonb(array_remove(array[
              case when s.failed then 'failed' end,
              case when s.missed then 'missed' end,
              case when s.overrunning then 'overrunning' end], null)),
           'last_run_status', s.last_run_status,
           'last_run_started_at', s.last_run_started_at,
           'last_run_seconds', round(s.last_run_seconds::numeric, 3),
           'expected_interval_seconds', s.expected_interval_seconds,
           'last_due_at', s.last_due_at,
           'consecutive_failures', s.consecutive_failures,
           'last_message', s.last_message) order by s.jobname)
           filter (where s.failed or s.missed or s.overrunning), '[]'::jsonb) as problems
  into v
  from monitoring_internal.cron_job_status(p_now) as s;

  return jsonb_build_object(
    'status', case
      when v.max_failures > (v_th ->> 'cron_consecutive_failures_critical')::double precision
        or v.missed > (v_th ->> 'cron_missed_jobs_critical')::double precision then 'critical'
      when v.failed > (v_th ->> 'cron_failed_jobs_warning')::double precision
        or v.missed > (v_th ->> 'cron_missed_jobs_warning')::double precision
        or v.overrunning > (v_th ->> 'cron_overrunning_jobs_warning')::double precision then 'warning'
      else 'healthy' end,
    'jobs_checked', v.checked,
    'inactive_jobs', v.inactive,
    'failed_jobs', v.failed,
    'missed_jobs', v.missed,
    'overrunning_jobs', v.overrunning,
    'max_consecutive_failures', v.max_failures,
    'problem_jobs', v.problems);
end;
$$;

comment on function monitoring_internal.health_cron(timestamptz) is
  'cron_health of get_system_health(): this project''s pg_cron jobs that failed, were missed or overran.';

-- ---------------------------------------------------------------- prune
create or replace function monitoring.prune_cron_history(
  p_now timestamptz default now(), p_older_than_days integer default null)
returns bigint
language plpgsql
volatile
-- Definer: deleting from cron.job_run_details is postgres's right, not service_role's.
security definer
set search_path = ''
as $$
declare
  v_days double precision := coalesce(p_older_than_days::double precision,
    (monitoring_internal.health_settings(array['cron_run_history_days']) ->> 'cron_run_history_days')::double precision);
  v_rows bigint;
begin
  if v_days is null or v_days < 1 then
    raise exception using errcode = '22023', message = 'p_older_than_days must be >= 1';
  end if;
  delete from cron.job_run_details as d
  where d.jobid in (select j.jobid from monitoring_internal.cron_project_jobs() as j)
    and coalesce(d.end_time, d.start_time) < p_now - make_interval(days => v_days::integer)
    and d.runid not in (select max(x.runid) from cron.job_run_details as x group by x.jobid);
  get diagnostics v_rows = row_count;
  return v_rows;
end;
$$;

comment on function monitoring.prune_cron_history(timestamptz, integer) is
  'Deletes this project''s pg_cron run history older than cron_run_history_days (7), keeping each job''s '
  'latest run; returns the rows deleted.';

-- ---------------------------------------------------------------- access
revoke all on function monitoring_internal.cron_field_values(text, integer, integer),
  monitoring_internal.cron_recent_runs(text, timestamptz, text, integer),
  monitoring_internal.cron_project_jobs(),
  monitoring_internal.register_cron_jobs(),
  monitoring_internal.cron_job_status(timestamptz),
  monitoring_internal.health_cron(timestamptz),
  monitoring.prune_cron_history(timestamptz, integer)
  from public, anon, authenticated;
grant execute on function monitoring_internal.cron_field_values(text, integer, integer),
  monitoring_internal.cron_recent_runs(text, timestamptz, text, integer),
  monitoring_internal.cron_project_jobs(),
  monitoring_internal.register_cron_jobs(),
  monitoring_internal.cron_job_status(timestamptz),
  monitoring_internal.health_cron(timestamptz),
  monitoring.prune_cron_history(timestamptz, integer)
  to service_role;

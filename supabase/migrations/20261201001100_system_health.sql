-- public.get_system_health(): the spec's health check, completed.
--
-- Owns: monitoring_internal.health_settings(text[]), health_worst_status(text[]),
-- one function per component returning its jsonb (health_queue(),
-- health_processing() with its raw-row reader health_raw_stats(), health_workers()),
-- and public.get_system_health(), a thin combiner over them. A later release
-- adds a component by adding its function and replacing only the combiner.
--
-- Three components, each with a status (healthy | warning | critical) and the
-- numbers behind it; overall_status is the worst of the three. Thresholds come
-- from monitoring.health_thresholds (defaults in 20261201000300); a status
-- escalates when a number exceeds its threshold.
--
-- queue_health       from public.queue_monitoring_view: queues_checked,
--                    queues_with_issues (queues with stuck messages),
--                    total_stuck_messages, last_check_time.
--                    warning/critical: total_stuck_messages > queue_stuck_messages_warning (0)
--                                      / > queue_stuck_messages_critical (10).
-- processing_health  queue_processing and api_call metrics of the last
--                    processing_window_minutes (15): total_batches,
--                    messages_processed (batch_size, else success_count +
--                    error_count), batch_error_rate = errors / (successes +
--                    errors) over messages, throughput_per_minute =
--                    messages_processed / window, api_calls, api_error_rate =
--                    failed / (succeeded + failed) calls. Rates are fractions
--                    in [0,1], null without data. A rate moves the status only
--                    when computed over at least processing_min_samples (10)
--                    messages or calls.
--                    warning/critical: either rate > *_error_rate_warning (0.05)
--                                      / > *_error_rate_critical (0.25).
-- worker_health      unresolved monitoring.worker_issues created in the last
--                    worker_issue_lookback_hours (24), by severity. Workers
--                    rarely resolve their issues, so older open issues no
--                    longer drive the status (they stay in the table).
--                    warning:  warning issues > 0 or error issues > 0
--                    critical: error issues > 5 or critical issues > 0
--                    (info issues are counted, never alarming).
-- No data at all is healthy: an idle pipeline is not a failing one.
-- Each component reads the settings it needs (monitoring_internal.health_settings);
-- a missing one is an error (P0002) naming it.
--
-- SECURITY INVOKER, on purpose: the function needs nothing service_role
-- lacks (pgmq access is confined to the definer function behind
-- queue_monitoring_view), so it cannot become a path around privileges; and
-- only service_role may execute it.
-- Every read is an index range scan over a recent window:
-- pipeline_metrics_name_timestamp_idx, worker_issues_open_idx,
-- queue_snapshots_captured_at_idx, the minute rollups' minute indexes.
--
-- Processing reads its window from rollups: at 10 million raw rows the health
-- check took a 31 ms median (target 25 ms), nearly all of it parsing the tags
-- of every queue_processing and api_call row of its 15-minute window (now
-- ~14 ms). It adds up trusted minute rollups lying wholly inside the window
-- and reads raw rows only for the last few minutes and any minute without a
-- trusted rollup (exact: see 20261201000600), so its cost no longer grows with
-- the metric rate. Polled every few seconds and done in milliseconds: JIT
-- compilation (jit = off) would only add to it.

-- ---------------------------------------------------------------- settings
-- The settings a component needs, as {setting: value}; a missing one is an
-- error naming it (service_role cannot delete settings, but the owner can).
create or replace function monitoring_internal.health_settings(p_settings text[])
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_th      jsonb;
  v_missing text[];
begin
  select jsonb_object_agg(t.setting, t.value) into v_th
  from monitoring.health_thresholds as t
  where t.setting = any (p_settings);
  select array_agg(u.k order by u.i) into v_missing
  from unnest(p_settings) with ordinality as u(k, i)
  where not coalesce(v_th ? u.k, false);
  if v_missing is not null then
    raise exception using errcode = 'P0002',
      message = format('monitoring.health_thresholds lacks %s', array_to_string(v_missing, ', '));
  end if;
  return v_th;
end;
$$;

comment on function monitoring_internal.health_settings(text[]) is
  'The given health thresholds as {setting: value}; raises P0002 naming any that is missing.';

-- healthy < warning < critical; null statuses are ignored.
create or replace function monitoring_internal.health_worst_status(p_statuses text[])
returns text
language sql
immutable
set search_path = ''
as $$
  select (array['healthy', 'warning', 'critical'])[
    coalesce(max(array_position(array['healthy', 'warning', 'critical'], s.status)), 1)]
  from unnest(p_statuses) as s(status);
$$;

comment on function monitoring_internal.health_worst_status(text[]) is
  'The worst of healthy|warning|critical among the given statuses (healthy for none).';

-- ---------------------------------------------------------------- queue
create or replace function monitoring_internal.health_queue()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_th          jsonb := monitoring_internal.health_settings(
                           array['queue_stuck_messages_warning', 'queue_stuck_messages_critical']);
  v_queues      bigint;
  v_with_issues bigint;
  v_stuck       bigint;
  v_last_check  timestamptz;
begin
  select count(*), count(*) filter (where q.stuck_messages > 0),
         coalesce(sum(q.stuck_messages), 0), max(q.last_check_time)
  into v_queues, v_with_issues, v_stuck, v_last_check
  from public.queue_monitoring_view as q;

  return jsonb_build_object(
    'status', case
      when v_stuck > (v_th ->> 'queue_stuck_messages_critical')::double precision then 'critical'
      when v_stuck > (v_th ->> 'queue_stuck_messages_warning')::double precision then 'warning'
      else 'healthy' end,
    'queues_checked', v_queues,
    'queues_with_issues', v_with_issues,
    'total_stuck_messages', v_stuck,
    'last_check_time', v_last_check);
end;
$$;

comment on function monitoring_internal.health_queue() is
  'queue_health of get_system_health(): queues, queues with stuck messages, total stuck, last check.';

-- ---------------------------------------------------------------- processing
-- Raw counts of the minutes of [p_from, p_before) without a trusted minute rollup
-- lying wholly inside [p_from, p_to]; rows within [p_from, p_to]. A function with
-- jit = off and a small row estimate, for the reasons given in
-- 20261201000900_monitoring_views.sql.
create or replace function monitoring_internal.health_raw_stats(
  p_from timestamptz, p_before timestamptz, p_to timestamptz)
returns table (batches bigint, successes bigint, errors bigint, messages bigint,
               calls bigint, failed bigint, known bigint)
language plpgsql
stable
rows 1
set search_path = ''
set jit = off
as $$
declare
  r record;
begin
  for r in
    select min(u.minute) as lo, max(u.minute) + interval '1 minute' as hi
    from (
      select s.minute, s.minute - (row_number() over (order by s.minute)) * interval '1 minute' as island
      from generate_series(date_trunc('minute', p_from, 'UTC'), p_before - interval '1 minute',
                           interval '1 minute') as s(minute)
      where not (s.minute >= p_from
                 and s.minute + interval '1 minute' <= p_to
                 and exists (select 1 from monitoring_internal.trusted_minutes as t where t.minute = s.minute))
    ) as u
    group by u.island
  loop
    return query
      select
        count(*) filter (where m.metric_name = 'queue_processing'),
        sum(m.success_count)
          filter (where m.metric_name = 'queue_processing')::bigint,
        sum(m.error_count)
          filter (where m.metric_name = 'queue_processing')::bigint,
        sum(m.messages)
          filter (where m.metric_name = 'queue_processing')::bigint,
        count(*) filter (where m.metric_name = 'api_call'),
        count(*) filter (where m.metric_name = 'api_call' and m.tags ->> 'success' = 'false'),
        count(*) filter (where m.metric_name = 'api_call' and m.tags ->> 'success' in ('true', 'false'))
      from monitoring_internal.parsed_metrics as m
      where m.metric_name in ('queue_processing', 'api_call')
        and m."timestamp" >= r.lo
        and m."timestamp" < r.hi
        and m."timestamp" >= p_from
        and m."timestamp" <= p_to;
  end loop;
end;
$$;

comment on function monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz) is
  'Health processing counts from raw rows of the minutes before p_before without a trusted rollup.';

create or replace function monitoring_internal.health_processing()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  v_th          jsonb := monitoring_internal.health_settings(array[
                           'processing_window_minutes', 'processing_min_samples',
                           'batch_error_rate_warning', 'batch_error_rate_critical',
                           'api_error_rate_warning', 'api_error_rate_critical']);
  v_now         timestamptz := now();
  v_window      double precision := (v_th ->> 'processing_window_minutes')::double precision;
  v_min_samples double precision := (v_th ->> 'processing_min_samples')::double precision;
  v_from        timestamptz;
  v_split       timestamptz;
  v_batches     bigint;
  v_successes   bigint;
  v_errors      bigint;
  v_messages    bigint;
  v_api_calls   bigint;
  v_api_failed  bigint;
  v_api_known   bigint;
  v_batch_rate  double precision;
  v_api_rate    double precision;
begin
  -- Counts as monitoring.queue_metrics reads them (malformed values ignored), over
  -- [v_from, v_now], from disjoint sources: trusted minute rollups lying wholly
  -- inside the window, raw rows from v_split on (the last minutes), and raw rows
  -- of any other minute without a trusted rollup (see 20261201000600).
  v_from  := v_now - make_interval(secs => v_window * 60);
  v_split := greatest(date_trunc('minute', v_now, 'UTC') - interval '1 minute',
                      date_trunc('minute', v_from, 'UTC'));
  select
    coalesce(sum(p.batches), 0), coalesce(sum(p.successes), 0), coalesce(sum(p.errors), 0),
    coalesce(sum(p.messages), 0), coalesce(sum(p.calls), 0), coalesce(sum(p.failed), 0),
    coalesce(sum(p.known), 0)
  into v_batches, v_successes, v_errors, v_messages, v_api_calls, v_api_failed, v_api_known
  from (
    select q.batches, q.success_count as successes, q.error_count as errors, q.messages,
           0::bigint as calls, 0::bigint as failed, 0::bigint as known
    from monitoring_internal.queue_minute_stats as q
    where q.minute >= v_from
      and q.minute + interval '1 minute' <= v_now
      and q.minute in (select t.minute from monitoring_internal.trusted_minutes as t)
    union all
    select 0, 0, 0, 0, a.calls, a.failures, a.successes + a.failures
    from monitoring_internal.api_minute_stats as a
    where a.minute >= v_from
      and a.minute + interval '1 minute' <= v_now
      and a.minute in (select t.minute from monitoring_internal.trusted_minutes as t)
    union all
    select
      (m.metric_name = 'queue_processing')::integer,
      case when m.metric_name = 'queue_processing'
           then m.success_count end,
      case when m.metric_name = 'queue_processing'
           then m.error_count end,
      case when m.metric_name = 'queue_processing'
           then m.messages end,
      (m.metric_name = 'api_call')::integer,
      (m.metric_name = 'api_call' and m.tags ->> 'success' = 'false')::integer,
      (m.metric_name = 'api_call' and m.tags ->> 'success' in ('true', 'false'))::integer
    from monitoring_internal.parsed_metrics as m
    where m.metric_name in ('queue_processing', 'api_call')
      and m."timestamp" >= greatest(v_split, v_from)
      and m."timestamp" <= v_now
      and not (date_bin(interval '1 minute', m."timestamp", timestamptz '2000-01-01 00:00+00') >= v_from
               and date_bin(interval '1 minute', m."timestamp", timestamptz '2000-01-01 00:00+00') + interval '1 minute' <= v_now
               and date_bin(interval '1 minute', m."timestamp", timestamptz '2000-01-01 00:00+00')
                   in (select t.minute from monitoring_internal.trusted_minutes as t))
    union all
    select r.batches, r.successes, r.errors, r.messages, r.calls, r.failed, r.known
    from monitoring_internal.health_raw_stats(v_from, v_split, v_now) as r
  ) as p;

  v_batch_rate := case when v_successes + v_errors > 0
                       then v_errors::double precision / (v_successes + v_errors) end;
  v_api_rate   := case when v_api_known > 0
                       then v_api_failed::double precision / v_api_known end;

  return jsonb_build_object(
    'status', monitoring_internal.health_worst_status(array[
      case when v_successes + v_errors < v_min_samples or v_batch_rate is null then 'healthy'
           when v_batch_rate > (v_th ->> 'batch_error_rate_critical')::double precision then 'critical'
           when v_batch_rate > (v_th ->> 'batch_error_rate_warning')::double precision then 'warning'
           else 'healthy' end,
      case when v_api_known < v_min_samples or v_api_rate is null then 'healthy'
           when v_api_rate > (v_th ->> 'api_error_rate_critical')::double precision then 'critical'
           when v_api_rate > (v_th ->> 'api_error_rate_warning')::double precision then 'warning'
           else 'healthy' end]),
    'window_minutes', v_window,
    'total_batches', v_batches,
    'messages_processed', v_messages,
    'batch_error_rate', round(v_batch_rate::numeric, 4),
    'throughput_per_minute', round((v_messages / v_window)::numeric, 2),
    'api_calls', v_api_calls,
    'api_error_rate', round(v_api_rate::numeric, 4));
end;
$$;

comment on function monitoring_internal.health_processing() is
  'processing_health of get_system_health(): batches, messages, error rates and throughput of the window.';

-- ---------------------------------------------------------------- workers
create or replace function monitoring_internal.health_workers()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_th       jsonb := monitoring_internal.health_settings(array[
                        'worker_issue_lookback_hours', 'worker_warning_issues_warning',
                        'worker_error_issues_warning', 'worker_error_issues_critical',
                        'worker_critical_issues_critical']);
  v_open     bigint;
  v_critical bigint;
  v_error    bigint;
  v_warning  bigint;
  v_info     bigint;
begin
  select count(*),
         count(*) filter (where i.severity = 'critical'),
         count(*) filter (where i.severity = 'error'),
         count(*) filter (where i.severity = 'warning'),
         count(*) filter (where i.severity = 'info')
  into v_open, v_critical, v_error, v_warning, v_info
  from monitoring.worker_issues as i
  where not i.resolved
    and i.created_at >= now()
        - make_interval(secs => (v_th ->> 'worker_issue_lookback_hours')::double precision * 3600);

  return jsonb_build_object(
    'status', case
      when v_critical > (v_th ->> 'worker_critical_issues_critical')::double precision
        or v_error > (v_th ->> 'worker_error_issues_critical')::double precision then 'critical'
      when v_error > (v_th ->> 'worker_error_issues_warning')::double precision
        or v_warning > (v_th ->> 'worker_warning_issues_warning')::double precision then 'warning'
      else 'healthy' end,
    'open_issues', v_open,
    'critical_issues', v_critical,
    'error_issues', v_error,
    'warning_issues', v_warning,
    'info_issues', v_info);
end;
$$;

comment on function monitoring_internal.health_workers() is
  'worker_health of get_system_health(): open issues of the lookback window, by severity.';

-- ---------------------------------------------------------------- combiner
create or replace function public.get_system_health()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  v_queue      jsonb := monitoring_internal.health_queue();
  v_processing jsonb := monitoring_internal.health_processing();
  v_workers    jsonb := monitoring_internal.health_workers();
begin
  return jsonb_build_object(
    'timestamp', now(),
    'overall_status', monitoring_internal.health_worst_status(array[
      v_queue ->> 'status', v_processing ->> 'status', v_workers ->> 'status']),
    'queue_health', v_queue,
    'processing_health', v_processing,
    'worker_health', v_workers);
end;
$$;

comment on function public.get_system_health() is
  'Queue, processing and worker health with overall_status; thresholds in monitoring.health_thresholds.';

revoke all on function monitoring_internal.health_settings(text[]),
  monitoring_internal.health_worst_status(text[]),
  monitoring_internal.health_queue(),
  monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz),
  monitoring_internal.health_processing(),
  monitoring_internal.health_workers(),
  public.get_system_health()
  from public, anon, authenticated;
grant execute on function monitoring_internal.health_settings(text[]),
  monitoring_internal.health_worst_status(text[]),
  monitoring_internal.health_queue(),
  monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz),
  monitoring_internal.health_processing(),
  monitoring_internal.health_workers(),
  public.get_system_health()
  to service_role;

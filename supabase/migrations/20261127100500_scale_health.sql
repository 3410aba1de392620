-- Scale: public.get_system_health() reads its processing window from rollups.
--
-- At 10 million raw rows the health check took a 31 ms median (target 25 ms),
-- nearly all of it parsing the tags of every queue_processing and api_call row
-- of its 15-minute window. Now it adds up trusted minute rollups lying wholly
-- inside the window and reads raw rows only for the last few minutes and any
-- minute without a trusted rollup (exact: see 20261127100100), so its cost no
-- longer grows with the metric rate.
--
-- Same function, JSON and semantics as 20261127000800_system_health.sql (its
-- latest version, copied); only the processing counts' source changes. A later
-- change to that function must be made after this file, or here.

-- Raw counts of the minutes of [p_from, p_before) without a trusted minute rollup
-- lying wholly inside [p_from, p_to]; rows within [p_from, p_to]. A function with
-- jit = off and a small row estimate, for the reasons given in
-- 20261127100400_scale_views.sql.
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
revoke all on function monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz)
  from public, anon, authenticated;
grant execute on function monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz)
  to service_role;

create or replace function public.get_system_health()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
-- Polled every few seconds and done in milliseconds: JIT compilation would only add to it.
set jit = off
as $$
declare
  v_now timestamptz := now();
  v_th  jsonb;
  v_missing text[];
  -- queue
  v_queues         bigint;
  v_queues_issues  bigint;
  v_stuck          bigint;
  v_last_check     timestamptz;
  v_queue_level    integer;
  -- processing
  v_window         double precision;
  v_from           timestamptz;
  v_split          timestamptz;
  v_min_samples    double precision;
  v_batches        bigint;
  v_successes      bigint;
  v_errors         bigint;
  v_messages       bigint;
  v_api_calls      bigint;
  v_api_failed     bigint;
  v_api_known      bigint;
  v_batch_rate     double precision;
  v_api_rate       double precision;
  v_proc_level     integer;
  -- workers
  v_lookback       double precision;
  v_open           bigint;
  v_critical       bigint;
  v_error          bigint;
  v_warning        bigint;
  v_info           bigint;
  v_worker_level   integer;
  c_status constant text[] := array['healthy', 'warning', 'critical'];
begin
  select jsonb_object_agg(t.setting, t.value) into v_th from monitoring.health_thresholds as t;
  select array_agg(k) into v_missing
  from unnest(array[
    'queue_stuck_messages_warning', 'queue_stuck_messages_critical',
    'processing_window_minutes', 'processing_min_samples',
    'batch_error_rate_warning', 'batch_error_rate_critical',
    'api_error_rate_warning', 'api_error_rate_critical',
    'worker_issue_lookback_hours', 'worker_warning_issues_warning',
    'worker_error_issues_warning', 'worker_error_issues_critical',
    'worker_critical_issues_critical'
  ]) as k
  where not coalesce(v_th ? k, false);
  if v_missing is not null then
    raise exception using errcode = 'P0002',
      message = format('monitoring.health_thresholds lacks %s', array_to_string(v_missing, ', '));
  end if;

  -- ------------------------------------------------------------ queues
  select count(*), count(*) filter (where q.stuck_messages > 0),
         coalesce(sum(q.stuck_messages), 0), max(q.last_check_time)
  into v_queues, v_queues_issues, v_stuck, v_last_check
  from public.queue_monitoring_view as q;

  v_queue_level := case
    when v_stuck > (v_th ->> 'queue_stuck_messages_critical')::double precision then 3
    when v_stuck > (v_th ->> 'queue_stuck_messages_warning')::double precision then 2
    else 1 end;

  -- ------------------------------------------------------------ processing
  v_window      := (v_th ->> 'processing_window_minutes')::double precision;
  v_min_samples := (v_th ->> 'processing_min_samples')::double precision;

  -- Counts as monitoring.queue_metrics reads them (malformed values ignored), over
  -- [v_from, v_now], from disjoint sources: trusted minute rollups lying wholly
  -- inside the window, raw rows from v_split on (the last minutes), and raw rows
  -- of any other minute without a trusted rollup (see 20261127100100).
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

  v_proc_level := greatest(
    case when v_successes + v_errors < v_min_samples or v_batch_rate is null then 1
         when v_batch_rate > (v_th ->> 'batch_error_rate_critical')::double precision then 3
         when v_batch_rate > (v_th ->> 'batch_error_rate_warning')::double precision then 2
         else 1 end,
    case when v_api_known < v_min_samples or v_api_rate is null then 1
         when v_api_rate > (v_th ->> 'api_error_rate_critical')::double precision then 3
         when v_api_rate > (v_th ->> 'api_error_rate_warning')::double precision then 2
         else 1 end);

  -- ------------------------------------------------------------ workers
  v_lookback := (v_th ->> 'worker_issue_lookback_hours')::double precision;

  select count(*),
         count(*) filter (where i.severity = 'critical'),
         count(*) filter (where i.severity = 'error'),
         count(*) filter (where i.severity = 'warning'),
         count(*) filter (where i.severity = 'info')
  into v_open, v_critical, v_error, v_warning, v_info
  from monitoring.worker_issues as i
  where not i.resolved
    and i.created_at >= v_now - make_interval(secs => v_lookback * 3600);

  v_worker_level := case
    when v_critical > (v_th ->> 'worker_critical_issues_critical')::double precision
      or v_error > (v_th ->> 'worker_error_issues_critical')::double precision then 3
    when v_error > (v_th ->> 'worker_error_issues_warning')::double precision
      or v_warning > (v_th ->> 'worker_warning_issues_warning')::double precision then 2
    else 1 end;

  return jsonb_build_object(
    'timestamp', v_now,
    'overall_status', c_status[greatest(v_queue_level, v_proc_level, v_worker_level)],
    'queue_health', jsonb_build_object(
      'status', c_status[v_queue_level],
      'queues_checked', v_queues,
      'queues_with_issues', v_queues_issues,
      'total_stuck_messages', v_stuck,
      'last_check_time', v_last_check),
    'processing_health', jsonb_build_object(
      'status', c_status[v_proc_level],
      'window_minutes', v_window,
      'total_batches', v_batches,
      'messages_processed', v_messages,
      'batch_error_rate', round(v_batch_rate::numeric, 4),
      'throughput_per_minute', round((v_messages / v_window)::numeric, 2),
      'api_calls', v_api_calls,
      'api_error_rate', round(v_api_rate::numeric, 4)),
    'worker_health', jsonb_build_object(
      'status', c_status[v_worker_level],
      'open_issues', v_open,
      'critical_issues', v_critical,
      'error_issues', v_error,
      'warning_issues', v_warning,
      'info_issues', v_info));
end;
$$;

comment on function public.get_system_health() is
  'Queue, processing and worker health with overall_status; thresholds in monitoring.health_thresholds.';

revoke all on function public.get_system_health() from public, anon, authenticated;
grant execute on function public.get_system_health() to service_role;

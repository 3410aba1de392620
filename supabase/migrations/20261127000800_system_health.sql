-- public.get_system_health(): the spec's health check, completed.
--
-- Three components, each with a status (healthy | warning | critical) and the
-- numbers behind it; overall_status is the worst of the three. Thresholds come
-- from monitoring.health_thresholds (defaults in 20261127000300); a status
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
--
-- SECURITY INVOKER, on purpose: the function needs nothing service_role
-- lacks (pgmq access is confined to the definer function behind
-- queue_monitoring_view), so it cannot become a path around privileges; and
-- only service_role may execute it.
-- Every read is an index range scan over a recent window:
-- pipeline_metrics_name_timestamp_idx, worker_issues_open_idx,
-- queue_snapshots_captured_at_idx.

create or replace function public.get_system_health()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
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

  -- Counts are parsed as in monitoring.queue_metrics: malformed values are ignored.
  select
    count(*) filter (where m.metric_name = 'queue_processing'),
    coalesce(sum(c.success_count) filter (where m.metric_name = 'queue_processing'), 0),
    coalesce(sum(c.error_count) filter (where m.metric_name = 'queue_processing'), 0),
    coalesce(sum(coalesce(c.batch_size, c.success_count + c.error_count))
             filter (where m.metric_name = 'queue_processing'), 0),
    count(*) filter (where m.metric_name = 'api_call'),
    count(*) filter (where m.metric_name = 'api_call' and m.tags ->> 'success' = 'false'),
    count(*) filter (where m.metric_name = 'api_call' and m.tags ->> 'success' in ('true', 'false'))
  into v_batches, v_successes, v_errors, v_messages, v_api_calls, v_api_failed, v_api_known
  from monitoring.pipeline_metrics as m
  cross join lateral (
    select
      case jsonb_typeof(m.tags -> 'success_count')
        when 'number' then case when (m.tags -> 'success_count')::numeric between 0 and 2147483647
                                 and (m.tags -> 'success_count')::numeric = trunc((m.tags -> 'success_count')::numeric)
                                then (m.tags -> 'success_count')::integer end
        when 'string' then case when (m.tags ->> 'success_count') ~ '^\s*[0-9]{1,9}\s*$'
                                then (m.tags ->> 'success_count')::integer end
      end as success_count,
      case jsonb_typeof(m.tags -> 'error_count')
        when 'number' then case when (m.tags -> 'error_count')::numeric between 0 and 2147483647
                                 and (m.tags -> 'error_count')::numeric = trunc((m.tags -> 'error_count')::numeric)
                                then (m.tags -> 'error_count')::integer end
        when 'string' then case when (m.tags ->> 'error_count') ~ '^\s*[0-9]{1,9}\s*$'
                                then (m.tags ->> 'error_count')::integer end
      end as error_count,
      case jsonb_typeof(m.tags -> 'batch_size')
        when 'number' then case when (m.tags -> 'batch_size')::numeric between 0 and 2147483647
                                 and (m.tags -> 'batch_size')::numeric = trunc((m.tags -> 'batch_size')::numeric)
                                then (m.tags -> 'batch_size')::integer end
        when 'string' then case when (m.tags ->> 'batch_size') ~ '^\s*[0-9]{1,9}\s*$'
                                then (m.tags ->> 'batch_size')::integer end
      end as batch_size
  ) as c
  where m.metric_name in ('queue_processing', 'api_call')
    and m."timestamp" >= v_now - make_interval(secs => v_window * 60)
    and m."timestamp" <= v_now;

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

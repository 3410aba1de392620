-- get_system_health()'s processing component asks which minutes are trusted
-- seal by seal, within its window only.
--
-- Owns (replaces): monitoring_internal.health_raw_stats(timestamptz, timestamptz,
-- timestamptz), now health_raw_stats(timestamptz, timestamptz, timestamptz,
-- timestamptz[]) (dropped and created: the caller passes the trusted minutes
-- it asked for), and monitoring_internal.health_processing() (20261201001100).
-- Same sources, same numbers; only the trust test changes, from the view
-- monitoring_internal.trusted_minutes (every minute seal, joined against all
-- change records) to monitoring_internal.trusted_periods('minute', ...) over the
-- window (20261216000100: one probe per seal of the window).
--
-- Why: right after 10 million raw rows were loaded as one INSERT ... SELECT
-- over 14 days (a change record in every minute, before any refresh), the
-- health check took 384 ms (target while the refresh catches up: 50 ms; steady
-- state 25 ms). Its raw reads are the window's 15 minutes whatever the
-- back-fill. Measured on one machine at 3 million rows: 109 ms -> 27 ms
-- (median, before any refresh). What remains right after a back-fill is
-- reading and parsing the window's raw rows (docs/performance-sql.md).
--
-- The raw tail (rows read as they are, after the last trusted minutes) starts
-- at the minute in progress when the minute before is trusted, which the cron
-- job makes it 5 s after it ends (refresh_rollups' p_settle, 20261216000400),
-- else a minute earlier; the window's trusted minutes are asked once.

-- Raw counts of the minutes of [p_from, p_before) without a trusted minute rollup
-- (p_trusted: trusted_periods('minute', p_from, p_to), as the caller read them)
-- lying wholly inside [p_from, p_to]; rows within [p_from, p_to]. A function with
-- jit = off and a small row estimate, for the reasons given in
-- 20261201000900_monitoring_views.sql.
drop function monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz);

create function monitoring_internal.health_raw_stats(
  p_from timestamptz, p_before timestamptz, p_to timestamptz, p_trusted timestamptz[])
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
    select i.lo, i.hi
    from monitoring_internal.uncovered_minutes(
           date_trunc('minute', p_from, 'UTC'), p_before,
           array(select t.m from unnest(p_trusted) as t(m)
                 where t.m >= p_from and t.m + interval '1 minute' <= p_to)) as i
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

comment on function monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz, timestamptz[]) is
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
  v_trusted     timestamptz[];
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
  -- The raw tail starts at the minute in progress when the minute before is
  -- trusted (sealed 5 s after it ended by the cron job), else one minute earlier.
  v_from  := v_now - make_interval(secs => v_window * 60);
  v_trusted := array(select t.period_start
                     from monitoring_internal.trusted_periods('minute', v_from, v_now) as t);
  v_split := greatest(date_trunc('minute', v_now, 'UTC')
                        - case when date_trunc('minute', v_now, 'UTC') - interval '1 minute' = any (v_trusted)
                               then interval '0' else interval '1 minute' end,
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
      and q.minute = any (v_trusted)
    union all
    select 0, 0, 0, 0, a.calls, a.failures, a.successes + a.failures
    from monitoring_internal.api_minute_stats as a
    where a.minute >= v_from
      and a.minute + interval '1 minute' <= v_now
      and a.minute = any (v_trusted)
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
               and date_bin(interval '1 minute', m."timestamp", timestamptz '2000-01-01 00:00+00') = any (v_trusted))
    union all
    select r.batches, r.successes, r.errors, r.messages, r.calls, r.failed, r.known
    from monitoring_internal.health_raw_stats(v_from, v_split, v_now, v_trusted) as r
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

revoke all on function monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz, timestamptz[]),
  monitoring_internal.health_processing() from public, anon, authenticated;
grant execute on function monitoring_internal.health_raw_stats(timestamptz, timestamptz, timestamptz, timestamptz[]),
  monitoring_internal.health_processing() to service_role;

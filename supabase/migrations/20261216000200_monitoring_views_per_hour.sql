-- monitoring.queue_metrics and monitoring.api_metrics read raw rows hour by
-- hour, only for the hours a filter keeps, whatever a back-fill left untrusted.
--
-- Owns (replaces): the views monitoring.queue_metrics and monitoring.api_metrics
-- (20261201000900); new: monitoring_internal.queue_hour_rows(timestamptz,
-- timestamptz) and api_hour_rows(timestamptz, timestamptz); drops the release's
-- raw readers monitoring_internal.view_untrusted_ranges(), queue_raw_stats()
-- and api_raw_stats(), which nothing else uses.
--
-- Why: the release's views read every untrusted minute of the 7-day window
-- through one function called with the window's bounds, so a filter on hour
-- (the dashboards' "last hour") could not reach it. Measured at 10 million raw
-- rows loaded as one INSERT ... SELECT over 14 days (every seal untrusted until
-- the refresh catches up): queue_metrics for the last hour 12.2 s, api_metrics
-- 7.6 s, both over 7 days 8.7-12.9 s (docs/performance-sql.md).
--
-- Same columns, rows and order as before (the raw definition of 20261201000900:
-- rows after now() - 7 days and rows timestamped in the future, per UTC hour,
-- malformed count tags ignored). Each UTC hour of the window comes from one of
-- three disjoint sources, so the views no longer group across sources:
--   trusted hour  its hour rollup (queue_hour_stats / api_hour_stats);
--   any other hour of the window (the hour in progress, the window's first
--                 partial hour, hours a late write or a back-fill made untrusted)
--                 monitoring_internal.{queue,api}_hour_rows(hour, now() - 7 days),
--                 called per hour from generate_series: a filter on hour applies
--                 to the series before any call, so the last hour reads two hours
--                 at most. Inside, trusted minute rollups of the hour plus raw rows
--                 of its other minutes; an hour without any (the back-filled case)
--                 is one index range scan aggregated directly (p95 without arrays).
--                 Where the refresh keeps a trusted span of the hour's minutes
--                 (the hour in progress, the window's first hour) the span stands
--                 for them and the p95 is estimated from duration sketches,
--                 within 1% (20261216000150); without one the p95 is exact;
--   later hours   raw rows timestamped after the hour in progress (the spec's
--                 views show them), one index range scan, usually empty.
-- Trust comes from monitoring_internal.trusted_periods (20261216000100).
-- The readers are functions with jit = off and small row estimates for the
-- reasons given in 20261201000900 (no JIT compilation or parallel plans for a
-- few milliseconds of work).

-- ---------------------------------------------------------------- one hour, queue
create or replace function monitoring_internal.queue_hour_rows(p_hour timestamptz, p_after timestamptz)
returns table (queue_name text, total_batches bigint, success_count bigint, error_count bigint,
               avg_processing_time_ms double precision, total_messages_processed bigint)
language plpgsql
stable
rows 10
set search_path = ''
set jit = off
as $$
declare
  v_end     timestamptz := p_hour + interval '1 hour';
  v_minutes timestamptz[];
begin
  -- Trusted minute rollups of the hour, after the minute holding p_after (that
  -- one is read raw: only its rows after p_after count).
  select coalesce(array_agg(t.period_start), '{}') into v_minutes
  from monitoring_internal.trusted_periods(
         'minute', greatest(p_hour, date_trunc('minute', p_after, 'UTC') + interval '1 minute'), v_end) as t;

  if cardinality(v_minutes) = 0 then
    return query
      select m.tags ->> 'queue', count(*), sum(m.success_count)::bigint, sum(m.error_count)::bigint,
             sum(m.metric_value) / count(*)::double precision, sum(m.messages)::bigint
      from monitoring_internal.parsed_metrics as m
      where m.metric_name = 'queue_processing'
        and m."timestamp" >= p_hour
        and m."timestamp" < v_end
        and m."timestamp" > p_after
      group by 1;
    return;
  end if;

  return query
    select x.queue_name, sum(x.batches)::bigint, sum(x.success_count)::bigint, sum(x.error_count)::bigint,
           sum(x.time_sum) / sum(x.batches)::double precision, sum(x.messages)::bigint
    from (
      select r.queue_name, r.batches, r.success_count, r.error_count, r.messages, r.time_sum
      from monitoring_internal.queue_minute_stats as r
      where r.minute = any (v_minutes)
      union all
      select m.tags ->> 'queue', 1::bigint, m.success_count::bigint, m.error_count::bigint,
             m.messages::bigint, m.metric_value
      from monitoring_internal.uncovered_minutes(p_hour, v_end, v_minutes) as i
      cross join lateral (
        select p.tags, p.success_count, p.error_count, p.messages, p.metric_value
        from monitoring_internal.parsed_metrics as p
        where p.metric_name = 'queue_processing'
          and p."timestamp" >= i.lo
          and p."timestamp" < i.hi
          and p."timestamp" > p_after
      ) as m
    ) as x(queue_name, batches, success_count, error_count, messages, time_sum)
    group by x.queue_name;
end;
$$;

comment on function monitoring_internal.queue_hour_rows(timestamptz, timestamptz) is
  'monitoring.queue_metrics rows of one UTC hour (rows after p_after): trusted minute rollups plus raw rows.';

-- ---------------------------------------------------------------- one hour, api
create or replace function monitoring_internal.api_hour_rows(p_hour timestamptz, p_after timestamptz)
returns table (api_name text, total_calls bigint, success_count bigint, error_count bigint,
               avg_success_time_ms double precision, p95_time_ms double precision)
language plpgsql
stable
rows 10
set search_path = ''
set jit = off
as $$
declare
  v_end     timestamptz := p_hour + interval '1 hour';
  -- the first whole minute after p_after (the minute holding it is read raw)
  v_start   timestamptz := greatest(p_hour, date_trunc('minute', p_after, 'UTC') + interval '1 minute');
  v_minutes timestamptz[];
  v_span    timestamptz;
begin
  select coalesce(array_agg(t.period_start), '{}') into v_minutes
  from monitoring_internal.trusted_periods('minute', v_start, v_end) as t;

  if cardinality(v_minutes) = 0 then
    return query
      select m.tags ->> 'api', count(*),
             count(*) filter (where m.tags ->> 'success' = 'true'),
             count(*) filter (where m.tags ->> 'success' = 'false'),
             avg(m.metric_value) filter (where m.tags ->> 'success' = 'true'),
             percentile_cont(0.95) within group (order by m.metric_value)
      from monitoring.pipeline_metrics as m
      where m.metric_name = 'api_call'
        and m."timestamp" >= p_hour
        and m."timestamp" < v_end
        and m."timestamp" > p_after
      group by 1;
    return;
  end if;

  v_span := monitoring_internal.api_span_end(v_start, v_end);
  if v_span is not null then
    -- A trusted span from v_start (20261216000150: the refresh keeps one for the
    -- hour in progress and the window's first hour), the trusted minute rollups
    -- after it, raw rows of every other minute; the p95 is the sketch's estimate.
    v_minutes := array(select u.m from unnest(v_minutes) as u(m) where u.m >= v_span);
    return query
      with raw as (
        select p.tags ->> 'api' as api_name, p.tags ->> 'success' as success, p.metric_value
        from monitoring_internal.uncovered_minutes(
               p_hour, v_end,
               v_minutes || array(select g.m from generate_series(v_start, v_span - interval '1 minute',
                                                                  interval '1 minute') as g(m))) as i
        cross join lateral (
          select r.tags, r.metric_value
          from monitoring.pipeline_metrics as r
          where r.metric_name = 'api_call'
            and r."timestamp" >= i.lo
            and r."timestamp" < i.hi
            and r."timestamp" > p_after
        ) as p
      ),
      parts as (
        select s.api_name, s.calls, s.successes, s.failures, s.success_time_sum
        from monitoring_internal.api_span_stats as s
        where s.span_start = v_start and s.span_end = v_span
        union all
        select r.api_name, r.calls, r.successes, r.failures, r.success_time_sum
        from monitoring_internal.api_minute_stats as r
        where r.minute = any (v_minutes)
        union all
        select w.api_name, 1::bigint, (w.success = 'true')::integer::bigint,
               (w.success = 'false')::integer::bigint,
               case when w.success = 'true' then w.metric_value end
        from raw as w
      ),
      buckets as (
        select s.api_name, u.k, u.n
        from monitoring_internal.api_span_stats as s
        cross join lateral unnest(s.sketch_keys, s.sketch_counts) as u(k, n)
        where s.span_start = v_start and s.span_end = v_span
        union all
        select k.api_name, k.sketch_key, k.n
        from monitoring_internal.api_minute_sketches as k
        where k.minute = any (v_minutes)
        union all
        select w.api_name, monitoring_internal.sketch_key(w.metric_value), 1::bigint
        from raw as w
      ),
      sketches as (
        select b.api_name,
               monitoring_internal.sketch_quantile(array_agg(b.k), array_agg(b.n), 0.95) as p95
        from buckets as b
        group by b.api_name
      )
      select t.api_name, t.calls, t.successes, t.failures,
             t.success_time_sum / nullif(t.successes, 0)::double precision, k.p95
      from (
        select p.api_name, sum(p.calls)::bigint as calls, sum(p.successes)::bigint as successes,
               sum(p.failures)::bigint as failures, sum(p.success_time_sum) as success_time_sum
        from parts as p
        group by p.api_name
      ) as t
      left join sketches as k on k.api_name is not distinct from t.api_name;
    return;
  end if;

  -- No span (it is being rebuilt, or a late row untrusted one of its minutes):
  -- every source row carries its call durations, the p95 is exact; its counts
  -- are taken once, with its first duration (as the release's view did).
  return query
    select x.api_name,
           (sum(x.calls) filter (where d.i = 1))::bigint,
           (sum(x.successes) filter (where d.i = 1))::bigint,
           (sum(x.failures) filter (where d.i = 1))::bigint,
           sum(x.success_time_sum) filter (where d.i = 1)
             / nullif(sum(x.successes) filter (where d.i = 1), 0)::double precision,
           percentile_cont(0.95) within group (order by d.v)
    from (
      select r.api_name, r.calls, r.successes, r.failures, r.success_time_sum, r.durations
      from monitoring_internal.api_minute_stats as r
      where r.minute = any (v_minutes)
      union all
      select m.tags ->> 'api', 1::bigint,
             case when m.tags ->> 'success' = 'true' then 1 else 0 end::bigint,
             case when m.tags ->> 'success' = 'false' then 1 else 0 end::bigint,
             case when m.tags ->> 'success' = 'true' then m.metric_value end,
             array[m.metric_value]
      from monitoring_internal.uncovered_minutes(p_hour, v_end, v_minutes) as i
      cross join lateral (
        select p.tags, p.metric_value
        from monitoring.pipeline_metrics as p
        where p.metric_name = 'api_call'
          and p."timestamp" >= i.lo
          and p."timestamp" < i.hi
          and p."timestamp" > p_after
      ) as m
    ) as x(api_name, calls, successes, failures, success_time_sum, durations)
    cross join lateral unnest(x.durations) with ordinality as d(v, i)
    group by x.api_name;
end;
$$;

comment on function monitoring_internal.api_hour_rows(timestamptz, timestamptz) is
  'monitoring.api_metrics rows of one UTC hour (rows after p_after): trusted minute rollups plus raw rows.';

-- ---------------------------------------------------------------- views
create or replace view monitoring.queue_metrics
with (security_invoker = true)
as
select v.queue_name, v.hour, v.total_batches, v.success_count, v.error_count,
       v.avg_processing_time_ms, v.total_messages_processed
from (
  -- trusted hours
  select r.queue_name, r.hour, r.batches, r.success_count, r.error_count,
         r.time_sum / r.batches::double precision, r.messages
  from monitoring_internal.queue_hour_stats as r
  where r.hour > now() - interval '7 days'
    and r.hour in (select t.period_start
                   from monitoring_internal.trusted_periods('hour', now() - interval '7 days', now()) as t)
  union all
  -- every other hour of the window, one call per hour
  select x.queue_name, u.hour, x.total_batches, x.success_count, x.error_count,
         x.avg_processing_time_ms, x.total_messages_processed
  from generate_series(date_trunc('hour', now() - interval '7 days', 'UTC'), date_trunc('hour', now(), 'UTC'),
                       interval '1 hour') as u(hour)
  cross join lateral monitoring_internal.queue_hour_rows(u.hour, now() - interval '7 days') as x
  where not (u.hour > now() - interval '7 days'
             and u.hour in (select t.period_start
                            from monitoring_internal.trusted_periods('hour', now() - interval '7 days', now()) as t))
  union all
  -- hours after the one in progress
  select m.tags ->> 'queue', date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00'),
         count(*), sum(m.success_count)::bigint, sum(m.error_count)::bigint,
         sum(m.metric_value) / count(*)::double precision, sum(m.messages)::bigint
  from monitoring_internal.parsed_metrics as m
  where m.metric_name = 'queue_processing'
    and m."timestamp" >= date_trunc('hour', now(), 'UTC') + interval '1 hour'
  group by 1, 2
) as v(queue_name, hour, total_batches, success_count, error_count, avg_processing_time_ms,
       total_messages_processed)
order by v.queue_name, v.hour desc;

comment on view monitoring.queue_metrics is
  'Per queue and UTC hour over the last 7 days: batches, successes, errors, mean batch time, messages. '
  'Malformed count tags are ignored, not fatal. Served from exact rollups plus raw rows, hour by hour.';

create or replace view monitoring.api_metrics
with (security_invoker = true)
as
select a.api_name, a.hour, a.total_calls, a.success_count, a.error_count, a.avg_success_time_ms, a.p95_time_ms
from (
  -- trusted hours: the view's row as computed from raw rows when the hour was sealed
  select r.api_name, r.hour, r.total_calls, r.success_count, r.error_count,
         r.avg_success_time_ms, r.p95_time_ms
  from monitoring_internal.api_hour_stats as r
  where r.hour > now() - interval '7 days'
    and r.hour in (select t.period_start
                   from monitoring_internal.trusted_periods('hour', now() - interval '7 days', now()) as t)
  union all
  select x.api_name, u.hour, x.total_calls, x.success_count, x.error_count,
         x.avg_success_time_ms, x.p95_time_ms
  from generate_series(date_trunc('hour', now() - interval '7 days', 'UTC'), date_trunc('hour', now(), 'UTC'),
                       interval '1 hour') as u(hour)
  cross join lateral monitoring_internal.api_hour_rows(u.hour, now() - interval '7 days') as x
  where not (u.hour > now() - interval '7 days'
             and u.hour in (select t.period_start
                            from monitoring_internal.trusted_periods('hour', now() - interval '7 days', now()) as t))
  union all
  select m.tags ->> 'api', date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00'),
         count(*),
         count(*) filter (where m.tags ->> 'success' = 'true'),
         count(*) filter (where m.tags ->> 'success' = 'false'),
         avg(m.metric_value) filter (where m.tags ->> 'success' = 'true'),
         percentile_cont(0.95) within group (order by m.metric_value)
  from monitoring.pipeline_metrics as m
  where m.metric_name = 'api_call'
    and m."timestamp" >= date_trunc('hour', now(), 'UTC') + interval '1 hour'
  group by 1, 2
) as a(api_name, hour, total_calls, success_count, error_count, avg_success_time_ms, p95_time_ms)
order by a.api_name, a.hour desc;

comment on view monitoring.api_metrics is
  'Per API and UTC hour over the last 7 days: calls, successes, errors, mean success time, p95 time. '
  'Served from exact rollups plus raw rows, hour by hour; the p95 of an hour not yet sealed is '
  'estimated within 1% (counts and means stay exact).';

-- ---------------------------------------------------------------- the release's readers
drop function monitoring_internal.queue_raw_stats(timestamptz, timestamptz);
drop function monitoring_internal.api_raw_stats(timestamptz, timestamptz);
drop function monitoring_internal.view_untrusted_ranges(timestamptz, timestamptz);

-- ---------------------------------------------------------------- access
revoke all on function monitoring_internal.queue_hour_rows(timestamptz, timestamptz),
  monitoring_internal.api_hour_rows(timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function monitoring_internal.queue_hour_rows(timestamptz, timestamptz),
  monitoring_internal.api_hour_rows(timestamptz, timestamptz) to service_role;
revoke all on monitoring.queue_metrics, monitoring.api_metrics from public, anon, authenticated;
grant select on monitoring.queue_metrics, monitoring.api_metrics to service_role;

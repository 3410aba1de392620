-- monitoring.queue_metrics and monitoring.api_metrics: the spec's views, same
-- columns, made robust, safe and fast.
--
-- Owns: the views monitoring.queue_metrics and monitoring.api_metrics, and their
-- raw-row readers monitoring_internal.view_untrusted_ranges(), queue_raw_stats()
-- and api_raw_stats().
--
-- * A malformed count tag never fails the view: counts come from
--   monitoring_internal.parsed_metrics (20261201000600), which ignores them.
-- * total_messages_processed uses batch_size, falling back to
--   success_count + error_count when a writer sends no batch_size.
-- * api_metrics: the spec compares tags->>'success' with 'true'/'false' as text,
--   which cannot fail and accepts both the string "true" and the JSON boolean true.
-- * Rows of the last 7 days, per UTC hour (whatever the session time zone),
--   newest hour first.
-- * security_invoker: the caller's privileges and RLS apply (service_role only).
--
-- Why rollups: at 10 million raw rows, views recomputing 7 days of raw metrics
-- on every read took 15 s (queue_metrics) and 7 s (api_metrics); "last hour"
-- 2-3 s, because a filter on the grouped hour cannot use the timestamp index.
-- They are computed from disjoint sources instead of every raw row:
--   H     hours after now() - 7 days with a trusted hour rollup;
--   M     otherwise, minutes after now() - 7 days with a trusted minute rollup
--         (the hour in progress, the window's first partial hour);
--   tail  otherwise, raw rows from the minute before the current one on,
--         including rows timestamped in the future (the spec's views include
--         them): one small index range scan;
--   rest  otherwise, raw rows of any older minute without a trusted rollup (the
--         minute holding now() - 7 days; periods a late write made untrusted
--         until the next refresh; everything, should refreshes stop), read by
--         monitoring_internal.{queue,api}_raw_stats.
-- "Trusted" is exact (see 20261201000600_monitoring_rollup_tables.sql): a row is
-- visible the moment it is committed, however late it arrives.
--
-- Why "rest" is a function: the planner cannot estimate a scan bounded by
-- another row's minute (it assumes a ninth of the table per minute) and costed
-- the views at millions, so every read paid ~3 s of JIT compilation and parallel
-- workers for a few milliseconds of work. The functions carry a small row
-- estimate and jit = off, and read each run of untrusted minutes with a plan
-- made for its actual bounds.
--
-- A filter on hour (e.g. the last hour) is pushed down to H and M (hour
-- indexes) and the tail. A raw row's UTC minute or hour is date_bin(...) from a
-- UTC midnight: the same value as date_trunc(..., 'UTC'), 20 times cheaper. avg_processing_time_ms and avg_success_time_ms are a
-- sum divided by a count, as avg() computes them; only the order of the float
-- additions can differ (relative differences ~1e-14 measured at 10M rows).

-- ---------------------------------------------------------------- rest
-- Runs of minutes in [the minute holding p_after, p_before) whose rows a view must
-- read raw: not in a trusted hour, and not a trusted minute, lying after p_after.
create or replace function monitoring_internal.view_untrusted_ranges(p_after timestamptz, p_before timestamptz)
returns table (lo timestamptz, hi timestamptz)
language sql
stable
rows 1
set search_path = ''
as $$
  select min(u.minute), max(u.minute) + interval '1 minute'
  from (
    select s.minute,
           s.minute - (row_number() over (order by s.minute)) * interval '1 minute' as island
    from generate_series(date_trunc('hour', p_after, 'UTC'), p_before - interval '1 minute',
                         interval '1 hour') as h(hour)
    cross join lateral generate_series(greatest(h.hour, date_trunc('minute', p_after, 'UTC')),
                                       least(h.hour + interval '59 minutes', p_before - interval '1 minute'),
                                       interval '1 minute') as s(minute)
    where not (h.hour > p_after
               and exists (select 1 from monitoring_internal.trusted_hours as t where t.hour = h.hour))
      and not (s.minute > p_after
               and exists (select 1 from monitoring_internal.trusted_minutes as t where t.minute = s.minute))
  ) as u
  group by u.island;
$$;

create or replace function monitoring_internal.queue_raw_stats(p_after timestamptz, p_before timestamptz)
returns table (queue_name text, hour timestamptz, batches bigint, success_count bigint,
               error_count bigint, messages bigint, time_sum double precision)
language plpgsql
stable
rows 1
set search_path = ''
set jit = off
as $$
declare
  r record;
begin
  for r in select u.lo, u.hi from monitoring_internal.view_untrusted_ranges(p_after, p_before) as u loop
    return query
      select
        m.tags ->> 'queue',
        date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00'),
        count(*),
        sum(m.success_count)::bigint,
        sum(m.error_count)::bigint,
        sum(m.messages)::bigint,
        sum(m.metric_value)
      from monitoring_internal.parsed_metrics as m
      where m.metric_name = 'queue_processing'
        and m."timestamp" >= r.lo
        and m."timestamp" < r.hi
        and m."timestamp" > p_after
      group by 1, 2;
  end loop;
end;
$$;

create or replace function monitoring_internal.api_raw_stats(p_after timestamptz, p_before timestamptz)
returns table (api_name text, hour timestamptz, calls bigint, successes bigint, failures bigint,
               success_time_sum double precision, durations double precision[])
language plpgsql
stable
rows 1
set search_path = ''
set jit = off
as $$
declare
  r record;
begin
  for r in select u.lo, u.hi from monitoring_internal.view_untrusted_ranges(p_after, p_before) as u loop
    return query
      select
        m.tags ->> 'api',
        date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00'),
        count(*),
        count(*) filter (where m.tags ->> 'success' = 'true'),
        count(*) filter (where m.tags ->> 'success' = 'false'),
        sum(m.metric_value) filter (where m.tags ->> 'success' = 'true'),
        array_agg(m.metric_value)
      from monitoring.pipeline_metrics as m
      where m.metric_name = 'api_call'
        and m."timestamp" >= r.lo
        and m."timestamp" < r.hi
        and m."timestamp" > p_after
      group by 1, 2;
  end loop;
end;
$$;

comment on function monitoring_internal.view_untrusted_ranges(timestamptz, timestamptz) is
  'Runs of minutes before p_before whose rows the views read raw (no trusted hour or minute rollup after p_after).';
comment on function monitoring_internal.queue_raw_stats(timestamptz, timestamptz) is
  'queue_metrics parts from raw rows (after p_after) of the untrusted minutes before p_before.';
comment on function monitoring_internal.api_raw_stats(timestamptz, timestamptz) is
  'api_metrics parts from raw rows (after p_after) of the untrusted minutes before p_before.';

-- ---------------------------------------------------------------- views
create or replace view monitoring.queue_metrics
with (security_invoker = true)
as
select
  g.queue_name,
  g.hour,
  sum(g.batches)::bigint                             as total_batches,
  sum(g.success_count)::bigint                       as success_count,
  sum(g.error_count)::bigint                         as error_count,
  sum(g.time_sum) / sum(g.batches)::double precision as avg_processing_time_ms,
  sum(g.messages)::bigint                            as total_messages_processed
from (
  -- H
  select r.queue_name, r.hour, r.batches, r.success_count, r.error_count, r.messages, r.time_sum
  from monitoring_internal.queue_hour_stats as r
  where r.hour > now() - interval '7 days'
    and r.hour in (select t.hour from monitoring_internal.trusted_hours as t)
  union all
  -- M
  select r.queue_name, r.hour, r.batches, r.success_count, r.error_count, r.messages, r.time_sum
  from monitoring_internal.queue_minute_stats as r
  where r.minute > now() - interval '7 days'
    and r.minute in (select t.minute from monitoring_internal.trusted_minutes as t)
    and not (r.hour > now() - interval '7 days'
             and r.hour in (select t.hour from monitoring_internal.trusted_hours as t))
  union all
  -- tail
  select
    m.tags ->> 'queue',
    date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00'),
    1::bigint,
    m.success_count::bigint,
    m.error_count::bigint,
    m.messages::bigint,
    m.metric_value
  from monitoring_internal.parsed_metrics as m
  where m.metric_name = 'queue_processing'
    and m."timestamp" >= date_trunc('minute', now(), 'UTC') - interval '1 minute'
    and date_bin(interval '1 minute', m."timestamp", timestamptz '2000-01-01 00:00+00')
        not in (select t.minute from monitoring_internal.trusted_minutes as t)
    and date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00')
        not in (select t.hour from monitoring_internal.trusted_hours as t)
  union all
  -- rest
  select x.queue_name, x.hour, x.batches, x.success_count, x.error_count, x.messages, x.time_sum
  from monitoring_internal.queue_raw_stats(now() - interval '7 days',
                                           date_trunc('minute', now(), 'UTC') - interval '1 minute') as x
) as g
group by g.queue_name, g.hour
order by g.queue_name, g.hour desc;

comment on view monitoring.queue_metrics is
  'Per queue and UTC hour over the last 7 days: batches, successes, errors, mean batch time, messages. '
  'Malformed count tags are ignored, not fatal. Served from exact rollups plus the newest raw rows.';

create or replace view monitoring.api_metrics
with (security_invoker = true)
as
select a.api_name, a.hour, a.total_calls, a.success_count, a.error_count, a.avg_success_time_ms, a.p95_time_ms
from (
  -- H: the view's row as computed from raw rows when the hour was sealed
  select r.api_name, r.hour, r.total_calls, r.success_count, r.error_count,
         r.avg_success_time_ms, r.p95_time_ms
  from monitoring_internal.api_hour_stats as r
  where r.hour > now() - interval '7 days'
    and r.hour in (select t.hour from monitoring_internal.trusted_hours as t)
  union all
  -- other hours from M, tail and rest; every source row carries its call
  -- durations, and its counts are taken once, with its first duration
  select
    x.api_name,
    x.hour,
    (sum(x.calls) filter (where d.i = 1))::bigint,
    (sum(x.successes) filter (where d.i = 1))::bigint,
    (sum(x.failures) filter (where d.i = 1))::bigint,
    sum(x.success_time_sum) filter (where d.i = 1)
      / nullif(sum(x.successes) filter (where d.i = 1), 0)::double precision,
    percentile_cont(0.95) within group (order by d.v)
  from (
    -- M
    select r.api_name, r.hour, r.calls, r.successes, r.failures, r.success_time_sum, r.durations
    from monitoring_internal.api_minute_stats as r
    where r.minute > now() - interval '7 days'
      and r.minute in (select t.minute from monitoring_internal.trusted_minutes as t)
      and not (r.hour > now() - interval '7 days'
               and r.hour in (select t.hour from monitoring_internal.trusted_hours as t))
    union all
    -- tail
    select
      m.tags ->> 'api',
      date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00'),
      1::bigint,
      case when m.tags ->> 'success' = 'true' then 1 else 0 end::bigint,
      case when m.tags ->> 'success' = 'false' then 1 else 0 end::bigint,
      case when m.tags ->> 'success' = 'true' then m.metric_value end,
      array[m.metric_value]
    from monitoring.pipeline_metrics as m
    where m.metric_name = 'api_call'
      and m."timestamp" >= date_trunc('minute', now(), 'UTC') - interval '1 minute'
      and date_bin(interval '1 minute', m."timestamp", timestamptz '2000-01-01 00:00+00')
          not in (select t.minute from monitoring_internal.trusted_minutes as t)
      and date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00')
          not in (select t.hour from monitoring_internal.trusted_hours as t)
    union all
    -- rest
    select y.api_name, y.hour, y.calls, y.successes, y.failures, y.success_time_sum, y.durations
    from monitoring_internal.api_raw_stats(now() - interval '7 days',
                                           date_trunc('minute', now(), 'UTC') - interval '1 minute') as y
  ) as x
  cross join lateral unnest(x.durations) with ordinality as d(v, i)
  group by x.api_name, x.hour
) as a
order by a.api_name, a.hour desc;

comment on view monitoring.api_metrics is
  'Per API and UTC hour over the last 7 days: calls, successes, errors, mean success time, p95 time. '
  'Served from exact rollups plus the newest raw rows.';

revoke all on function monitoring_internal.view_untrusted_ranges(timestamptz, timestamptz),
  monitoring_internal.queue_raw_stats(timestamptz, timestamptz),
  monitoring_internal.api_raw_stats(timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function monitoring_internal.view_untrusted_ranges(timestamptz, timestamptz),
  monitoring_internal.queue_raw_stats(timestamptz, timestamptz),
  monitoring_internal.api_raw_stats(timestamptz, timestamptz) to service_role;
revoke all on monitoring.queue_metrics, monitoring.api_metrics from public, anon, authenticated;
grant select on monitoring.queue_metrics, monitoring.api_metrics to service_role;

-- monitoring_internal.refresh_rollups(), run by pg_cron every minute
-- (job monitoring-rollup-refresh, 20261201001200_monitoring_cron_jobs.sql).
--
-- Owns: monitoring_internal.refresh_rollups(integer).
--
-- Each run, in one transaction:
-- 1. prunes what no reader needs any more: minute rollups older than 3 hours
--    (the views' hour in progress and the health window) except those of the
--    views' first, partial hour, hour rollups and change records older than 8
--    days (the views look back 7);
-- 2. seals every complete hour inside the views' 7-day window that has no
--    trusted rollup (newest first, at most p_max_hours per run, so the first run
--    on a big table or a long back-fill is spread over several runs), and every
--    complete minute without one of the last two hours and of the two hours
--    starting at the window's first, partial hour (7 days ago). A period is complete
--    once it ended (minutes 1 minute ago, hours 2 minutes ago: later stragglers
--    only cost a re-seal). Rollup rows and seals of a kind are written by ONE
--    statement, so the recorded snapshot is exactly the data they describe;
-- 3. deletes the change records every seal now covers.
-- Readers are exact at every moment (see 20261201000600); a run only decides how
-- much they can take from rollups. Runs never wait: a second concurrent run
-- returns at once, and nothing here takes a lock a writer waits for.
--
-- The rollup rows use the views' own definitions: counts through
-- monitoring_internal.parsed_metrics, success by the text of tags->>'success',
-- UTC hours, p95 with percentile_cont.

create or replace function monitoring_internal.refresh_rollups(p_max_hours integer default 24)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  c_window        constant interval := interval '7 days';
  c_keep          constant interval := interval '8 days';
  c_keep_minutes  constant interval := interval '3 hours';
  c_minute_grace  constant interval := interval '1 minute';
  c_hour_grace    constant interval := interval '2 minutes';
  v_now      timestamptz := now();
  -- the views' first (partial) hour: its minutes after now() - 7 days come from minute rollups
  v_edge     timestamptz := date_trunc('hour', now() - interval '7 days', 'UTC');
  v_hours    timestamptz[];
  v_minutes  timestamptz[];
  v_hour_rows   bigint := 0;
  v_minute_rows bigint := 0;
  v_pruned      bigint := 0;
  v_n           bigint;
begin
  if p_max_hours is null or p_max_hours < 0 then
    raise exception using errcode = '22023',
      message = format('p_max_hours must be 0 or more, got %s', coalesce(p_max_hours::text, 'null'));
  end if;
  if not pg_try_advisory_xact_lock(hashtextextended('monitoring_internal.refresh_rollups', 0)) then
    return jsonb_build_object('skipped', true);
  end if;

  -- ------------------------------------------------------------ 1. prune
  delete from monitoring_internal.rollup_seals
  where period_start < v_now - c_keep
     or (kind = 'minute' and period_start < v_now - c_keep_minutes
         and not (period_start >= v_edge and period_start < v_edge + interval '2 hours'));
  get diagnostics v_n = row_count;
  v_pruned := v_pruned + v_n;
  delete from monitoring_internal.queue_minute_stats
  where minute < v_now - c_keep_minutes
    and not (minute >= v_edge and minute < v_edge + interval '2 hours');
  delete from monitoring_internal.api_minute_stats
  where minute < v_now - c_keep_minutes
    and not (minute >= v_edge and minute < v_edge + interval '2 hours');
  delete from monitoring_internal.queue_hour_stats where hour < v_now - c_keep;
  delete from monitoring_internal.api_hour_stats where hour < v_now - c_keep;
  delete from monitoring_internal.rollup_changes where minute < v_now - c_keep;

  -- ------------------------------------------------------------ 2a. hours
  select coalesce(array_agg(h.h order by h.h), '{}') into v_hours
  from (
    select g.h
    from generate_series(date_trunc('hour', v_now - c_window, 'UTC') + interval '1 hour',
                         date_trunc('hour', v_now - c_hour_grace, 'UTC') - interval '1 hour',
                         interval '1 hour') as g(h)
    where not exists (select 1 from monitoring_internal.trusted_hours as t where t.hour = g.h)
    order by g.h desc
    limit p_max_hours
  ) as h;

  if cardinality(v_hours) > 0 then
    with del_q as (
      delete from monitoring_internal.queue_hour_stats where hour = any (v_hours)
    ),
    del_a as (
      delete from monitoring_internal.api_hour_stats where hour = any (v_hours)
    ),
    ins_q as (
      insert into monitoring_internal.queue_hour_stats
        (hour, queue_name, batches, success_count, error_count, messages, time_sum)
      select h.h, q.queue_name, q.batches, q.success_count, q.error_count, q.messages, q.time_sum
      from unnest(v_hours) as h(h)
      cross join lateral (
        select
          m.tags ->> 'queue' as queue_name,
          count(*) as batches,
          sum(m.success_count) as success_count,
          sum(m.error_count) as error_count,
          sum(m.messages) as messages,
          sum(m.metric_value) as time_sum
        from monitoring_internal.parsed_metrics as m
        where m.metric_name = 'queue_processing'
          and m."timestamp" >= h.h
          and m."timestamp" < h.h + interval '1 hour'
        group by m.tags ->> 'queue'
      ) as q
      returning 1
    ),
    ins_a as (
      insert into monitoring_internal.api_hour_stats
        (hour, api_name, total_calls, success_count, error_count, avg_success_time_ms, p95_time_ms)
      select h.h, a.api_name, a.total_calls, a.success_count, a.error_count, a.avg_success_time_ms, a.p95_time_ms
      from unnest(v_hours) as h(h)
      cross join lateral (
        select
          m.tags ->> 'api' as api_name,
          count(*) as total_calls,
          sum(case when m.tags ->> 'success' = 'true'  then 1 else 0 end) as success_count,
          sum(case when m.tags ->> 'success' = 'false' then 1 else 0 end) as error_count,
          avg(case when m.tags ->> 'success' = 'true' then m.metric_value end) as avg_success_time_ms,
          percentile_cont(0.95) within group (order by m.metric_value) as p95_time_ms
        from monitoring.pipeline_metrics as m
        where m.metric_name = 'api_call'
          and m."timestamp" >= h.h
          and m."timestamp" < h.h + interval '1 hour'
        group by m.tags ->> 'api'
      ) as a
      returning 1
    ),
    seal as (
      insert into monitoring_internal.rollup_seals as s (kind, period_start, snap, sealed_by, sealed_at)
      select 'hour', h.h, pg_current_snapshot(), pg_current_xact_id(), v_now
      from unnest(v_hours) as h(h)
      on conflict (kind, period_start) do update
        set snap = excluded.snap, sealed_by = excluded.sealed_by, sealed_at = excluded.sealed_at
      returning 1
    )
    select (select count(*) from ins_q) + (select count(*) from ins_a) into v_hour_rows;
  end if;

  -- ------------------------------------------------------------ 2b. minutes
  select coalesce(array_agg(g.m order by g.m), '{}') into v_minutes
  from (
    select e.m from generate_series(v_edge, v_edge + interval '119 minutes', interval '1 minute') as e(m)
    union
    select r.m from generate_series(date_trunc('hour', v_now, 'UTC') - interval '1 hour',
                                    date_trunc('minute', v_now - c_minute_grace, 'UTC') - interval '1 minute',
                                    interval '1 minute') as r(m)
  ) as g
  where not exists (select 1 from monitoring_internal.trusted_minutes as t where t.minute = g.m);

  if cardinality(v_minutes) > 0 then
    with del_q as (
      delete from monitoring_internal.queue_minute_stats where minute = any (v_minutes)
    ),
    del_a as (
      delete from monitoring_internal.api_minute_stats where minute = any (v_minutes)
    ),
    ins_q as (
      insert into monitoring_internal.queue_minute_stats
        (minute, hour, queue_name, batches, success_count, error_count, messages, time_sum)
      select u.m, date_trunc('hour', u.m, 'UTC'), q.queue_name, q.batches, q.success_count,
             q.error_count, q.messages, q.time_sum
      from unnest(v_minutes) as u(m)
      cross join lateral (
        select
          m.tags ->> 'queue' as queue_name,
          count(*) as batches,
          sum(m.success_count) as success_count,
          sum(m.error_count) as error_count,
          sum(m.messages) as messages,
          sum(m.metric_value) as time_sum
        from monitoring_internal.parsed_metrics as m
        where m.metric_name = 'queue_processing'
          and m."timestamp" >= u.m
          and m."timestamp" < u.m + interval '1 minute'
        group by m.tags ->> 'queue'
      ) as q
      returning 1
    ),
    ins_a as (
      insert into monitoring_internal.api_minute_stats
        (minute, hour, api_name, calls, successes, failures, success_time_sum, durations)
      select u.m, date_trunc('hour', u.m, 'UTC'), a.api_name, a.calls, a.successes, a.failures,
             a.success_time_sum, a.durations
      from unnest(v_minutes) as u(m)
      cross join lateral (
        select
          m.tags ->> 'api' as api_name,
          count(*) as calls,
          count(*) filter (where m.tags ->> 'success' = 'true') as successes,
          count(*) filter (where m.tags ->> 'success' = 'false') as failures,
          sum(m.metric_value) filter (where m.tags ->> 'success' = 'true') as success_time_sum,
          array_agg(m.metric_value) as durations
        from monitoring.pipeline_metrics as m
        where m.metric_name = 'api_call'
          and m."timestamp" >= u.m
          and m."timestamp" < u.m + interval '1 minute'
        group by m.tags ->> 'api'
      ) as a
      returning 1
    ),
    seal as (
      insert into monitoring_internal.rollup_seals as s (kind, period_start, snap, sealed_by, sealed_at)
      select 'minute', u.m, pg_current_snapshot(), pg_current_xact_id(), v_now
      from unnest(v_minutes) as u(m)
      on conflict (kind, period_start) do update
        set snap = excluded.snap, sealed_by = excluded.sealed_by, sealed_at = excluded.sealed_at
      returning 1
    )
    select (select count(*) from ins_q) + (select count(*) from ins_a) into v_minute_rows;
  end if;

  -- ------------------------------------------------------------ 3. covered changes
  -- A committed change every existing seal of its minute and hour has seen is
  -- covered for good: any later seal is computed from a later snapshot.
  delete from monitoring_internal.rollup_changes as c
  where not exists (
    select 1 from monitoring_internal.rollup_seals as s
    where ((s.kind = 'minute' and s.period_start = c.minute)
        or (s.kind = 'hour' and s.period_start = date_trunc('hour', c.minute, 'UTC')))
      and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap)));
  get diagnostics v_n = row_count;

  return jsonb_build_object(
    'hours_sealed', cardinality(v_hours),
    'minutes_sealed', cardinality(v_minutes),
    'hour_rows', v_hour_rows,
    'minute_rows', v_minute_rows,
    'changes_cleared', v_n,
    'seals_pruned', v_pruned);
end;
$$;

comment on function monitoring_internal.refresh_rollups(integer) is
  'Seals complete minutes (the last 2 h, and 2 h from the 7-day window''s start) and hours (7-day '
  'window, at most p_max_hours per run) without a trusted rollup, prunes old rollups and covered '
  'change records; returns counts. Never waits.';

revoke all on function monitoring_internal.refresh_rollups(integer) from public, anon, authenticated;
grant execute on function monitoring_internal.refresh_rollups(integer) to service_role;

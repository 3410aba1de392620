-- monitoring_internal.refresh_rollups(): the change records aggregation still
-- needs are kept, and a back-fill is caught up within two cron runs (newest
-- hours first, in chunks, within a time budget) without skipping seals while
-- an aggregation run holds the shared lock.
--
-- Owns (replaces): monitoring_internal.refresh_rollups(integer), last defined
-- by release 0.2.0 (20261201000800_monitoring_rollup_refresh.sql). Its rollups
-- and the views' seals are as there; what changes:
-- * Change records (shared with monitoring.aggregate_metrics, 20261212000100):
--   step 1 prunes change records, and the seals of aggregated periods (kinds
--   hourly/daily/weekly), only once they are older than raw retention (14
--   days), not after the views' 8: aggregation re-aggregates any period raw
--   data still covers; the views' own seals still go after 8 days. A change
--   record is deleted only when every seal it falls in has seen it, the
--   aggregated hour, day and ISO week included. Before, a change to a period
--   with no view seal was deleted within a minute, long before the next
--   hourly, daily or weekly run could see it. Change records of aggregated
--   periods live until the period's next run re-seals it: at most a week for a
--   late row (the weekly job), usually an hour.
-- * p_max_hours defaults to 168 (the views' whole window) instead of 24. After a
--   back-fill of 14 days every hour was untrusted and the refresh caught up 24
--   hours per run: 7 runs (minutes) of dashboards reading raw rows.
-- * Work order: the recent minutes first (the health check and the hour in
--   progress read them), then untrusted hours newest first (the dashboards'
--   "last hour" before last week), 12 hours per statement, starting no further
--   chunk once the run has used 40 s less the previous chunk's time (pg_cron
--   calls it every minute; a run does not overlap the next). The result says how
--   many untrusted hours are left ('hours_left').
-- * Locks: runs exclude each other with their own advisory lock
--   ('monitoring_internal.refresh_rollups:seal'; a second run skips, as before).
--   The release's lock ('monitoring_internal.refresh_rollups'), which
--   monitoring.aggregate_metrics holds shared while it seals aggregated periods,
--   is now taken (exclusively, without waiting) only for what it protects:
--   deleting change records and the old aggregation seals. While an aggregation
--   run holds it, the refresh still seals and defers only that cleanup
--   ('changes_deferred': true). Before, a long aggregation run (a back-fill makes
--   every aggregated hour of 14 days stale) made every refresh skip.
-- * The minute just ended is sealed 5 s after it ends, not a minute after:
--   p_settle (new; the function is dropped and created with the extra
--   argument) makes a run wait until p_settle past the minute and seal every
--   minute that ended at least p_settle ago, read at the clock after the wait.
--   The pg_cron job passes 5 seconds (below); pg_cron 1.4 fires at second 0,
--   so without it the minute just ended stayed unsealed until the next run and
--   every reader of the last minutes (health, the hour in progress) read 60 to
--   120 s of raw rows instead of 0 to 60. A row that lands in a minute after
--   its seal leaves a change record, which untrusts the minute until the next
--   run, as for any late row. Without p_settle (direct calls, tests) minutes
--   are sealed once they ended a minute ago, and the run never waits.
-- * Call durations are also kept as sketches (each minute rollup's sketch_keys /
--   sketch_counts) and pre-merged into spans (step 2b) for the p95 estimates of
--   monitoring.api_metrics; a change record is kept while a span has not seen it
--   (20261216000150).
-- Trust is asked through monitoring_internal.trusted_periods (20261216000100).
-- Each chunk's rollups and its seal are one statement, so a seal's snapshot is
-- exactly the one its rows were computed with.

drop function monitoring_internal.refresh_rollups(integer);

create function monitoring_internal.refresh_rollups(
  p_max_hours integer  default 168,
  p_settle    interval default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  c_window        constant interval := interval '7 days';
  c_keep          constant interval := interval '8 days';
  c_raw_keep      constant interval := interval '14 days';  -- raw retention: aggregation's reach
  c_keep_minutes  constant interval := interval '3 hours';
  v_minute_grace  constant interval := coalesce(p_settle, interval '1 minute');
  c_hour_grace    constant interval := interval '2 minutes';
  c_chunk         constant integer  := 12;                   -- hours per statement
  c_budget        constant interval := interval '40 seconds';
  v_started  timestamptz := clock_timestamp();
  v_now      timestamptz := now();
  -- the views' first (partial) hour: its minutes after now() - 7 days come from minute rollups
  v_edge     timestamptz := date_trunc('hour', now() - interval '7 days', 'UTC');
  v_todo     timestamptz[];
  v_hours    timestamptz[];
  v_minutes  timestamptz[];
  v_sealed      integer := 0;
  v_chunk_start timestamptz;
  v_chunk_time  interval := interval '0';
  v_hour_rows   bigint := 0;
  v_minute_rows bigint := 0;
  v_pruned      bigint := 0;
  v_cleared     bigint;
  v_n           bigint;
  v_span_snap   pg_snapshot;
  v_span_starts timestamptz[];
  v_span_from   timestamptz;
  v_span_limit  timestamptz;
  v_span_to     timestamptz;
  v_span_base   timestamptz;
  v_spans       integer := 0;
begin
  if p_max_hours is null or p_max_hours < 0 then
    raise exception using errcode = '22023',
      message = format('p_max_hours must be 0 or more, got %s', coalesce(p_max_hours::text, 'null'));
  end if;
  if p_settle is not null then
    if not (p_settle >= interval '0' and p_settle <= interval '30 seconds') then
      raise exception using errcode = '22023',
        message = format('p_settle must be between 0 and 30 seconds, got %s', p_settle);
    end if;
    -- Wait for the rows of the minute just ended still in flight, then read the
    -- clock (now() is this transaction's start, second 0 under pg_cron). Before
    -- the lock: a waiting run must not make another caller skip.
    perform pg_catalog.pg_sleep(greatest(0, extract(epoch from
      date_trunc('minute', clock_timestamp(), 'UTC') + p_settle - clock_timestamp())::double precision));
    v_now := clock_timestamp();
    v_edge := date_trunc('hour', v_now - interval '7 days', 'UTC');
  end if;
  if not pg_try_advisory_xact_lock(hashtextextended('monitoring_internal.refresh_rollups:seal', 0)) then
    return jsonb_build_object('skipped', true);
  end if;

  -- ------------------------------------------------------------ 1. prune the views' rollups
  delete from monitoring_internal.rollup_seals
  where (kind in ('minute', 'hour') and period_start < v_now - c_keep)
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

  -- ------------------------------------------------------------ 2. minutes
  select coalesce(array_agg(g.m order by g.m), '{}') into v_minutes
  from (
    select e.m from generate_series(v_edge, v_edge + interval '119 minutes', interval '1 minute') as e(m)
    union
    select r.m from generate_series(date_trunc('hour', v_now, 'UTC') - interval '1 hour',
                                    date_trunc('minute', v_now - v_minute_grace, 'UTC') - interval '1 minute',
                                    interval '1 minute') as r(m)
  ) as g
  where g.m not in (select t.period_start
                    from monitoring_internal.trusted_periods('minute', v_edge, v_now) as t);

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
        (minute, hour, api_name, calls, successes, failures, success_time_sum, durations,
         sketch_keys, sketch_counts)
      select u.m, date_trunc('hour', u.m, 'UTC'), a.api_name, a.calls, a.successes, a.failures,
             a.success_time_sum, a.durations, sk.keys, sk.counts
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
      cross join lateral (
        select coalesce(array_agg(b.k order by b.k), '{}') as keys, coalesce(array_agg(b.n order by b.k), '{}') as counts
        from (
          select monitoring_internal.sketch_key(d.v) as k, count(*) as n
          from unnest(a.durations) as d(v)
          where d.v is not null
          group by 1
        ) as b
      ) as sk
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

  -- ------------------------------------------------------------ 2b. api spans
  -- Pre-merged minute rollups for the p95 estimates of monitoring.api_metrics
  -- (20261216000150): the hour in progress and the hour before it from their
  -- start, and the window's first partial hour from the minute after the one
  -- holding now() - 7 days (and the minute after that: a read in the next minute
  -- starts there), each up to its first minute without a trusted rollup. A span
  -- grows from its trusted predecessor (same start) by the minutes after it, so
  -- the hour in progress costs one minute a run. The snapshot is taken before any
  -- part is checked: a change the span cannot have seen is never visible to it.
  v_span_snap := pg_current_snapshot();
  v_span_starts := array[date_trunc('hour', v_now, 'UTC'), date_trunc('hour', v_now, 'UTC') - interval '1 hour',
                         date_trunc('minute', v_now - c_window, 'UTC') + interval '1 minute',
                         date_trunc('minute', v_now - c_window, 'UTC') + interval '2 minutes'];
  for v_i in 1 .. cardinality(v_span_starts) loop
    v_span_from  := v_span_starts[v_i];
    v_span_limit := date_trunc('hour', v_span_from, 'UTC') + interval '1 hour';
    if v_i > 2 then
      v_span_limit := least(v_span_limit, v_edge + interval '1 hour');
    end if;
    continue when v_span_from >= v_span_limit;
    select coalesce(min(g.m), v_span_limit) into v_span_to
    from generate_series(v_span_from, v_span_limit - interval '1 minute', interval '1 minute') as g(m)
    where g.m not in (select t.period_start
                      from monitoring_internal.trusted_periods('minute', v_span_from, v_span_limit) as t);
    v_span_base := monitoring_internal.api_span_end(v_span_from, v_span_to);
    if v_span_to > v_span_from and v_span_base is distinct from v_span_to then
      insert into monitoring_internal.api_spans as s (span_start, span_end, snap, sealed_by, sealed_at)
      values (v_span_from, v_span_to, v_span_snap, pg_current_xact_id(), v_now)
      on conflict (span_start, span_end) do update
        set snap = excluded.snap, sealed_by = excluded.sealed_by, sealed_at = excluded.sealed_at;
      delete from monitoring_internal.api_span_stats where span_start = v_span_from and span_end = v_span_to;
      with parts as (
        select s.api_name, s.calls, s.successes, s.failures, s.success_time_sum
        from monitoring_internal.api_span_stats as s
        where s.span_start = v_span_from and s.span_end = v_span_base
        union all
        select r.api_name, r.calls, r.successes, r.failures, r.success_time_sum
        from monitoring_internal.api_minute_stats as r
        where r.minute >= coalesce(v_span_base, v_span_from) and r.minute < v_span_to
      ),
      buckets as (
        select x.api_name, x.k, sum(x.n)::bigint as n
        from (
          select s.api_name, u.k, u.n
          from monitoring_internal.api_span_stats as s
          cross join lateral unnest(s.sketch_keys, s.sketch_counts) as u(k, n)
          where s.span_start = v_span_from and s.span_end = v_span_base
          union all
          select k.api_name, k.sketch_key, k.n
          from monitoring_internal.api_minute_sketches as k
          where k.minute >= coalesce(v_span_base, v_span_from) and k.minute < v_span_to
        ) as x
        group by x.api_name, x.k
      ),
      sketches as (
        select b.api_name, array_agg(b.k order by b.k) as keys, array_agg(b.n order by b.k) as counts
        from buckets as b
        group by b.api_name
      )
      insert into monitoring_internal.api_span_stats
        (span_start, span_end, api_name, calls, successes, failures, success_time_sum, sketch_keys, sketch_counts)
      select v_span_from, v_span_to, t.api_name, t.calls, t.successes, t.failures, t.success_time_sum,
             coalesce(k.keys, '{}'), coalesce(k.counts, '{}')
      from (
        select p.api_name, sum(p.calls)::bigint as calls, sum(p.successes)::bigint as successes,
               sum(p.failures)::bigint as failures, sum(p.success_time_sum) as success_time_sum
        from parts as p
        group by p.api_name
      ) as t
      left join sketches as k on k.api_name is not distinct from t.api_name;
      v_spans := v_spans + 1;
    end if;
    -- the span just built (or found) replaces the others from the same start
    delete from monitoring_internal.api_spans where span_start = v_span_from and span_end <> v_span_to;
  end loop;
  delete from monitoring_internal.api_spans where span_start <> all (v_span_starts);

  -- ------------------------------------------------------------ 3. hours, newest first
  select coalesce(array_agg(g.h order by g.h desc), '{}') into v_todo
  from generate_series(date_trunc('hour', v_now - c_window, 'UTC') + interval '1 hour',
                       date_trunc('hour', v_now - c_hour_grace, 'UTC') - interval '1 hour',
                       interval '1 hour') as g(h)
  where g.h not in (select t.period_start
                    from monitoring_internal.trusted_periods('hour', v_now - c_window, v_now) as t);

  while v_sealed < least(p_max_hours, cardinality(v_todo)) loop
    -- A chunk as long as the last one must still end within the budget.
    exit when v_sealed > 0 and clock_timestamp() - v_started + v_chunk_time > c_budget;
    v_hours := v_todo[v_sealed + 1 : least(v_sealed + c_chunk, p_max_hours)];
    v_chunk_start := clock_timestamp();
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
    select (select count(*) from ins_q) + (select count(*) from ins_a) into v_n;
    v_hour_rows := v_hour_rows + v_n;
    v_sealed := v_sealed + cardinality(v_hours);
    v_chunk_time := clock_timestamp() - v_chunk_start;
  end loop;

  -- ------------------------------------------------------------ 4. change records
  -- Only while no aggregation run is sealing (it holds this lock shared): a seal
  -- computed concurrently from an older snapshot must find its change records.
  if pg_try_advisory_xact_lock(hashtextextended('monitoring_internal.refresh_rollups', 0)) then
    delete from monitoring_internal.rollup_seals
    where kind in ('hourly', 'daily', 'weekly') and period_start < v_now - c_raw_keep;
    get diagnostics v_n = row_count;
    v_pruned := v_pruned + v_n;
    delete from monitoring_internal.rollup_changes where minute < v_now - c_raw_keep;
    -- A committed change every existing seal of its minute, hour, and its
    -- aggregated hour, day and week, and every api span over its minute, has
    -- seen is covered for good: any later seal is computed from a later snapshot.
    delete from monitoring_internal.rollup_changes as c
    where not exists (
      select 1 from monitoring_internal.rollup_seals as s
      where (s.kind, s.period_start) in (
              ('minute', c.minute),
              ('hour',   date_trunc('hour', c.minute, 'UTC')),
              ('hourly', date_trunc('hour', c.minute, 'UTC')),
              ('daily',  date_bin(interval '24 hours', c.minute, timestamptz '2000-01-01 00:00+00')),
              ('weekly', date_bin(interval '168 hours', c.minute, timestamptz '2000-01-03 00:00+00')))
        and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap)))
      and not exists (
        select 1 from monitoring_internal.api_spans as s
        where c.minute >= s.span_start
          and c.minute < s.span_end
          and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap)));
    get diagnostics v_cleared = row_count;
  end if;

  return jsonb_build_object(
    'hours_sealed', v_sealed,
    'hours_left', cardinality(v_todo) - v_sealed,
    'minutes_sealed', cardinality(v_minutes),
    'hour_rows', v_hour_rows,
    'minute_rows', v_minute_rows,
    'spans_built', v_spans,
    'changes_cleared', coalesce(v_cleared, 0),
    'changes_deferred', v_cleared is null,
    'seals_pruned', v_pruned,
    'seconds', round(extract(epoch from clock_timestamp() - v_started)::numeric, 3));
end;
$$;

comment on function monitoring_internal.refresh_rollups(integer, interval) is
  'Seals complete minutes (the last 2 h, and 2 h from the 7-day window''s start), then untrusted hours of '
  'the 7-day window newest first (at most p_max_hours, within ~40 s), prunes old rollups and covered '
  'change records; returns counts and hours_left. Waits only for p_settle past the minute (the cron job: 5 s).';

revoke all on function monitoring_internal.refresh_rollups(integer, interval) from public, anon, authenticated;
grant execute on function monitoring_internal.refresh_rollups(integer, interval) to service_role;

-- The job of 20261201001200, same name and schedule, now with the settle.
select cron.schedule(
  'monitoring-rollup-refresh',
  '* * * * *',
  $$select monitoring_internal.refresh_rollups(p_settle => interval '5 seconds')$$
);

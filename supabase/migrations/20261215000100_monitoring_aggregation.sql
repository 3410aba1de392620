-- Aggregation: late rows, bounded cardinality, and as fast as release 0.2.0's.
--
-- Owns (replaces): monitoring.aggregate_metrics(text, timestamptz), last
-- defined by release 0.2.0 (20261201000400). Everything that migration says
-- about it still holds (self-healing back-fill from the
-- watermark, the 14-day raw-retention floor, provisional runs ahead of real
-- time, the natural key, one hash pass without a sort of every raw row, daily
-- and weekly from raw) except "rows arriving later stay raw only". Changes:
--
-- * Late and back-filled rows are aggregated. Every period a run writes is
--   sealed in monitoring_internal.rollup_seals (kind = the period) with the
--   snapshot its rollups were computed from, in the same statement, and the
--   change records of pipeline_metrics' triggers (20261212000100) say which
--   minutes were written since. A run aggregates the periods after the
--   watermark, as before, plus every sealed period at or after the retention
--   floor that is stale (monitoring_internal.stale_aggregation_periods):
--   rows landed in it, or left it, after it was sealed. The period is
--   recomputed from raw as a whole: rows of its rollups are upserted through the
--   natural key and rows of dimension sets no longer present are deleted, so
--   the result is exactly what raw says, however often it runs. Measured before:
--   50 000 rows written into an hour already aggregated -> 0 rollup rows.
--   Periods before the watermark without a seal (aggregated by release 0.2.0,
--   or after a TRUNCATE of pipeline_metrics dropped every seal) are left alone;
--   this migration seals the 0.2.0 ones still inside raw retention.
-- * Cardinality is bounded: per metric and period at most max_dimension_sets
--   dimension sets (monitoring.dimension_limits, 20261212000300; default 1000)
--   get rows of their own, those with the most raw rows (ties by dimensions, so
--   a recomputation picks the same ones). The rest fold into one row with
--   dimensions {"overflow": "true"} carrying their count, sum, min, max, avg
--   and percentiles; a writer's own {"overflow": "true"} set is that row too.
--   Measured before: 50 000 distinct request_id values in an hour -> 50 000
--   rollup rows (27 MB, 3.3 s). Each (metric, period) that folds writes one
--   public.monitoring_events row, event_type 'aggregation_dimension_overflow',
--   naming the metric, the limit, how many sets and rows were folded and the
--   tag key with the most distinct values (the likely id in a tag);
--   monitoring_internal.health_dimensions() (20261212000500) reports them.
-- * Raw rows are read period by period (an index range scan each), so a stale
--   hour days back costs its own rows only; a row's period is the one it was
--   read for (no date_bin per row).
-- * SECURITY DEFINER (was invoker): the seals live in monitoring_internal,
--   which only the owner writes. EXECUTE stays with service_role only.
-- * Seals are written holding refresh_rollups' advisory lock in shared mode
--   (waiting for a refresh in progress, usually milliseconds; refresh takes it
--   exclusively and skips a minute rather than wait): refresh deletes change
--   records every seal has seen, and a seal computed concurrently from an older
--   snapshot could otherwise lose one.
--
-- * Speed. The first formulation of the bound took 2.6-3.1 s for a
--   1 001 488-row hour (93 groups), release 0.2.0's function 2.2-2.8 s,
--   alternating on the same data on an idle machine. auto_explain of that hour
--   (serial: a statement that writes gets no parallel plan; per-node timing
--   inflates per-row nodes), 3.24 s in all: index scan 0.46 s, dimensions
--   through Memoize 0.80 s, the hash table of groups keyed by jsonb 1.10 s,
--   statistics per group 0.57 s. This one: 2.0-2.2 s against 0.2.0's
--   2.5-3.1 s the same way; on the day-partitioned table (20261213000200)
--   medians 1.45-1.81 s against 2.54-2.87 s at load 2-4
--   (docs/performance-sql.md). Two choices make it so, same results
--   (supabase/tests/12_aggregation_reference.sql compares them with plain
--   aggregates over the raw rows):
--   - Groups are hashed by the dimensions' text (collation "C"), not by the
--     jsonb: hashing and comparing a jsonb walks it with an iterator for every
--     raw row (1M rows: 2.0-2.2 s grouped by jsonb, 1.3-1.5 s by its text).
--     Exact: jsonb stores an object canonically (keys sorted, no duplicates)
--     and the dimensions hold only strings and booleans, whose text is
--     unique, so two dimension sets are equal exactly when their texts are.
--     The text is computed once per distinct tag set (Memoize), cast back to
--     jsonb once per group.
--   - Statistics per group from one sort and one pass: percentile_cont at
--     fractions 0 and 1 is min and max (exactly: no interpolation at the
--     ends), so of min, max, avg, sum, count and the percentiles only sum and
--     the percentiles are aggregates over the group's values; count is the
--     array's length (metric_value is not null) and avg = sum / count, which
--     is what avg(double precision) computes (the same additions in the same
--     order, then one division). p50/p95/p99 are the same percentile_cont.
--
-- Until this migration runs, an upgrade keeps 0.2.0's function (one push:
-- seconds), and the periods it aggregates meanwhile are sealed below.

create or replace function monitoring.aggregate_metrics(
  p_period text,
  p_now    timestamptz default now()
)
returns integer
language plpgsql
security definer
set search_path = ''
-- See 20261201000400: hash the groups instead of sorting every raw row by a
-- key (enable_sort = off; the sorts left are of groups, for the rank, and of
-- each group's values, inside percentile_cont), the hash table holds every
-- value of the period (work_mem), no JIT.
set enable_sort = off
set work_mem = '128MB'
set jit = off
as $$
declare
  c_raw_retention constant interval := interval '14 days';
  c_grace         constant interval := interval '3 minutes';
  c_overflow      constant jsonb    := jsonb '{"overflow": "true"}';
  v_unit    text;
  v_step    interval;
  v_floor   timestamptz;
  v_from    timestamptz;
  v_to      timestamptz;
  v_periods timestamptz[];
  v_default integer;
  v_rows    integer;
  v_done    timestamptz;
begin
  if p_period is null or p_period not in ('hourly', 'daily', 'weekly') then
    raise exception using
      errcode = '22023',
      message = format('invalid period %L', p_period),
      hint = 'Use hourly, daily or weekly.';
  end if;
  if p_now is null then
    raise exception using errcode = '22004', message = 'p_now must not be null';
  end if;
  select l.max_dimension_sets into v_default from monitoring.dimension_limits as l where l.metric_name = '*';
  if v_default is null then
    raise exception using
      errcode = '55000',
      message = 'monitoring.dimension_limits has no default row (metric_name ''*'')',
      hint = 'insert into monitoring.dimension_limits (metric_name, max_dimension_sets) values (''*'', 1000);';
  end if;

  v_unit := case p_period when 'hourly' then 'hour' when 'daily' then 'day' else 'week' end;
  -- Fixed-length steps: UTC has no DST, and '1 day' would follow the session time zone.
  v_step := case p_period when 'hourly' then interval '1 hour'
                          when 'daily'  then interval '24 hours'
                          else               interval '168 hours' end;

  perform pg_advisory_xact_lock(hashtextextended('monitoring.aggregate_metrics:' || p_period, 0));
  -- Shared: runs of different periods do not wait for each other, only for a
  -- refresh in progress (which takes it exclusively and skips while we hold it).
  perform pg_advisory_xact_lock_shared(hashtextextended('monitoring_internal.refresh_rollups', 0));

  -- End of the last complete period.
  v_to := date_trunc(v_unit, p_now - c_grace, 'UTC');
  -- Start of the oldest period raw retention still covers completely.
  v_floor := date_trunc(v_unit, greatest(p_now, now()) - c_raw_retention, 'UTC');
  if v_floor < greatest(p_now, now()) - c_raw_retention then
    v_floor := v_floor + v_step;
  end if;

  select greatest(w.aggregated_until, v_floor) into v_from
  from monitoring.aggregation_watermarks as w
  where w.period = p_period;
  v_from := coalesce(v_from, v_floor);

  -- The periods after the watermark, and the stale ones before it.
  select coalesce(array_agg(p.start order by p.start), '{}') into v_periods
  from (
    select g.start from generate_series(v_from, v_to - v_step, v_step) as g(start)
    union
    select s.period_start from monitoring_internal.stale_aggregation_periods as s
    where s.period = p_period and s.period_start >= v_floor and s.period_start < v_to
  ) as p;

  if cardinality(v_periods) = 0 then
    return 0;
  end if;

  -- One statement, so the seals' snapshot is exactly the one the rollups were computed from.
  with grouped as materialized (
    -- One pass over the raw rows of each period: dimensions once per distinct
    -- tag set (Memoize), values collected per group in a hash table keyed by
    -- the dimensions' text (see the header: hashing and comparing jsonb for
    -- every raw row was a third of the run).
    select
      m.metric_name,
      p.start as period_start,
      d.dimensions_text,
      array_agg(m.metric_value) as vals
    from unnest(v_periods) as p(start)
    join monitoring.pipeline_metrics as m
      on m."timestamp" >= p.start and m."timestamp" < p.start + v_step
    cross join lateral (
      select coalesce(jsonb_object_agg(t.key, t.value), '{}'::jsonb)::text collate "C" as dimensions_text
      from jsonb_each(m.tags) as t
      where jsonb_typeof(t.value) in ('string', 'boolean')
    ) as d
    group by m.metric_name, p.start, d.dimensions_text
  ),
  ranked as (
    select
      g.metric_name, g.period_start, g.dimensions, g.vals,
      row_number() over w as rank,
      count(*) over (partition by g.metric_name, g.period_start) as sets,
      coalesce(l.max_dimension_sets, v_default) as max_sets
    from (select gr.metric_name, gr.period_start, gr.dimensions_text, gr.dimensions_text::jsonb as dimensions,
                 gr.vals
          from grouped as gr) as g
    left join monitoring.dimension_limits as l on l.metric_name = g.metric_name
    -- Ties (e.g. 50 000 sets of one row each) by a hash of the dimensions, then
    -- the dimensions themselves: comparing jsonb 800 000 times cost 2.5 s.
    window w as (partition by g.metric_name, g.period_start
                 order by cardinality(g.vals) desc, hashtextextended(g.dimensions_text, 0), g.dimensions)
  ),
  buckets as (
    select r.metric_name, r.period_start, r.dimensions, r.vals
    from ranked as r
    where r.rank <= r.max_sets and r.dimensions <> c_overflow
    union all
    select r.metric_name, r.period_start, c_overflow, array_agg(x.v)
    from ranked as r
    cross join lateral unnest(r.vals) as x(v)
    where r.rank > r.max_sets or r.dimensions = c_overflow
    group by r.metric_name, r.period_start
  ),
  stats as (
    -- One sort of each bucket's values gives min (fraction 0), the
    -- percentiles and max (fraction 1) exactly; one more pass the sum, and
    -- avg = sum / count is what avg() computes (the same additions in the same
    -- order). Six aggregates per value instead of two cost ~0.3 s of the
    -- 1M-row hour.
    select b.metric_name, b.period_start, b.dimensions,
           s.sum_value, cardinality(b.vals) as count_value, s.pct
    from buckets as b
    cross join lateral (
      select
        sum(x) as sum_value,
        percentile_cont(array[0, 0.5, 0.95, 0.99, 1]::double precision[])
          within group (order by x) as pct
      from unnest(b.vals) as x
    ) as s
  ),
  upserted as (
    insert into monitoring.aggregated_metrics as a (
      metric_name, period, period_start,
      min_value, max_value, avg_value, sum_value, count_value,
      p50_value, p95_value, p99_value, dimensions
    )
    select
      s.metric_name, p_period, s.period_start,
      s.pct[1], s.pct[5], s.sum_value / s.count_value, s.sum_value, s.count_value,
      s.pct[2], s.pct[3], s.pct[4], s.dimensions
    from stats as s
    on conflict on constraint aggregated_metrics_natural_key do update set
      min_value   = excluded.min_value,
      max_value   = excluded.max_value,
      avg_value   = excluded.avg_value,
      sum_value   = excluded.sum_value,
      count_value = excluded.count_value,
      p50_value   = excluded.p50_value,
      p95_value   = excluded.p95_value,
      p99_value   = excluded.p99_value,
      created_at  = now()
    returning 1
  ),
  -- Dimension sets that are gone (rows deleted or moved, or folded since).
  removed as (
    delete from monitoring.aggregated_metrics as a
    where a.period = p_period
      and a.period_start = any (v_periods)
      and not exists (
        select 1 from stats as s
        where s.metric_name = a.metric_name and s.period_start = a.period_start
          and s.dimensions = a.dimensions)
  ),
  sealed as (
    insert into monitoring_internal.rollup_seals as r (kind, period_start, snap, sealed_by, sealed_at)
    select p_period, p.start, pg_current_snapshot(), pg_current_xact_id(), now()
    from unnest(v_periods) as p(start)
    on conflict (kind, period_start) do update
      set snap = excluded.snap, sealed_by = excluded.sealed_by, sealed_at = excluded.sealed_at
  ),
  -- Per folded metric and period: the tag key with the most distinct values
  -- (distinct pairs, then counts, both hashed: sorting 100 000 jsonb values for
  -- count(distinct) cost a second).
  spread as (
    select k.metric_name, k.period_start, k.key, count(*) as distinct_values,
           row_number() over (partition by k.metric_name, k.period_start
                              order by count(*) desc, k.key collate "C") as place
    from (
      select distinct r.metric_name, r.period_start, t.key, t.value
      from ranked as r
      cross join lateral jsonb_each_text(r.dimensions) as t
      where r.sets > r.max_sets
    ) as k
    group by k.metric_name, k.period_start, k.key
  ),
  overflow_events as (
    insert into public.monitoring_events (event_type, details)
    select 'aggregation_dimension_overflow', jsonb_build_object(
             'metric_name', f.metric_name,
             'period', p_period,
             'period_start', f.period_start,
             'max_dimension_sets', f.max_sets,
             'dimension_sets', f.sets,
             'folded_dimension_sets', f.folded_sets,
             'folded_rows', f.folded_rows,
             'top_tag_key', t.key,
             'top_tag_distinct_values', t.distinct_values)
    from (
      select r.metric_name, r.period_start, r.max_sets, r.sets,
             count(*) filter (where r.rank > r.max_sets) as folded_sets,
             sum(cardinality(r.vals)) filter (where r.rank > r.max_sets) as folded_rows
      from ranked as r
      where r.sets > r.max_sets
      group by r.metric_name, r.period_start, r.max_sets, r.sets
    ) as f
    left join spread as t
      on t.metric_name = f.metric_name and t.period_start = f.period_start and t.place = 1
  )
  select count(*)::integer into v_rows from upserted;

  -- End of the last period complete in real time, whatever p_now said.
  v_done := least(v_to, date_trunc(v_unit, now() - c_grace, 'UTC'));
  insert into monitoring.aggregation_watermarks as w (period, aggregated_until, updated_at)
  values (p_period, v_done, now())
  on conflict (period) do update
    set aggregated_until = greatest(w.aggregated_until, excluded.aggregated_until),
        updated_at = excluded.updated_at;

  return v_rows;
end;
$$;

comment on function monitoring.aggregate_metrics(text, timestamptz) is
  'Aggregates every complete hourly|daily|weekly period not yet aggregated and re-aggregates those that '
  'received rows since (both bounded by the 14-day raw retention), at most max_dimension_sets dimension '
  'sets per metric and period plus one overflow row; returns the number of rollup rows written. '
  'p_now is for tests and back-fills.';

revoke all on function monitoring.aggregate_metrics(text, timestamptz) from public, anon, authenticated;
grant execute on function monitoring.aggregate_metrics(text, timestamptz) to service_role;

-- Periods aggregated before this release and still inside raw retention: seal
-- them as of now, so rows that land in them from here on are aggregated too.
insert into monitoring_internal.rollup_seals (kind, period_start, snap, sealed_by)
select a.period, a.period_start, pg_current_snapshot(), pg_current_xact_id()
from (select distinct g.period, g.period_start from monitoring.aggregated_metrics as g
      where g.period_start >= now() - interval '14 days') as a
on conflict (kind, period_start) do nothing;

-- Hourly, daily and weekly rollups of monitoring.pipeline_metrics.
--
-- Owns: monitoring.aggregation_watermarks, monitoring.aggregate_metrics(text, timestamptz),
-- monitoring.aggregate_hourly_metrics() (the spec's name). The cron jobs that
-- call them are in 20261201001200_monitoring_cron_jobs.sql.
--
-- Fixes to the spec's aggregate_hourly_metrics():
-- * Self-healing: a run aggregates every complete period since the last one it
--   aggregated (monitoring.aggregation_watermarks), so missed cron runs are
--   back-filled. Back-fill reaches as far as raw data is kept (14 days): only
--   periods starting at or after now() - 14 days are aggregated, because older
--   ones may already be partly purged and would be under-counted. The purge
--   runs on real time, so the floor does too, even when a caller passes an
--   earlier p_now to back-fill in chunks (a later p_now, used by tests, only
--   moves the floor later).
-- * The watermark never moves past what is complete in real time: a run with
--   a p_now in the future writes provisional rollups (recomputed in place,
--   through the natural key, by the first run that reaches them for real)
--   instead of marking unfinished periods as done.
-- * Never double counts: each period is aggregated once (the watermark), and
--   rows land through ON CONFLICT on the natural key, so a concurrent or
--   repeated run recomputes a row instead of adding a second one. Runs of the
--   same period are serialised with an advisory lock.
-- * Groups by dimension tags only: the string- and boolean-valued tags
--   (queue, api, success, ...). Numeric tags (success_count, error_count,
--   batch_size) are measurements; grouping by them would make every row its own
--   group. Periods are UTC hours, UTC days and ISO weeks (Monday 00:00 UTC).
-- * p50/p95/p99 with percentile_cont next to min/max/avg/sum/count.
-- * Daily and weekly rollups are computed from raw data, not from hourly rows:
--   percentiles cannot be combined from finer rollups. Raw data is kept 14
--   days, so a day or week is always computable when the job runs on time
--   (and back-fill works for periods raw data still covers).
-- * A period counts as complete 3 minutes after it ends, so rows written just
--   before the boundary and flushed a little late are still included. Rows
--   arriving later than that stay in raw data but miss the rollup.
-- * Raw retention is no longer a side effect of aggregation: see
--   20261201000500_monitoring_retention.sql.
-- * Without a sort of every raw row. Measured on 10 million raw rows
--   (benchmarks/sql_scale.py): aggregating a 1-million-row hour took ~6 s with
--   a plain GROUP BY, almost all of it an external-merge sort of the hour's
--   rows by (metric_name, period_start, dimensions jsonb) that
--   percentile_cont's GroupAggregate needs (now ~2.5 s). Values are collected
--   per group with array_agg in a hash table (dimensions computed once per
--   distinct tag set, through Memoize), and min/max/avg/sum/count/percentiles
--   come from each group's own array; a row's period is date_bin() from a UTC
--   midnight (or a Monday for ISO weeks), the same value as
--   date_trunc(..., 'UTC') at a twentieth of the cost. Daily and weekly runs
--   gain the same way. avg/sum may differ from a plain avg() in the last bits
--   of a float because the addition order differs.

-- ---------------------------------------------------------------- watermarks
create table monitoring.aggregation_watermarks (
  period           text,
  aggregated_until timestamptz not null,
  updated_at       timestamptz not null default now(),
  constraint aggregation_watermarks_period_valid check (period in ('hourly', 'daily', 'weekly')),
  constraint aggregation_watermarks_pkey primary key (period)
);
comment on table monitoring.aggregation_watermarks is
  'End of the last period aggregated, per period kind; the next run starts there.';

alter table monitoring.aggregation_watermarks enable row level security;
create policy aggregation_watermarks_service_role_all on monitoring.aggregation_watermarks
  as permissive for all to service_role using (true) with check (true);
revoke all on monitoring.aggregation_watermarks from public, anon, authenticated;
grant select, insert, update, delete on monitoring.aggregation_watermarks to service_role;

-- ---------------------------------------------------------------- aggregation
create or replace function monitoring.aggregate_metrics(
  p_period text,
  p_now    timestamptz default now()
)
returns integer
language plpgsql
security invoker
set search_path = ''
-- The planner cannot know how many dimension sets there are (it assumes one per
-- raw row) and would sort every row by a jsonb key; there are a handful per
-- metric, so hashing is right and enable_sort = off makes it take that plan.
-- (percentile_cont sorts each group's values itself; that is not a plan node.)
-- work_mem: the hash table holds every value of the period (8 bytes each; a
-- weekly run at 10 million rows needs ~80 MB). JIT compilation costs more than
-- it saves for a query run once an hour.
set enable_sort = off
set work_mem = '128MB'
set jit = off
as $$
declare
  c_raw_retention constant interval := interval '14 days';
  c_grace         constant interval := interval '3 minutes';
  v_unit  text;
  v_step  interval;
  v_floor timestamptz;
  v_from  timestamptz;
  v_to    timestamptz;
  v_rows  integer;
  v_done  timestamptz;
  -- UTC hours and days from a UTC midnight; ISO weeks from a Monday.
  v_origin timestamptz;
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

  v_unit := case p_period when 'hourly' then 'hour' when 'daily' then 'day' else 'week' end;
  -- Fixed-length steps: UTC has no DST, and '1 day' would follow the session time zone.
  v_step := case p_period when 'hourly' then interval '1 hour'
                          when 'daily'  then interval '24 hours'
                          else               interval '168 hours' end;

  v_origin := case p_period when 'weekly' then timestamptz '2000-01-03 00:00+00'
                            else timestamptz '2000-01-01 00:00+00' end;

  perform pg_advisory_xact_lock(
    hashtextextended('monitoring.aggregate_metrics:' || p_period, 0));

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

  if v_from >= v_to then
    return 0;
  end if;

  insert into monitoring.aggregated_metrics as a (
    metric_name, period, period_start,
    min_value, max_value, avg_value, sum_value, count_value,
    p50_value, p95_value, p99_value, dimensions
  )
  select
    g.metric_name, p_period, g.period_start,
    g.min_value, g.max_value, g.avg_value, g.sum_value, g.count_value,
    g.pct[1], g.pct[2], g.pct[3], g.dimensions
  from (
    -- One pass over the raw rows: dimensions once per distinct tag set
    -- (Memoize), values collected per group in a hash table (no sort of the
    -- rows by a jsonb key), then each group's statistics from its own array.
    with grouped as (
      select
        m.metric_name,
        -- = date_trunc(v_unit, "timestamp", 'UTC'), 20 times cheaper per row
        date_bin(v_step, m."timestamp", v_origin) as period_start,
        d.dimensions,
        array_agg(m.metric_value) as vals
      from monitoring.pipeline_metrics as m
      cross join lateral (
        select coalesce(jsonb_object_agg(t.key, t.value), '{}'::jsonb) as dimensions
        from jsonb_each(m.tags) as t
        where jsonb_typeof(t.value) in ('string', 'boolean')
      ) as d
      where m."timestamp" >= v_from
        and m."timestamp" < v_to
      group by m.metric_name, 2, d.dimensions
    )
    select gr.metric_name, gr.period_start, gr.dimensions, s.*
    from grouped as gr
    cross join lateral (
      select
        min(x)            as min_value,
        max(x)            as max_value,
        avg(x)            as avg_value,
        sum(x)            as sum_value,
        count(*)::integer as count_value,
        percentile_cont(array[0.5, 0.95, 0.99]::double precision[])
          within group (order by x) as pct
      from unnest(gr.vals) as x
    ) as s
  ) as g
  on conflict on constraint aggregated_metrics_natural_key do update set
    min_value   = excluded.min_value,
    max_value   = excluded.max_value,
    avg_value   = excluded.avg_value,
    sum_value   = excluded.sum_value,
    count_value = excluded.count_value,
    p50_value   = excluded.p50_value,
    p95_value   = excluded.p95_value,
    p99_value   = excluded.p99_value,
    created_at  = now();
  get diagnostics v_rows = row_count;

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
  'Aggregates every complete hourly|daily|weekly period not yet aggregated (back-fill bounded by '
  'the 14-day raw retention); returns the number of rollup rows written. p_now is for tests and back-fills.';

-- The spec's name, kept for callers and for the spec's cron command.
create or replace function monitoring.aggregate_hourly_metrics()
returns integer
language sql
security invoker
set search_path = ''
as $$
  select monitoring.aggregate_metrics('hourly');
$$;

comment on function monitoring.aggregate_hourly_metrics() is
  'Spec name: same as monitoring.aggregate_metrics(''hourly'').';

revoke all on function monitoring.aggregate_metrics(text, timestamptz) from public, anon, authenticated;
revoke all on function monitoring.aggregate_hourly_metrics() from public, anon, authenticated;
grant execute on function monitoring.aggregate_metrics(text, timestamptz) to service_role;
grant execute on function monitoring.aggregate_hourly_metrics() to service_role;

-- Call durations as mergeable sketches, and pre-merged spans of minutes, so the
-- p95 of an hour not yet sealed costs the same whatever the calls per hour.
--
-- Owns: monitoring_internal.sketch_key(double precision),
-- sketch_value(integer), sketch_quantile(integer[], bigint[], double precision),
-- the view monitoring_internal.api_minute_sketches, the tables
-- monitoring_internal.api_spans and api_span_stats, the function
-- monitoring_internal.api_span_end(timestamptz, timestamptz); adds the columns
-- sketch_keys / sketch_counts to monitoring_internal.api_minute_stats
-- (20261201000600) and fills them for the rows already there.
-- Used by monitoring_internal.refresh_rollups() (20261216000400), which writes
-- the sketches and the spans, and monitoring_internal.api_hour_rows()
-- (20261216000200), which reads them.
--
-- Why: monitoring.api_metrics took the p95 of the hour in progress exactly, from
-- every call duration of the hour (each minute rollup keeps its durations), so
-- its cost grew with the calls of the hour: "last hour" 4.7 ms at 3 million raw
-- rows over 14 days, 19.8 ms at 30 million (4.25x, target 1.3x); at 1,000
-- metrics/s late in the hour it would sort ~1.8 million values (851 ms).
--
-- Decision: the p95 of an hour whose hour rollup is not sealed (the hour in
-- progress, the window's first partial hour) is estimated, within 1% of
-- percentile_cont; a sealed hour keeps its exact p95 (computed from raw rows
-- when it is sealed), and so does an hour read without any span. Counts, sums
-- and the mean stay exact everywhere. The sketch is DDSketch's logarithmic
-- mapping with gamma = 1.02: a duration v > 0 falls in bucket
-- i = ceil(ln v / ln gamma) and is estimated as 2 gamma^i / (1 + gamma), at most
-- (gamma - 1) / (gamma + 1) = 0.99% from any value of its bucket; the quantile
-- interpolates between the estimates of the two ranks percentile_cont would, a
-- convex combination, so stays within 1% for positive durations. Zero is its
-- own bucket, negatives mirror the positives, +-Infinity and NaN are buckets of
-- their own at the ends (hostile rows are estimated, never an error). Keys fit
-- an integer: 40000 + i for v > 0 (i lies in -37592..35843 for doubles).
--
-- Spans: a span [span_start, span_end) of whole minutes is the minute rollups
-- of those minutes merged (counts and sketch per API), sealed like a rollup:
-- snap is a snapshot taken before any of its parts was checked, and the span is
-- trusted while every change record of its minutes is visible to snap and not
-- made by the sealing transaction (the rule of 20261201000600). The refresh
-- keeps two kinds: the hour in progress (and the hour before it) from its start
-- to its last trusted minute, and the 7-day window's first partial hour from
-- the minutes after now() - 7 days to its end.

-- ---------------------------------------------------------------- the sketch
create function monitoring_internal.sketch_key(p_value double precision)
returns integer
language plpgsql
immutable
strict
parallel safe
set search_path = ''
as $$
begin
  -- ln(1.02) = 0.0198026272961797; PL/pgSQL: ~1.5 us a value, a SQL function
  -- with a pinned search_path is not inlined and costs ~4.
  return case
    when p_value = 'NaN'::double precision then 80001
    when p_value = 'Infinity'::double precision then 80000
    when p_value = '-Infinity'::double precision then -80000
    when p_value > 0 then 40000 + pg_catalog.ceil(pg_catalog.ln(p_value) / 0.0198026272961797::double precision)::integer
    when p_value < 0 then -(40000 + pg_catalog.ceil(pg_catalog.ln(-p_value) / 0.0198026272961797::double precision)::integer)
    else 0
  end;
end;
$$;

comment on function monitoring_internal.sketch_key(double precision) is
  'Sketch bucket of a duration (DDSketch mapping, gamma 1.02; 0, +-Infinity and NaN have their own).';

create function monitoring_internal.sketch_value(p_key integer)
returns double precision
language plpgsql
immutable
strict
parallel safe
set search_path = ''
as $$
declare
  -- 2 gamma^i / (1 + gamma) = exp(x), x = i ln gamma + ln(2 / 2.02), capped
  -- below the largest double (the top bucket's estimate would overflow by a
  -- hair) and above the smallest subnormal, and taken as exp(x/2)^2: exp()
  -- refuses a subnormal result, a product does not (subnormal buckets are
  -- estimated as closely as subnormals allow). PL/pgSQL, as sketch_key: a SQL
  -- function with its own search_path is planned again for every call
  -- (~50 us each, measured where sketch_quantile called it).
  v_half double precision := pg_catalog.exp(greatest(least((abs(p_key) - 40000) * 0.0198026272961797::double precision
                                                           - 0.00995033085316809::double precision, 709.78), -744.0) / 2);
begin
  return case
    when p_key = 0 then 0::double precision
    when p_key = 80001 then 'NaN'::double precision
    when p_key = 80000 then 'Infinity'::double precision
    when p_key = -80000 then '-Infinity'::double precision
    when p_key > 0 then v_half * v_half
    else -(v_half * v_half)
  end;
end;
$$;

comment on function monitoring_internal.sketch_value(integer) is
  'The estimate of every duration of a sketch bucket (within 0.99% of each).';

-- percentile_cont(p_q) of the durations a sketch holds: keys and counts in any
-- order, a key repeated as often as it comes (counts null: 1 each); null keys
-- are ignored, as percentile_cont ignores null values. Null for an empty sketch.
-- The two ranks percentile_cont interpolates between (0-based floor(at) and
-- ceil(at), at = p_q * (total - 1)) each lie in the first bucket, in key order,
-- whose running count passes the rank; walking from the top end instead, in
-- the first bucket whose running count from the top reaches total - rank (the
-- same bucket for counts >= 0). The walk starts at the end nearer the ranks, so
-- a p95 visits only the buckets of the slowest 5% of calls. PL/pgSQL, because the
-- rule as one SQL statement (window sums, a lookup per rank) cost 0.63 ms for
-- 160 buckets, and api_metrics calls it per API for each unsealed hour (the
-- last hour's read at 30 M rows: 3.8 of its 7.5 ms).
create function monitoring_internal.sketch_quantile(p_keys integer[], p_counts bigint[], p_q double precision)
returns double precision
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
  v_total  numeric;
  v_at     double precision;
  v_dir    integer;  -- 1: walk up from the smallest key, -1: down from the largest
  v_first_at  numeric;  -- running counts that reach the nearer rank, then the farther
  v_second_at numeric;
  v_seen   numeric := 0;
  v_first  integer;
  v_second integer;
  v_lo     integer;
  v_hi     integer;
  v_lo_est double precision;
  r        record;
begin
  select sum(coalesce(u.c, 1)) into v_total
  from unnest(p_keys, p_counts) as u(k, c)
  where u.k is not null;
  if v_total is null then
    return null;
  end if;
  v_at := p_q * (v_total - 1)::double precision;
  if p_q < 0.5 then
    v_dir := 1;
    v_first_at  := pg_catalog.floor(v_at) + 1;
    v_second_at := pg_catalog.ceil(v_at) + 1;
  else
    v_dir := -1;
    v_first_at  := v_total - pg_catalog.ceil(v_at);
    v_second_at := v_total - pg_catalog.floor(v_at);
  end if;
  for r in
    select u.k, sum(coalesce(u.c, 1)) as n
    from unnest(p_keys, p_counts) as u(k, c)
    where u.k is not null
    group by u.k
    order by u.k * v_dir
  loop
    v_seen := v_seen + r.n;
    if v_first is null and v_seen >= v_first_at then
      v_first := r.k;
    end if;
    if v_seen >= v_second_at then
      v_second := r.k;
      exit;
    end if;
  end loop;
  -- walking up, the lower rank comes first; walking down, the upper one
  if v_dir = 1 then
    v_lo := v_first;
    v_hi := v_second;
  else
    v_lo := v_second;
    v_hi := v_first;
  end if;
  v_lo_est := monitoring_internal.sketch_value(v_lo);
  return v_lo_est + (v_at - pg_catalog.floor(v_at)) * (monitoring_internal.sketch_value(v_hi) - v_lo_est);
end;
$$;

comment on function monitoring_internal.sketch_quantile(integer[], bigint[], double precision) is
  'percentile_cont(p_q) estimated from sketch buckets (keys, counts): within 1% for positive durations.';

-- ---------------------------------------------------------------- minute sketches
alter table monitoring_internal.api_minute_stats
  add column sketch_keys   integer[],
  add column sketch_counts bigint[],
  add constraint api_minute_stats_sketch_shape
    check (cardinality(sketch_keys) = cardinality(sketch_counts));

comment on column monitoring_internal.api_minute_stats.sketch_keys is
  'The minute''s durations as sketch buckets (sketch_key), ascending; null on rows written before 0.3.0.';
comment on column monitoring_internal.api_minute_stats.sketch_counts is
  'Durations in each bucket of sketch_keys.';

-- Rows the release's refresh wrote: sketched from their durations here (rows it
-- writes until 20261216000400 replaces it are sketched when read, below).
update monitoring_internal.api_minute_stats as a
set sketch_keys = s.keys, sketch_counts = s.counts
from (
  select b.id, coalesce(array_agg(b.k order by b.k) filter (where b.k is not null), '{}') as keys,
         coalesce(array_agg(b.n order by b.k) filter (where b.k is not null), '{}') as counts
  from (
    select r.id, monitoring_internal.sketch_key(d.v) as k, count(*) as n
    from monitoring_internal.api_minute_stats as r
    left join lateral unnest(r.durations) as d(v) on true
    where r.sketch_keys is null
    group by r.id, 2
  ) as b
  group by b.id
) as s
where a.id = s.id;

-- One row per bucket of each minute rollup; a row without sketch columns is
-- sketched from its durations.
create view monitoring_internal.api_minute_sketches
with (security_invoker = true)
as
select r.minute, r.api_name, b.k as sketch_key, coalesce(b.n, 1) as n
from monitoring_internal.api_minute_stats as r
cross join lateral unnest(
  coalesce(r.sketch_keys, array(select monitoring_internal.sketch_key(d.v) from unnest(r.durations) as d(v))),
  r.sketch_counts) as b(k, n)
where b.k is not null;

comment on view monitoring_internal.api_minute_sketches is
  'The sketch buckets of each api_minute_stats row (from its durations when it has none).';

-- ---------------------------------------------------------------- spans
create table monitoring_internal.api_spans (
  span_start timestamptz not null,
  span_end   timestamptz not null,
  snap       pg_snapshot not null,  -- taken before any of the span's parts was checked
  sealed_by  xid8        not null,
  sealed_at  timestamptz not null default now(),
  constraint api_spans_pkey primary key (span_start, span_end),
  constraint api_spans_whole_minutes check (
    span_end > span_start
    and date_trunc('minute', span_start, 'UTC') = span_start
    and date_trunc('minute', span_end, 'UTC') = span_end)
);
comment on table monitoring_internal.api_spans is
  'Runs of whole minutes whose api_minute_stats rows are pre-merged in api_span_stats, sealed as of snap.';

create table monitoring_internal.api_span_stats (
  id               bigint generated always as identity,
  span_start       timestamptz      not null,
  span_end         timestamptz      not null,
  api_name         text,
  calls            bigint           not null,
  successes        bigint           not null,
  failures         bigint           not null,
  success_time_sum double precision,
  sketch_keys      integer[]        not null,
  sketch_counts    bigint[]         not null,
  constraint api_span_stats_pkey primary key (id),
  constraint api_span_stats_span_fkey foreign key (span_start, span_end)
    references monitoring_internal.api_spans (span_start, span_end) on delete cascade,
  constraint api_span_stats_sketch_shape check (cardinality(sketch_keys) = cardinality(sketch_counts))
);
create index api_span_stats_span_idx on monitoring_internal.api_span_stats (span_start, span_end);
comment on table monitoring_internal.api_span_stats is
  'Per API, the api_minute_stats rows of a span merged: counts, success time and sketch.';

-- The end of the longest trusted span starting at p_start and ending by p_limit
-- (null when there is none). Its change-record probe is an index range scan
-- whatever the statistics say, as in trusted_periods (20261216000100).
create function monitoring_internal.api_span_end(p_start timestamptz, p_limit timestamptz)
returns timestamptz
language sql
stable
set search_path = ''
set enable_seqscan = off
as $$
  select max(s.span_end)
  from monitoring_internal.api_spans as s
  where s.span_start = p_start
    and s.span_end <= p_limit
    and not exists (
      select 1
      from monitoring_internal.rollup_changes as c
      where c.minute >= s.span_start
        and c.minute < s.span_end
        and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap))
      offset 0);
$$;

comment on function monitoring_internal.api_span_end(timestamptz, timestamptz) is
  'End of the longest trusted api span from p_start ending by p_limit, or null.';

-- ---------------------------------------------------------------- access
alter table monitoring_internal.api_spans      enable row level security;
alter table monitoring_internal.api_span_stats enable row level security;
create policy api_spans_service_role_read on monitoring_internal.api_spans
  as permissive for select to service_role using (true);
create policy api_span_stats_service_role_read on monitoring_internal.api_span_stats
  as permissive for select to service_role using (true);
revoke all on monitoring_internal.api_spans, monitoring_internal.api_span_stats,
  monitoring_internal.api_minute_sketches from public, anon, authenticated, service_role;
grant select on monitoring_internal.api_spans, monitoring_internal.api_span_stats,
  monitoring_internal.api_minute_sketches to service_role;

revoke all on function monitoring_internal.sketch_key(double precision),
  monitoring_internal.sketch_value(integer),
  monitoring_internal.sketch_quantile(integer[], bigint[], double precision),
  monitoring_internal.api_span_end(timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function monitoring_internal.sketch_key(double precision),
  monitoring_internal.sketch_value(integer),
  monitoring_internal.sketch_quantile(integer[], bigint[], double precision),
  monitoring_internal.api_span_end(timestamptz, timestamptz) to service_role;

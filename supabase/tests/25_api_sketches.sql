-- Duration sketches and api spans (20261216000150): the sketch's estimates stay
-- within 1% (hostile values included), the refresh merges the minute rollups of
-- the hour in progress and of the 7-day window's first hour into spans whose
-- counts are exact, monitoring.api_metrics reads a trusted span and drops one a
-- late row makes stale, and change records a span has not seen are kept.
-- Test rows use their own api names (pgtap_sk_*), so other data does not matter.
begin isolation level repeatable read;
create extension if not exists pgtap with schema extensions;
select plan(24);

-- ------------------------------------------------------------ the sketch
select ok((select bool_and(abs(monitoring_internal.sketch_value(monitoring_internal.sketch_key(v)) - v) <= 0.00991 * abs(v))
           from unnest(array[2.3e-308, 1e-9, 0.001, 0.5, 1, 1.02, 37.5, 999.9, 1e6, 1e300, 1.7e308,
                             -0.25, -42, -1e200]::double precision[]) as v),
  'every estimate is within (gamma - 1) / (gamma + 1) = 0.990% of its value, tiny, huge and negative ones included');
select ok((select e > 0 and e < 1e-300 from (select monitoring_internal.sketch_value(monitoring_internal.sketch_key(5e-324)) as e) as x),
  'a subnormal value has a (subnormal) estimate, not an error');
select is((select array_agg(monitoring_internal.sketch_value(monitoring_internal.sketch_key(v))::text order by o)
           from unnest(array[0, 'Infinity', '-Infinity', 'NaN']::double precision[]) with ordinality as u(v, o)),
  array['0', 'Infinity', '-Infinity', 'NaN'], '0, +-Infinity and NaN are their own buckets, estimated exactly');
select ok((select bool_and(monitoring_internal.sketch_key(a) < monitoring_internal.sketch_key(b))
           from (values ('-Infinity'::double precision, -1e300::double precision), (-1e300, -1), (-1, 0), (0, 5e-324),
                        (5e-324, 1), (1, 1.03), (1.03, 1.7e308), (1.7e308, 'Infinity'), ('Infinity', 'NaN')) as p(a, b)),
  'keys follow the values'' order (NaN last, as Postgres sorts it)');

create temp table pgtap_sk_values on commit drop as
select 30 - 120 * ln(1 - ((g * 7919) % 10007) / 10007.0 * 0.999) as v from generate_series(1, 5000) as g;
select ok((select bool_and(abs(s.est - s.exact) <= 0.01 * s.exact)
           from (select q,
                        (select percentile_cont(q) within group (order by v) from pgtap_sk_values) as exact,
                        (select monitoring_internal.sketch_quantile(array_agg(monitoring_internal.sketch_key(v)), null, q)
                         from pgtap_sk_values) as est
                 from unnest(array[0, 0.5, 0.9, 0.95, 0.99, 1]) as q) as s),
  'sketch_quantile is within 1% of percentile_cont at p0, p50, p90, p95, p99, p100');
-- Exactly percentile_cont of the bucket estimates (they sort as the keys do), at
-- ranks walked from the bottom (q < 0.5) and from the top, with zeros, negative
-- values, repeated keys and counts other than 1.
create temp table pgtap_sk_mixed on commit drop as
select k, n from (
  select monitoring_internal.sketch_key(case when g % 11 = 0 then 0 when g % 7 = 0 then -v else v end) as k,
         1 + g % 4 as n
  from (select g, 30 - 120 * ln(1 - ((g * 7919) % 10007) / 10007.0 * 0.999) as v
        from generate_series(1, 800) as g) as x) as y;
select is((select array_agg(monitoring_internal.sketch_quantile((select array_agg(k) from pgtap_sk_mixed),
                                                                 (select array_agg(n::bigint) from pgtap_sk_mixed), q)
                            order by q)
           from unnest(array[0, 0.01, 0.25, 0.4999, 0.5, 0.75, 0.95, 0.99, 1]::double precision[]) as q),
  (select array_agg(e order by q)
   from unnest(array[0, 0.01, 0.25, 0.4999, 0.5, 0.75, 0.95, 0.99, 1]::double precision[]) as q
   cross join lateral (
     select percentile_cont(q) within group (order by monitoring_internal.sketch_value(m.k)) as e
     from pgtap_sk_mixed as m cross join lateral generate_series(1, m.n)) as p),
  'sketch_quantile is percentile_cont of the bucket estimates, from either end, counts and repeats included');
select is((select monitoring_internal.sketch_quantile(array[k], array[n], 0.95)
           from (select monitoring_internal.sketch_key(12.5) as k, 40::bigint as n) as x),
  (select monitoring_internal.sketch_value(monitoring_internal.sketch_key(12.5))),
  'one bucket counted 40 times: its estimate');
select is(monitoring_internal.sketch_quantile('{}', '{}', 0.95), null, 'an empty sketch has no quantile');
select is(monitoring_internal.sketch_quantile(array[null, monitoring_internal.sketch_key(3.5)], null, 0.5),
  monitoring_internal.sketch_value(monitoring_internal.sketch_key(3.5)), 'null keys are ignored, as percentile_cont ignores nulls');

-- ------------------------------------------------------------ spans
-- This transaction's writes are never covered by a seal it makes itself: to see
-- seals and spans as a later reader would, its change records go, with the
-- seals and spans they made untrusted (as in 23_backfill_reads.sql).
create function pg_temp.pgtap_sk_settle() returns void language sql as $$
  delete from monitoring_internal.rollup_seals as s
  using monitoring_internal.rollup_changes as c
  where c.xid = pg_current_xact_id()
    and ((s.kind = 'minute' and s.period_start = c.minute)
      or (s.kind = 'hour' and s.period_start = date_trunc('hour', c.minute, 'UTC')));
  delete from monitoring_internal.api_spans as s
  using monitoring_internal.rollup_changes as c
  where c.xid = pg_current_xact_id() and c.minute >= s.span_start and c.minute < s.span_end;
  delete from monitoring_internal.rollup_changes where xid = pg_current_xact_id();
$$;

-- Reference: the spec's raw definition over the test rows' hours.
create temp view pgtap_sk_ref as
select m.tags ->> 'api' as api_name, date_trunc('hour', m."timestamp", 'UTC') as hour,
       count(*) as total_calls,
       sum(case when m.tags ->> 'success' = 'true' then 1 else 0 end) as success_count,
       sum(case when m.tags ->> 'success' = 'false' then 1 else 0 end) as error_count,
       avg(case when m.tags ->> 'success' = 'true' then m.metric_value end) as avg_success_time_ms,
       percentile_cont(0.95) within group (order by m.metric_value) as p95_time_ms
from monitoring.pipeline_metrics as m
where m.metric_name = 'api_call' and m.tags ->> 'api' like 'pgtap_sk_%'
  and m."timestamp" > now() - interval '7 days'
group by 1, 2;

-- View rows against the reference: counts and means exact, the p95 exact or,
-- for an hour whose hour rollup is not trusted, within 1%.
create temp view pgtap_sk_diff as
with v as (
  select api_name, hour, total_calls, success_count, error_count, round(avg_success_time_ms::numeric, 9) as avg_ms
  from monitoring.api_metrics where api_name like 'pgtap_sk_%'),
r as (
  select api_name, hour, total_calls, success_count, error_count, round(avg_success_time_ms::numeric, 9) as avg_ms
  from pgtap_sk_ref)
(select * from v except all select * from r)
union all
(select * from r except all select * from v)
union all
select v.api_name, v.hour, null, null, null, round(v.p95_time_ms::numeric, 9)
from monitoring.api_metrics as v
join pgtap_sk_ref as r on r.api_name = v.api_name and r.hour = v.hour
where not (round(v.p95_time_ms::numeric, 9) = round(r.p95_time_ms::numeric, 9)
           or (abs(v.p95_time_ms - r.p95_time_ms) <= 0.01 * abs(r.p95_time_ms)
               and v.hour not in (select t.period_start from monitoring_internal.trusted_periods(
                                    'hour', now() - interval '8 days', now() + interval '1 day') as t)));

-- Every trusted span's counts against raw rows of its minutes.
create temp view pgtap_sk_span_off as
select s.span_start, s.span_end, s.api_name, s.calls, s.successes, s.failures
from monitoring_internal.api_span_stats as s
where s.api_name like 'pgtap_sk_%'
  and s.span_end = monitoring_internal.api_span_end(s.span_start, s.span_end)
except all
select sp.span_start, sp.span_end, m.tags ->> 'api', count(*),
       count(*) filter (where m.tags ->> 'success' = 'true'),
       count(*) filter (where m.tags ->> 'success' = 'false')
from monitoring_internal.api_spans as sp
join monitoring.pipeline_metrics as m
  on m.metric_name = 'api_call' and m.tags ->> 'api' like 'pgtap_sk_%'
 and m."timestamp" >= sp.span_start and m."timestamp" < sp.span_end
where sp.span_end = monitoring_internal.api_span_end(sp.span_start, sp.span_end)
group by 1, 2, 3;

-- Calls over the last 15 minutes (the hour in progress, or the one before it)
-- and around the 7-day window's start (its first, partial hour), durations
-- with a long tail, a zero, a negative and a tiny one among them (the table
-- refuses NaN and infinities).
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call',
       case g when 7 then 0 when 8 then -5 when 9 then 1e-300
              else 20 + 300 * (((g * 7919) % 1009) / 1009.0)::double precision ^ 4 end,
       jsonb_build_object('api', 'pgtap_sk_a' || (g % 2),
                          'success', case when g % 9 = 0 then 'false' when g % 13 = 0 then 'maybe' else 'true' end),
       ts
from generate_series(1, 600) as g,
     lateral (values (date_trunc('minute', now(), 'UTC') - interval '15 minutes' + g * interval '1.3 seconds'),
                     (now() - interval '7 days' - interval '2 minutes' + g * interval '2.1 seconds')) as v(ts);
select pg_temp.pgtap_sk_settle();
select ok((monitoring_internal.refresh_rollups(168) ->> 'spans_built')::integer >= 1, 'the refresh builds spans');

select ok(exists (select 1 from monitoring_internal.api_span_stats as s
                  where s.api_name like 'pgtap_sk_%'
                    and s.span_end = monitoring_internal.api_span_end(s.span_start, s.span_end)
                    and s.span_start = date_trunc('hour', s.span_start, 'UTC')),
  'a trusted span of a recent hour holds test calls');
select ok(exists (select 1 from monitoring_internal.api_span_stats as s
                  where s.api_name like 'pgtap_sk_%'
                    and s.span_end = monitoring_internal.api_span_end(s.span_start, s.span_end)
                    and s.span_start < now() - interval '6 days')
          or date_trunc('minute', now() - interval '7 days', 'UTC') + interval '2 minutes'
             >= date_trunc('hour', now() - interval '7 days', 'UTC') + interval '1 hour',
  'a trusted span of the window''s first hour holds test calls (unless that hour has no whole minute left)');
select is((select count(*)::integer from pgtap_sk_span_off), 0, 'every trusted span counts its minutes'' calls exactly');
select is((select count(*)::integer from pgtap_sk_diff), 0,
  'api_metrics: counts exact, p95 within 1% where the hour is not sealed');
select is((select (r ->> 'spans_built')::integer from monitoring_internal.refresh_rollups(168) as r), 0,
  'a second refresh finds every span up to date');

-- The hour in progress really comes from its span: a tampered span shows through.
create temp table pgtap_sk_span on commit drop as
select s.span_start, s.span_end from monitoring_internal.api_spans as s
where s.span_start = date_trunc('hour', s.span_start, 'UTC')
  and s.span_end = monitoring_internal.api_span_end(s.span_start, s.span_end)
  and exists (select 1 from monitoring_internal.api_span_stats as x
              where x.span_start = s.span_start and x.span_end = s.span_end and x.api_name = 'pgtap_sk_a0')
order by s.span_start desc limit 1;
update monitoring_internal.api_span_stats as x set calls = calls + 1000000
from pgtap_sk_span as s
where x.span_start = s.span_start and x.span_end = s.span_end and x.api_name = 'pgtap_sk_a0';
select ok((select v.total_calls > 1000000 from monitoring.api_metrics as v, pgtap_sk_span as s
           where v.api_name = 'pgtap_sk_a0' and v.hour = s.span_start),
  'api_metrics takes the minutes of a trusted span from the span');

-- A late row in a minute the span covers: the span is stale at once, and the
-- view reads around it, exactly (p95 as percentile_cont).
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call', 5000, '{"api": "pgtap_sk_a0", "success": "true"}', s.span_start + interval '30 seconds'
from pgtap_sk_span as s;
select is((select monitoring_internal.api_span_end(s.span_start, s.span_end) from pgtap_sk_span as s), null,
  'a late row makes the span untrusted');
select is((select array[v.total_calls::float8, v.p95_time_ms] from monitoring.api_metrics as v, pgtap_sk_span as s
           where v.api_name = 'pgtap_sk_a0' and v.hour = s.span_start),
          (select array[r.total_calls::float8, r.p95_time_ms] from pgtap_sk_ref as r, pgtap_sk_span as s
           where r.api_name = 'pgtap_sk_a0' and r.hour = s.span_start),
  'without a trusted span the hour counts the late row, its p95 exact');

-- The next refresh re-seals the minute and rebuilds the span with the late row.
select pg_temp.pgtap_sk_settle();
select ok((monitoring_internal.refresh_rollups(168) ->> 'spans_built')::integer >= 1, 'the refresh rebuilds the span');
select is((select count(*)::integer from pgtap_sk_span_off), 0, 'the rebuilt span counts the late row');
select is((select count(*)::integer from pgtap_sk_diff), 0, 'api_metrics agrees with raw rows again');

-- A span that has not seen a change record (all the seals have): the next
-- refresh rebuilds it before its cleanup, which then deletes the record. The
-- record is of an old committed transaction (xid 3), visible to every seal's
-- snapshot; the span's snapshot is made one that sees nothing.
update monitoring_internal.api_spans as a set snap = '1:1:'::pg_snapshot
from pgtap_sk_span as s where a.span_start = s.span_start;
insert into monitoring_internal.rollup_changes (minute, xid)
select s.span_start, '3'::xid8 from pgtap_sk_span as s on conflict do nothing;
select is((select count(*)::integer from pgtap_sk_span as s
           where monitoring_internal.api_span_end(s.span_start, s.span_start + interval '1 hour') is null), 1,
  'a span that has not seen a change record is untrusted');
create temp table pgtap_sk_run on commit drop as select monitoring_internal.refresh_rollups(0) as r;
select is((select array[(r ->> 'spans_built')::integer >= 1, (r ->> 'changes_deferred')::boolean] from pgtap_sk_run),
  array[true, false], 'the refresh rebuilds it, then cleans up');
select is((select count(*)::integer from monitoring_internal.rollup_changes as c, pgtap_sk_span as s
           where c.minute = s.span_start and c.xid = '3'::xid8), 0,
  'the record every seal and span has seen goes');

select * from finish();
rollback;

-- aggregate_metrics against a straightforward reference: plain aggregates over
-- the raw rows (count, sum, min, max, avg, percentile_cont 0.5/0.95/0.99), the
-- dimension sets ranked and folded the way 20261215000100 specifies. Guards its
-- faster formulation (groups hashed by the dimensions' text,
-- min/max from the percentile sort, avg = sum / count) against drifting from
-- what a reader would compute by hand. Data in August 2035 under metric names
-- pgtap.ref* (no other data lives there), so it holds on a database with data.
begin;
create extension if not exists pgtap with schema extensions;
select plan(10);

delete from monitoring.aggregation_watermarks;
insert into monitoring.aggregation_watermarks (period, aggregated_until)
values ('hourly', '2035-08-07 09:00+00'), ('daily', '2035-08-07 00:00+00');
insert into monitoring.dimension_limits (metric_name, max_dimension_sets) values ('pgtap.ref', 4);

-- pgtap.ref in 09:00 UTC, values with fractions so that sums and percentiles interpolate:
-- * queue q1: 300 rows whose numeric tags vary (many raw tag sets, one dimension set);
-- * queue q2 with a boolean tag: 120 rows;
-- * a string with quotes, a backslash and non-ASCII, written with its keys in two orders: 40 rows;
-- * only numeric tags (dimensions {}): 30 rows;
-- * 25 request ids, 1 to 3 rows each, and 2 rows a writer tagged overflow=true itself.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.ref', (g * 7919 % 1000) / 7.0 + 0.1,
       jsonb_build_object('queue', 'q1', 'batch_size', g % 4, 'success_count', g),
       timestamptz '2035-08-07 09:00+00' + g * interval '10 seconds'
from generate_series(1, 300) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.ref', (g * 104729 % 977) / 3.0,
       jsonb_build_object('queue', 'q2', 'success', g % 5 <> 0, 'error_count', g % 3),
       timestamptz '2035-08-07 09:01+00' + g * interval '20 seconds'
from generate_series(1, 120) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.ref', g * 1.25,
       case when g % 2 = 0 then '{"api": "x", "endpoint": "/a\"b\\c ü"}'::jsonb
            else '{"endpoint": "/a\"b\\c ü", "api": "x", "attempt": 1.50}'::jsonb end,
       timestamptz '2035-08-07 09:02+00' + g * interval '1 minute'
from generate_series(1, 40) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.ref', 1000 - g / 3.0, jsonb_build_object('batch_size', g),
       timestamptz '2035-08-07 09:03+00' + g * interval '1 minute'
from generate_series(1, 30) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.ref', 500 + g + k / 10.0, jsonb_build_object('api', 'x', 'request_id', 'req-' || g),
       timestamptz '2035-08-07 09:30+00' + g * interval '1 minute'
from generate_series(1, 25) as g
cross join generate_series(1, 1 + g % 3) as k;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
values ('pgtap.ref', 0.5, '{"overflow": "true"}', '2035-08-07 09:58+00'),
       ('pgtap.ref', 9999.5, '{"overflow": "true", "batch_size": 3}', '2035-08-07 09:59+00');
-- pgtap.ref.small: under the default bound, no overflow.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.ref.small', g / 9.0, jsonb_build_object('shard', 's' || g % 3, 'size', g),
       timestamptz '2035-08-07 09:00+00' + g * interval '7 seconds'
from generate_series(1, 200) as g;

-- The reference: the same rule written plainly. Dimensions are the string and
-- boolean tags; per metric and period the max_dimension_sets sets with the most
-- rows (ties by a hash of their text, then the dimensions) keep rows of their
-- own, everything else and the writer's own {"overflow": "true"} set fold into one.
create temporary table reference_rollups on commit drop as
with raw as (
  select m.metric_name, p.period, p.period_start, m.metric_value,
         (select coalesce(jsonb_object_agg(t.key, t.value), '{}'::jsonb)
          from jsonb_each(m.tags) as t
          where jsonb_typeof(t.value) in ('string', 'boolean')) as dimensions
  from monitoring.pipeline_metrics as m
  cross join lateral (values ('hourly', date_trunc('hour', m."timestamp", 'UTC')),
                             ('daily', date_trunc('day', m."timestamp", 'UTC'))) as p(period, period_start)
  where m.metric_name like 'pgtap.ref%'
),
sets as (
  select r.metric_name, r.period, r.period_start, r.dimensions,
         row_number() over (partition by r.metric_name, r.period, r.period_start
                            order by count(*) desc, hashtextextended(r.dimensions::text, 0), r.dimensions) as rank
  from raw as r
  group by r.metric_name, r.period, r.period_start, r.dimensions
)
select r.metric_name, r.period, r.period_start,
       case when s.rank <= coalesce(l.max_dimension_sets, d.max_dimension_sets)
                 and r.dimensions <> '{"overflow": "true"}' then r.dimensions
            else '{"overflow": "true"}' end as dimensions,
       count(*)::integer as count_value, sum(r.metric_value) as sum_value,
       min(r.metric_value) as min_value, max(r.metric_value) as max_value, avg(r.metric_value) as avg_value,
       percentile_cont(0.5) within group (order by r.metric_value) as p50_value,
       percentile_cont(0.95) within group (order by r.metric_value) as p95_value,
       percentile_cont(0.99) within group (order by r.metric_value) as p99_value
from raw as r
join sets as s using (metric_name, period, period_start, dimensions)
left join monitoring.dimension_limits as l on l.metric_name = r.metric_name
cross join (select max_dimension_sets from monitoring.dimension_limits where metric_name = '*') as d
group by 1, 2, 3, 4;

select monitoring.aggregate_metrics('hourly', '2035-08-07 10:03+00');
select monitoring.aggregate_metrics('daily', '2035-08-08 00:03+00');

-- The reference is what this test means it to be.
select results_eq(
  $$select dimensions, count_value from reference_rollups
    where metric_name = 'pgtap.ref' and period = 'hourly' order by count_value desc$$,
  $$values ('{"queue": "q1"}'::jsonb, 300), ('{"queue": "q2", "success": true}', 96),
           ('{"overflow": "true"}', 76), ('{"api": "x", "endpoint": "/a\"b\\c ü"}', 40),
           ('{}', 30)$$,
  'reference: 4 sets keep rows (one written with its keys in two orders); q2 unsuccessful (24), the 25 request ids (50) and the writer''s overflow rows (2) fold');

select results_eq(
  $$select metric_name, period, period_start, dimensions, count_value, min_value, max_value,
           p50_value, p95_value, p99_value
    from monitoring.aggregated_metrics where metric_name like 'pgtap.ref%'
    order by metric_name, period, period_start, dimensions$$,
  $$select metric_name, period, period_start, dimensions, count_value, min_value, max_value,
           p50_value, p95_value, p99_value
    from reference_rollups order by metric_name, period, period_start, dimensions$$,
  'hourly and daily rollups: the same rows, counts, min, max and percentiles as the reference, exactly');

-- Sums and averages add the same values in another order: equal to the last bits.
select is_empty(
  $$select 1 from monitoring.aggregated_metrics as a
    join reference_rollups as r using (metric_name, period, period_start, dimensions)
    where abs(a.sum_value - r.sum_value) > 1e-12 * greatest(1, abs(r.sum_value))
       or abs(a.avg_value - r.avg_value) > 1e-12 * greatest(1, abs(r.avg_value))$$,
  'sum and avg equal the reference''s (relative 1e-12)');
select is((select count(*)::integer from monitoring.aggregated_metrics where metric_name like 'pgtap.ref%'),
  (select count(*)::integer from reference_rollups), 'as many rollup rows as the reference');
select is(
  (select avg_value from monitoring.aggregated_metrics
   where metric_name = 'pgtap.ref' and period = 'hourly' and dimensions = '{}'),
  (select avg(metric_value order by "timestamp") from monitoring.pipeline_metrics
   where metric_name = 'pgtap.ref' and tags ? 'batch_size' and not tags ?| array['queue', 'overflow']),
  'avg of a set is avg() over its raw rows in time order, bit for bit (the same additions, one division)');

-- The overflow group and the extremes, spelled out.
select results_eq(
  $$select count_value, min_value, max_value from monitoring.aggregated_metrics
    where metric_name = 'pgtap.ref' and period = 'hourly' and dimensions = '{"overflow": "true"}'$$,
  $$values (76, 0.5::double precision, 9999.5::double precision)$$,
  'the overflow row: 24 + 50 + 2 rows, min and max from the writer''s own overflow rows');
select is(
  (select p95_value from monitoring.aggregated_metrics
   where metric_name = 'pgtap.ref' and period = 'hourly' and dimensions = '{"queue": "q1"}'),
  (select percentile_cont(0.95) within group (order by metric_value)
   from monitoring.pipeline_metrics where metric_name = 'pgtap.ref' and tags ->> 'queue' = 'q1'),
  'p95 of the set made of 300 raw tag sets');
select is(
  (select array[count_value::double precision, min_value, max_value]
   from monitoring.aggregated_metrics
   where metric_name = 'pgtap.ref.small' and period = 'daily' and dimensions = '{"shard": "s1"}'),
  (select array[count(*)::double precision, min(metric_value), max(metric_value)]
   from monitoring.pipeline_metrics where metric_name = 'pgtap.ref.small' and tags ->> 'shard' = 's1'),
  'a daily row of a metric within its bound');

-- A recomputation (a late row) still equals the reference recomputed.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
values ('pgtap.ref', -3.25, '{"queue": "q2", "success": true}', '2035-08-07 09:45+00');
select is(monitoring.aggregate_metrics('hourly', '2035-08-07 10:03+00'), 8,
  'the late row''s hour is re-aggregated (5 + 3 rows)');
select results_eq(
  $$select count_value, min_value, p50_value from monitoring.aggregated_metrics
    where metric_name = 'pgtap.ref' and period = 'hourly' and dimensions = '{"queue": "q2", "success": true}'$$,
  $$select count(*)::integer, min(metric_value), percentile_cont(0.5) within group (order by metric_value)
    from monitoring.pipeline_metrics
    where metric_name = 'pgtap.ref' and tags ->> 'queue' = 'q2' and tags -> 'success' = 'true'$$,
  'and its set equals plain aggregates over the raw rows again');

select * from finish();
rollback;

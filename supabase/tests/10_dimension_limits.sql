-- The cardinality bound: per metric and period at most max_dimension_sets
-- dimension sets (monitoring.dimension_limits, '*' the default, per-metric
-- overrides) keep rows of their own, the rest fold into one
-- {"overflow": "true"} row with their statistics, an event names the metric
-- and the tag key with the most distinct values, and the health component
-- reports it. Data in 2035 (no other data lives there); expected figures are
-- computed from raw rows with plain aggregates.
begin;
create extension if not exists pgtap with schema extensions;
select plan(22);

delete from monitoring.aggregation_watermarks;
insert into monitoring.aggregation_watermarks (period, aggregated_until) values ('hourly', '2035-05-02 09:00+00');
-- Only this file's events count for the health component below.
delete from public.monitoring_events where event_type = 'aggregation_dimension_overflow';

select is((select max_dimension_sets from monitoring.dimension_limits where metric_name = '*'), 1000,
  'the default bound is 1000 dimension sets per metric and period');
insert into monitoring.dimension_limits (metric_name, max_dimension_sets) values ('pgtap.card', 3);

-- pgtap.card in 09:00: api a (5 rows), b (4), c (3), six sets with a unique
-- request_id (one row each), and one row a writer tagged overflow=true itself.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.card', v, jsonb_build_object('api', api), '2035-05-02 09:10+00'
from (values ('a', 1), ('a', 2), ('a', 3), ('a', 4), ('a', 5),
             ('b', 10), ('b', 11), ('b', 12), ('b', 13),
             ('c', 20), ('c', 21), ('c', 22)) as x(api, v);
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.card', 100 + g, jsonb_build_object('api', 'a', 'request_id', 'req-' || g, 'attempt', g),
       '2035-05-02 09:20+00'
from generate_series(1, 6) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
values ('pgtap.card', 1000, '{"overflow": "true"}', '2035-05-02 09:30+00');
-- pgtap.card.other: 5 dimension sets, under the default bound.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.card.other', g, jsonb_build_object('shard', 's' || g), '2035-05-02 09:40+00'
from generate_series(1, 5) as g;

select monitoring.aggregate_metrics('hourly', '2035-05-02 10:03+00');

select results_eq(
  $$select dimensions, count_value from monitoring.aggregated_metrics
    where metric_name = 'pgtap.card' and period = 'hourly' and period_start = '2035-05-02 09:00+00'
    order by count_value desc, dimensions$$,
  $$values ('{"overflow": "true"}'::jsonb, 7), ('{"api": "a"}', 5), ('{"api": "b"}', 4), ('{"api": "c"}', 3)$$,
  'the 3 dimension sets with the most rows keep their rows; the other 7 (the writer''s own overflow set too) fold into one');
select results_eq(
  $$select count_value, sum_value, min_value, max_value, avg_value, p50_value, p95_value, p99_value
    from monitoring.aggregated_metrics
    where metric_name = 'pgtap.card' and period = 'hourly' and period_start = '2035-05-02 09:00+00'
      and dimensions = '{"overflow": "true"}'$$,
  $$select count(*)::integer, sum(metric_value), min(metric_value), max(metric_value), avg(metric_value),
           percentile_cont(0.5) within group (order by metric_value),
           percentile_cont(0.95) within group (order by metric_value),
           percentile_cont(0.99) within group (order by metric_value)
    from monitoring.pipeline_metrics
    where metric_name = 'pgtap.card' and (tags ? 'request_id' or tags ? 'overflow')$$,
  'the overflow row carries count, sum, min, max, avg and percentiles of exactly the folded rows');
select is(
  (select sum(count_value)::integer from monitoring.aggregated_metrics
   where metric_name = 'pgtap.card' and period = 'hourly'),
  (select count(*)::integer from monitoring.pipeline_metrics where metric_name = 'pgtap.card'),
  'no row is lost: the period''s counts add up to the raw rows');
select is(
  (select count(*)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.card.other'),
  5, 'a metric without an override gets the default bound (5 sets, no overflow)');

-- ------------------------------------------------------------ the event
select is((select count(*)::integer from public.monitoring_events
           where event_type = 'aggregation_dimension_overflow' and details ->> 'metric_name' = 'pgtap.card'),
  1, 'one overflow event for the metric and period');
select results_eq(
  $$select details ->> 'period', (details ->> 'period_start')::timestamptz, (details ->> 'max_dimension_sets')::integer,
           (details ->> 'dimension_sets')::integer, (details ->> 'folded_dimension_sets')::integer,
           (details ->> 'folded_rows')::integer, details ->> 'top_tag_key',
           (details ->> 'top_tag_distinct_values')::integer
    from public.monitoring_events
    where event_type = 'aggregation_dimension_overflow' and details ->> 'metric_name' = 'pgtap.card'$$,
  $$values ('hourly', '2035-05-02 09:00+00'::timestamptz, 3, 10, 7, 7, 'request_id', 6)$$,
  'it names the period, the bound, what was folded and the tag key with the most distinct values');
select is_empty(
  $$select 1 from public.monitoring_events
    where event_type = 'aggregation_dimension_overflow' and details ->> 'metric_name' = 'pgtap.card.other'$$,
  'no event for a metric within its bound');

-- ------------------------------------------------------------ the health component
select is(monitoring_internal.health_dimensions() ->> 'status', 'warning', 'dimension_health is warning after an overflow');
select ok(monitoring_internal.health_dimensions() -> 'overflowing_metrics'
          @> '[{"metric_name": "pgtap.card", "top_tag_key": "request_id", "max_dimension_sets": 3}]',
  'and lists the metric with the tag key to fix');
delete from public.monitoring_events where event_type = 'aggregation_dimension_overflow';
select is(monitoring_internal.health_dimensions(),
  '{"status": "healthy", "lookback_hours": 24, "overflowing_metrics": []}'::jsonb,
  'without overflow events it is healthy');

-- ------------------------------------------------------------ recomputation stays exact
-- A request id grows to 10 rows: it now ranks first, api c is folded, and
-- c's old row must go.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.card', 200 + g, '{"api": "a", "request_id": "req-6", "attempt": 6}', '2035-05-02 09:50+00'
from generate_series(1, 9) as g;
select monitoring.aggregate_metrics('hourly', '2035-05-02 10:03+00');
select results_eq(
  $$select dimensions, count_value from monitoring.aggregated_metrics
    where metric_name = 'pgtap.card' and period = 'hourly' and period_start = '2035-05-02 09:00+00'
    order by count_value desc, dimensions$$,
  $$values ('{"api": "a", "request_id": "req-6"}'::jsonb, 10), ('{"overflow": "true"}', 9),
           ('{"api": "a"}', 5), ('{"api": "b"}', 4)$$,
  'recomputed: the new top set keeps a row, api c is folded and its old row deleted');

-- Lower the default: the other metric folds too.
update monitoring.dimension_limits set max_dimension_sets = 2 where metric_name = '*';
select monitoring.aggregate_metrics('hourly', '2035-05-02 10:03+00');
select is((select count(*)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.card.other'),
  3, 'a lower default: 2 sets + the overflow row');
select is((select count_value from monitoring.aggregated_metrics
           where metric_name = 'pgtap.card.other' and dimensions = '{"overflow": "true"}'),
  3, 'the overflow row counts the 3 folded sets'' rows');
select is((select details ->> 'top_tag_key' from public.monitoring_events
           where event_type = 'aggregation_dimension_overflow' and details ->> 'metric_name' = 'pgtap.card.other'),
  'shard', 'the event names the only tag key');

-- ------------------------------------------------------------ bounded whatever the tags
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap.card.ids', g, jsonb_build_object('user_id', 'u' || g, 'region', 'r' || (g % 3)),
       timestamptz '2035-05-02 11:00+00' + g * interval '1 second'
from generate_series(1, 500) as g;
insert into monitoring.dimension_limits (metric_name, max_dimension_sets) values ('pgtap.card.ids', 50);
select monitoring.aggregate_metrics('hourly', '2035-05-02 12:03+00');
select is((select count(*)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.card.ids'),
  51, '500 distinct user ids with a bound of 50: 51 rows');
select is((select sum(count_value)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.card.ids'),
  500, 'and all 500 rows counted');
select is((select details ->> 'top_tag_key' from public.monitoring_events
           where event_type = 'aggregation_dimension_overflow' and details ->> 'metric_name' = 'pgtap.card.ids'),
  'user_id', 'the event blames user_id (500 values), not region (3)');

-- ------------------------------------------------------------ the settings table
select throws_ok($$insert into monitoring.dimension_limits values ('pgtap.zero', 0)$$, '23514', null,
  'a bound below 1 is rejected');
select throws_ok($$insert into monitoring.dimension_limits values (' ', 10)$$, '23514', null,
  'a blank metric name is rejected');
delete from monitoring.dimension_limits where metric_name = '*';
select throws_ok($$select monitoring.aggregate_metrics('hourly', '2035-05-02 12:03+00')$$, '55000', null,
  'without the default row aggregation stops with an error saying how to restore it');
select is((select count(*)::integer from monitoring.aggregated_metrics where metric_name = 'pgtap.card.ids'),
  51, 'and writes nothing');

select * from finish();
rollback;

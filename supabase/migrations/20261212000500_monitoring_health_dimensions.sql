-- Health component for the cardinality bound: which metrics had dimension sets
-- folded into the overflow row recently, and the tag key to blame.
--
-- Owns: monitoring_internal.health_dimensions().
--
-- aggregate_metrics (20261215000100) writes one public.monitoring_events row
-- (event_type 'aggregation_dimension_overflow') per metric and period it
-- folds. This component reads those of the last 24 hours (index
-- monitoring_events_type_created_at_idx): status warning when any metric
-- folded, with one entry per metric naming its most recent top tag key. Warning,
-- not critical: the rollups stay exact in total, only the split by dimension
-- is lost for the folded sets; the fix is in the worker's tags (docs/sdk.md).
-- It is a component in the sense of 20261201001100: public.get_system_health()
-- includes it as 'dimension_health' once its combiner lists it.

create or replace function monitoring_internal.health_dimensions()
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  with recent as (
    select e.details ->> 'metric_name' as metric_name,
           e.details ->> 'top_tag_key' as top_tag_key,
           e.details ->> 'period' as period,
           (e.details ->> 'max_dimension_sets')::bigint as max_dimension_sets,
           (e.details ->> 'dimension_sets')::bigint as dimension_sets,
           e.created_at
    from public.monitoring_events as e
    where e.event_type = 'aggregation_dimension_overflow'
      and e.created_at >= now() - interval '24 hours'
  ),
  per_metric as (
    select distinct on (r.metric_name)
           r.metric_name, r.top_tag_key, r.max_dimension_sets,
           max(r.dimension_sets) over (partition by r.metric_name) as most_dimension_sets,
           count(*) over (partition by r.metric_name) as overflows,
           max(r.created_at) over (partition by r.metric_name) as last_overflow_at
    from recent as r
    order by r.metric_name, r.created_at desc
  )
  select jsonb_build_object(
    'status', case when exists (select 1 from per_metric) then 'warning' else 'healthy' end,
    'lookback_hours', 24,
    'overflowing_metrics', coalesce(
      (select jsonb_agg(jsonb_build_object(
                'metric_name', p.metric_name,
                'top_tag_key', p.top_tag_key,
                'max_dimension_sets', p.max_dimension_sets,
                'most_dimension_sets', p.most_dimension_sets,
                'overflows', p.overflows,
                'last_overflow_at', p.last_overflow_at)
              order by p.metric_name)
       from per_metric as p),
      '[]'::jsonb));
$$;

comment on function monitoring_internal.health_dimensions() is
  'dimension_health: metrics whose dimension sets were folded into the overflow row in the last 24 h, '
  'with the tag key with the most distinct values.';

revoke all on function monitoring_internal.health_dimensions() from public, anon, authenticated;
grant execute on function monitoring_internal.health_dimensions() to service_role;

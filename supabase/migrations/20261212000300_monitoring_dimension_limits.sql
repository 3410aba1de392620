-- The cardinality bound of monitoring.aggregated_metrics: how many distinct
-- dimension sets one metric may have in one period.
--
-- Owns: monitoring.dimension_limits, its default row, RLS policy and grants.
--
-- Why: dimensions are the string and boolean tags, so a worker that puts a
-- request id, URL or user id into a tag makes every row its own group.
-- Measured on the local stack: 50 000 rows with a unique request_id string in
-- one hour became 50 000 hourly rollup rows (27 MB, 3.3 s), as large as the raw
-- data they summarise and kept 90 days. OpenTelemetry's SDK caps the series per
-- metric the same way and folds the rest into one overflow series.
--
-- aggregate_metrics (20261215000100) keeps, per metric and period, the
-- max_dimension_sets dimension sets with the most rows (ties by dimensions) and
-- folds the rest into one rollup row with dimensions {"overflow": "true"}.
-- The row with metric_name '*' is the default for every metric without a row of
-- its own; aggregation refuses to run without it. Operators override per metric:
--   insert into monitoring.dimension_limits (metric_name, max_dimension_sets)
--   values ('api_call', 5000);
--   update monitoring.dimension_limits set max_dimension_sets = 200 where metric_name = '*';

create table monitoring.dimension_limits (
  metric_name        text,
  max_dimension_sets integer not null,
  updated_at         timestamptz not null default now(),
  constraint dimension_limits_metric_name_not_blank check (length(btrim(metric_name)) between 1 and 200),
  -- Above a million sets per metric and hour the bound no longer bounds anything.
  constraint dimension_limits_max_dimension_sets_valid check (max_dimension_sets between 1 and 1000000),
  constraint dimension_limits_pkey primary key (metric_name)
);
comment on table monitoring.dimension_limits is
  'Most distinct dimension sets per metric and period in aggregated_metrics (''*'' = default); '
  'the rest fold into one {"overflow": "true"} row.';

insert into monitoring.dimension_limits (metric_name, max_dimension_sets) values ('*', 1000);

alter table monitoring.dimension_limits enable row level security;
create policy dimension_limits_service_role_all on monitoring.dimension_limits
  as permissive for all to service_role using (true) with check (true);
revoke all on monitoring.dimension_limits from public, anon, authenticated, service_role;
grant select, insert, update, delete on monitoring.dimension_limits to service_role;

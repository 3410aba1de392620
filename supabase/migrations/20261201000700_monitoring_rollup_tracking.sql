-- Record which minutes every write to monitoring.pipeline_metrics touches.
--
-- Owns: the trigger functions monitoring_internal.track_metric_{inserts,updates,
-- deletes,truncate}() and the four statement-level triggers on pipeline_metrics.
--
-- Statement-level triggers (one call per INSERT/UPDATE/DELETE statement, not per
-- row) add one monitoring_internal.rollup_changes row per UTC minute and
-- transaction for the rows the views and the health check read
-- (queue_processing, api_call) within their reach (8 days; the views look back
-- 7). A seal whose snapshot does not cover such a change is no longer trusted,
-- so readers fall back to raw rows for that minute until
-- monitoring_internal.refresh_rollups() re-seals it (see 20261201000600).
-- Rows outside the reach (retention purges of 14-day-old data, imports of old
-- history) cost the trigger a scan of the statement's rows and nothing more.
-- TRUNCATE drops every seal and rollup.
--
-- Cost to a writer: a transition table of the statement's rows and one small
-- insert per distinct minute (usually one), no locks beyond that row. The SDK's
-- batched inserts keep it to one trigger call per batch.

create or replace function monitoring_internal.track_metric_inserts()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into monitoring_internal.rollup_changes (minute, xid)
  select distinct date_bin(interval '1 minute', n."timestamp", timestamptz '2000-01-01 00:00+00'), pg_current_xact_id()
  from new_rows as n
  where n.metric_name in ('queue_processing', 'api_call')
    and n."timestamp" >= now() - interval '8 days'
  on conflict do nothing;
  return null;
end;
$$;

create or replace function monitoring_internal.track_metric_updates()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into monitoring_internal.rollup_changes (minute, xid)
  select distinct date_bin(interval '1 minute', r."timestamp", timestamptz '2000-01-01 00:00+00'), pg_current_xact_id()
  from (select o.metric_name, o."timestamp" from old_rows as o
        union all
        select n.metric_name, n."timestamp" from new_rows as n) as r
  where r.metric_name in ('queue_processing', 'api_call')
    and r."timestamp" >= now() - interval '8 days'
  on conflict do nothing;
  return null;
end;
$$;

create or replace function monitoring_internal.track_metric_deletes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into monitoring_internal.rollup_changes (minute, xid)
  select distinct date_bin(interval '1 minute', o."timestamp", timestamptz '2000-01-01 00:00+00'), pg_current_xact_id()
  from old_rows as o
  where o.metric_name in ('queue_processing', 'api_call')
    and o."timestamp" >= now() - interval '8 days'
  on conflict do nothing;
  return null;
end;
$$;

create or replace function monitoring_internal.track_metric_truncate()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from monitoring_internal.rollup_seals;
  delete from monitoring_internal.rollup_changes;
  delete from monitoring_internal.queue_minute_stats;
  delete from monitoring_internal.queue_hour_stats;
  delete from monitoring_internal.api_minute_stats;
  delete from monitoring_internal.api_hour_stats;
  return null;
end;
$$;

comment on function monitoring_internal.track_metric_inserts() is
  'Trigger: records the minutes an INSERT into pipeline_metrics touched (rollup invalidation).';
comment on function monitoring_internal.track_metric_updates() is
  'Trigger: records the minutes an UPDATE of pipeline_metrics touched, before and after (rollup invalidation).';
comment on function monitoring_internal.track_metric_deletes() is
  'Trigger: records the minutes a DELETE from pipeline_metrics touched (rollup invalidation).';
comment on function monitoring_internal.track_metric_truncate() is
  'Trigger: TRUNCATE of pipeline_metrics drops every rollup and seal.';

create trigger pipeline_metrics_track_inserts
  after insert on monitoring.pipeline_metrics
  referencing new table as new_rows
  for each statement execute function monitoring_internal.track_metric_inserts();
create trigger pipeline_metrics_track_updates
  after update on monitoring.pipeline_metrics
  referencing old table as old_rows new table as new_rows
  for each statement execute function monitoring_internal.track_metric_updates();
create trigger pipeline_metrics_track_deletes
  after delete on monitoring.pipeline_metrics
  referencing old table as old_rows
  for each statement execute function monitoring_internal.track_metric_deletes();
create trigger pipeline_metrics_track_truncate
  after truncate on monitoring.pipeline_metrics
  for each statement execute function monitoring_internal.track_metric_truncate();

revoke all on function monitoring_internal.track_metric_inserts(), monitoring_internal.track_metric_updates(),
  monitoring_internal.track_metric_deletes(), monitoring_internal.track_metric_truncate()
  from public, anon, authenticated, service_role;

-- Change tracking for every rollup: the views' minute/hour rollups and
-- monitoring.aggregated_metrics share one mechanism (release 0.2.0's seals and
-- change records, 20261201000600..000800), so late rows reach both.
--
-- Owns (replaces): the trigger functions monitoring_internal.track_metric_inserts(),
-- track_metric_updates(), track_metric_deletes(); the constraint
-- monitoring_internal.rollup_seals_kind_valid; new: the view
-- monitoring_internal.stale_aggregation_periods.
--
-- Why: measured on the local stack, 50 000 rows written into an hour the hourly
-- job had already aggregated were in no rollup (aggregate_metrics('hourly')
-- wrote 0 rows): aggregation only ever moved a watermark forward. A few minutes
-- of API outage around :00-:05 UTC (the SDK delivers its buffer afterwards), a
-- worker with a slow clock or any back-fill left permanent holes once raw rows
-- were purged after 14 days.
--
-- What changes in what the triggers write: still one rollup_changes row
-- (minute, xid) per UTC minute and transaction, but
-- * for every metric name, not only queue_processing/api_call: aggregated_metrics
--   rolls up all of them;
-- * within raw retention (14 days) instead of the views' 8: aggregation
--   re-aggregates any period whose raw rows are still complete. Deletes by the
--   retention purge (rows older than 14 days) stay outside the reach.
-- The views' seals are checked against these records as before; a late row of
-- another metric in a sealed minute now also sends the views to raw rows for
-- that minute until the next refresh re-seals it (correct, marginally more work).
--
-- aggregate_metrics (20261215000100) seals every period it writes with kinds
-- 'hourly', 'daily', 'weekly' (the spec's period names) in the same
-- rollup_seals table: the snapshot its rollup rows were computed with. A sealed
-- period with a change record its snapshot did not see is stale, and the next
-- run of that period's job re-aggregates it.

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
  where n."timestamp" >= now() - interval '14 days'
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
  from (select o."timestamp" from old_rows as o
        union all
        select n."timestamp" from new_rows as n) as r
  where r."timestamp" >= now() - interval '14 days'
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
  where o."timestamp" >= now() - interval '14 days'
  on conflict do nothing;
  return null;
end;
$$;

comment on function monitoring_internal.track_metric_inserts() is
  'Trigger: records the minutes (within 14 days) an INSERT into pipeline_metrics touched (rollup invalidation).';
comment on function monitoring_internal.track_metric_updates() is
  'Trigger: records the minutes (within 14 days) an UPDATE of pipeline_metrics touched, before and after.';
comment on function monitoring_internal.track_metric_deletes() is
  'Trigger: records the minutes (within 14 days) a DELETE from pipeline_metrics touched (rollup invalidation).';

revoke all on function monitoring_internal.track_metric_inserts(), monitoring_internal.track_metric_updates(),
  monitoring_internal.track_metric_deletes()
  from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------- seal kinds
-- minute/hour: the views' rollups (refresh_rollups); hourly/daily/weekly:
-- periods of monitoring.aggregated_metrics (aggregate_metrics).
alter table monitoring_internal.rollup_seals
  drop constraint rollup_seals_kind_valid,
  add constraint rollup_seals_kind_valid
    check (kind in ('minute', 'hour', 'hourly', 'daily', 'weekly'));

comment on table monitoring_internal.rollup_seals is
  'Periods whose rollup rows are complete as of snap: minute/hour for the views, hourly/daily/weekly '
  'for monitoring.aggregated_metrics (UTC starts; ISO weeks).';
comment on table monitoring_internal.rollup_changes is
  'Minutes (UTC, within 14 days) touched by writes to pipeline_metrics, per transaction; '
  'a seal not covering one is untrusted.';

-- ---------------------------------------------------------------- stale periods
-- An aggregated period is stale when a change to one of its minutes was not
-- visible to its seal's snapshot (or was made by the sealing transaction,
-- which may have written more after sealing).
create or replace view monitoring_internal.stale_aggregation_periods
with (security_invoker = true)
as
select s.kind as period, s.period_start
from monitoring_internal.rollup_seals as s
where s.kind in ('hourly', 'daily', 'weekly')
  and exists (
    select 1 from monitoring_internal.rollup_changes as c
    where c.minute >= s.period_start
      and c.minute < s.period_start + case s.kind when 'hourly' then interval '1 hour'
                                                  when 'daily'  then interval '24 hours'
                                                  else               interval '168 hours' end
      and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap)));

comment on view monitoring_internal.stale_aggregation_periods is
  'Periods of aggregated_metrics that received rows (or lost some) after they were aggregated.';

revoke all on monitoring_internal.stale_aggregation_periods from public, anon, authenticated;
grant select on monitoring_internal.stale_aggregation_periods to service_role;

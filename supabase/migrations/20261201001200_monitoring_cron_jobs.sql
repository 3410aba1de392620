-- pg_cron jobs for everything periodic: every job of the schema is defined
-- here, one job per function.
--
-- cron.schedule(name, schedule, command) creates the job or, when a job of that
-- name exists, updates it in place (pg_cron >= 1.3), so this file can be
-- re-applied safely. Five-field schedules (pg_cron 1.4 has no seconds), in
-- pg_cron's time zone (GMT unless cron.timezone says otherwise); aggregation
-- periods are UTC. Aggregation is self-healing, so a late or missed run only
-- delays rollups until the next one.
--
--   hourly-metrics-aggregation   5 * * * *     the spec's job and command
--   daily-metrics-aggregation    15 0 * * *    yesterday (UTC) from raw data
--   weekly-metrics-aggregation   25 0 * * 1    last ISO week, Mondays
--   metrics-retention            */15 * * * *  raw, rollups, snapshots, resolved issues (batched)
--   purge-old-monitoring-events  0 0 * * 0     the spec's job and command (30 days)
--   monitoring-rollup-refresh    * * * * *     seal minute/hour rollups of the views and health
--                                              (monitoring_internal.refresh_rollups, 20261201000800)

select cron.schedule(
  'hourly-metrics-aggregation',
  '5 * * * *',
  $$select monitoring.aggregate_hourly_metrics()$$
);

select cron.schedule(
  'daily-metrics-aggregation',
  '15 0 * * *',
  $$select monitoring.aggregate_metrics('daily')$$
);

select cron.schedule(
  'weekly-metrics-aggregation',
  '25 0 * * 1',
  $$select monitoring.aggregate_metrics('weekly')$$
);

select cron.schedule(
  'metrics-retention',
  '*/15 * * * *',
  $$select monitoring.purge_expired_metrics()$$
);

select cron.schedule(
  'purge-old-monitoring-events',
  '0 0 * * 0',
  $$select public.purge_old_monitoring_events(30)$$
);

select cron.schedule(
  'monitoring-rollup-refresh',
  '* * * * *',
  $$select monitoring_internal.refresh_rollups()$$
);

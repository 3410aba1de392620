-- The pg_cron job that creates pipeline_metrics' day partitions ahead.
--
-- Owns: the job metric-partition-maintenance (50 * * * *), which runs
-- monitoring_internal.maintain_metric_partitions() (20261213000100): every day
-- from 14 days back to 3 days ahead has its partition, so a missed run or
-- two costs nothing (rows of a day without a partition go to the default
-- partition and move to their day when it is created). Scheduled as the
-- release's jobs are (cron.schedule by name creates or updates in place);
-- cron_health knows it from the registry below on.

select cron.schedule(
  'metric-partition-maintenance',
  '50 * * * *',
  $$select monitoring_internal.maintain_metric_partitions()$$
);

select monitoring_internal.register_cron_jobs();

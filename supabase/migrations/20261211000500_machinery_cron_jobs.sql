-- pg_cron jobs of the machinery checks, one job per function, scheduled as the
-- release's jobs are (20261201001200: cron.schedule by name creates or updates
-- in place, so this file can be re-applied; five fields, pg_cron's time zone).
--
--   queue-depth-history         * * * * *     monitoring.record_queue_depths() (20261211000200)
--   cron-job-registry           */10 * * * *  monitoring_internal.register_cron_jobs() (20261211000300)
--   cron-history-prune          30 0 * * *    monitoring.prune_cron_history(), 7 days (20261211000300)
--   worker-heartbeat-retention  40 0 * * *    monitoring_internal.purge_worker_heartbeats() (20261211000400)
--
-- Then every job of this project seen so far is registered (first seen now), so
-- cron_health can tell a missed run from a job that did not exist yet.

select cron.schedule(
  'queue-depth-history',
  '* * * * *',
  $$select monitoring.record_queue_depths()$$
);

select cron.schedule(
  'cron-job-registry',
  '*/10 * * * *',
  $$select monitoring_internal.register_cron_jobs()$$
);

select cron.schedule(
  'cron-history-prune',
  '30 0 * * *',
  $$select monitoring.prune_cron_history()$$
);

select cron.schedule(
  'worker-heartbeat-retention',
  '40 0 * * *',
  $$select monitoring_internal.purge_worker_heartbeats()$$
);

select monitoring_internal.register_cron_jobs();

-- Settings of the machinery checks (queue depth history, pg_cron jobs, worker
-- heartbeats), added to monitoring.health_thresholds.
--
-- Owns: the new setting rows below, and the constraints
-- health_thresholds_setting_known (replaced: the release's list plus these) and
-- health_thresholds_machinery_positive.
--
-- The release's rules still hold for every row: values are finite and >= 0,
-- whole numbers unless an error rate, and a status escalates when a number
-- EXCEEDS its threshold. The windows, ages, caps and retention periods added
-- here must also be > 0 (a zero would make the check meaningless).

alter table monitoring.health_thresholds drop constraint health_thresholds_setting_known;
alter table monitoring.health_thresholds add constraint health_thresholds_setting_known check (setting in (
  -- release 0.2.0 (20261201000300)
  'queue_stuck_after_seconds',
  'queue_snapshot_max_age_minutes',
  'queue_stuck_messages_warning',
  'queue_stuck_messages_critical',
  'processing_window_minutes',
  'processing_min_samples',
  'batch_error_rate_warning',
  'batch_error_rate_critical',
  'api_error_rate_warning',
  'api_error_rate_critical',
  'worker_issue_lookback_hours',
  'worker_warning_issues_warning',
  'worker_error_issues_warning',
  'worker_error_issues_critical',
  'worker_critical_issues_critical',
  -- queue depth history (20261211000200)
  'queue_depth_count_cap',
  'queue_dead_letter_read_count',
  -- pg_cron self-monitoring (20261211000300)
  'cron_missed_grace_seconds',
  'cron_failed_jobs_warning',
  'cron_consecutive_failures_critical',
  'cron_missed_jobs_warning',
  'cron_missed_jobs_critical',
  'cron_overrunning_jobs_warning',
  'cron_run_history_days',
  -- worker heartbeats (20261211000400)
  'worker_silent_after_seconds',
  'worker_silent_workers_warning',
  'worker_silent_workers_critical',
  'worker_heartbeat_retention_days'
));

alter table monitoring.health_thresholds add constraint health_thresholds_machinery_positive check (
  setting not in ('queue_depth_count_cap', 'cron_run_history_days',
                  'worker_silent_after_seconds', 'worker_heartbeat_retention_days')
  or value > 0
);

insert into monitoring.health_thresholds (setting, value, description) values
  ('queue_depth_count_cap',              10000, 'Queue depth history counts at most this many messages per queue table exactly; above it the planner''s estimate is recorded, tagged approximate.'),
  ('queue_dead_letter_read_count',       5,     'A pgmq message read more than this many times without being deleted counts as dead-lettered.'),
  ('cron_missed_grace_seconds',          120,   'A pg_cron job is missed when it has not started within this many seconds of a scheduled time.'),
  ('cron_failed_jobs_warning',           0,     'Cron health is warning when jobs whose last run failed exceed this.'),
  ('cron_consecutive_failures_critical', 2,     'Cron health is critical when a job''s runs failed more than this many times in a row.'),
  ('cron_missed_jobs_warning',           0,     'Cron health is warning when missed jobs exceed this.'),
  ('cron_missed_jobs_critical',          1,     'Cron health is critical when missed jobs exceed this (several missed jobs: pg_cron itself is probably not running).'),
  ('cron_overrunning_jobs_warning',      0,     'Cron health is warning when jobs whose last run took longer than their schedule interval exceed this.'),
  ('cron_run_history_days',              7,     'monitoring.prune_cron_history() deletes this project''s pg_cron run history older than this many days.'),
  ('worker_silent_after_seconds',        300,   'A worker whose last heartbeat is older than this many seconds (and that did not close cleanly) is silent.'),
  ('worker_silent_workers_warning',      0,     'Worker health is warning when silent workers exceed this.'),
  ('worker_silent_workers_critical',     2,     'Worker health is critical when silent workers exceed this.'),
  ('worker_heartbeat_retention_days',    7,     'Heartbeats of workers not seen for this many days are deleted.')
on conflict (setting) do nothing;

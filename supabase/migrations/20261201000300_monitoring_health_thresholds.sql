-- Health-check thresholds, one row per setting, overridable without a migration.
--
-- Owns: monitoring.health_thresholds and its default rows.
--
-- public.get_system_health() and monitoring.queue_status() read these values.
-- A status escalates when a number is strictly greater than its threshold
-- ("exceeds"), so the defaults reproduce the spec: more than 0 stuck messages
-- is a warning, more than 10 is critical. The exception is
-- processing_min_samples, a floor: error rates move the status only when
-- computed over at least that many messages or calls, so one failed call on
-- an idle system does not page anyone.
--
-- Operators change a value with
--   update monitoring.health_thresholds set value = 0.1 where setting = 'api_error_rate_warning';
-- service_role may read and update, not insert or delete: the health check
-- needs every setting and raises an error if one is missing.

create table monitoring.health_thresholds (
  setting     text,
  value       double precision not null,
  description text not null,
  updated_at  timestamptz not null default now(),
  constraint health_thresholds_setting_known check (setting in (
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
    'worker_critical_issues_critical'
  )),
  constraint health_thresholds_value_valid check (
    value >= 0 and value < 'Infinity'::double precision
  ),
  constraint health_thresholds_rate_is_fraction check (
    setting not like '%error_rate%' or value <= 1
  ),
  -- Only rates are fractions; windows, ages and counts are whole numbers.
  constraint health_thresholds_whole_number check (
    setting like '%error_rate%' or value = trunc(value)
  ),
  -- Windows and ages of zero would make a check meaningless (division by zero).
  constraint health_thresholds_window_positive check (
    setting not in ('queue_stuck_after_seconds', 'queue_snapshot_max_age_minutes',
                    'processing_window_minutes', 'worker_issue_lookback_hours')
    or value > 0
  ),
  constraint health_thresholds_pkey primary key (setting)
);
comment on table monitoring.health_thresholds is
  'Thresholds of public.get_system_health(); a status escalates when a number exceeds its threshold.';

insert into monitoring.health_thresholds (setting, value, description) values
  ('queue_stuck_after_seconds',       600,  'A queued message waiting longer than this many seconds is stuck.'),
  ('queue_snapshot_max_age_minutes',  60,   'Queue snapshots older than this are stale and ignored.'),
  ('queue_stuck_messages_warning',    0,    'Queue health is warning when total stuck messages exceed this.'),
  ('queue_stuck_messages_critical',   10,   'Queue health is critical when total stuck messages exceed this.'),
  ('processing_window_minutes',       15,   'Processing health looks at metrics of the last this many minutes.'),
  ('processing_min_samples',          10,   'An error rate moves the status only when computed over at least this many messages or API calls.'),
  ('batch_error_rate_warning',        0.05, 'Warning when the queue_processing message error rate exceeds this fraction.'),
  ('batch_error_rate_critical',       0.25, 'Critical when the queue_processing message error rate exceeds this fraction.'),
  ('api_error_rate_warning',          0.05, 'Warning when the api_call error rate exceeds this fraction.'),
  ('api_error_rate_critical',         0.25, 'Critical when the api_call error rate exceeds this fraction.'),
  ('worker_issue_lookback_hours',     24,   'Worker health counts open issues created within this many hours.'),
  ('worker_warning_issues_warning',   0,    'Warning when open warning-severity issues exceed this.'),
  ('worker_error_issues_warning',     0,    'Warning when open error-severity issues exceed this.'),
  ('worker_error_issues_critical',    5,    'Critical when open error-severity issues exceed this.'),
  ('worker_critical_issues_critical', 0,    'Critical when open critical-severity issues exceed this.');

alter table monitoring.health_thresholds enable row level security;
create policy health_thresholds_service_role_all on monitoring.health_thresholds
  as permissive for all to service_role using (true) with check (true);

revoke all on monitoring.health_thresholds from public, anon, authenticated;
grant select, update (value, description, updated_at) on monitoring.health_thresholds to service_role;

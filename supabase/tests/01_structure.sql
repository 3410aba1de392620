-- Structure: tables, columns and types (the spec's names), named constraints
-- and that they reject bad rows, indexes, RLS and policies, views, functions,
-- seeded thresholds.
begin;
create extension if not exists pgtap with schema extensions;
select plan(86);

-- ------------------------------------------------------------ tables
select has_schema('monitoring');
select tables_are('monitoring', array[
  'pipeline_metrics', 'aggregated_metrics', 'worker_issues', 'queue_snapshots',
  'health_thresholds', 'aggregation_watermarks', 'alert_silences', 'worker_heartbeats', 'dimension_limits']);
select has_table('public', 'monitoring_events', 'public.monitoring_events exists');

select columns_are('monitoring', 'pipeline_metrics',
  array['id', 'metric_name', 'metric_value', 'tags', 'timestamp', 'created_at']);
select columns_are('monitoring', 'aggregated_metrics',
  array['id', 'metric_name', 'period', 'period_start', 'min_value', 'max_value', 'avg_value',
        'sum_value', 'count_value', 'p50_value', 'p95_value', 'p99_value', 'dimensions',
        'dimensions_hash', 'created_at']);
select columns_are('monitoring', 'worker_issues',
  array['id', 'worker_name', 'issue_type', 'severity', 'message', 'details', 'resolved',
        'resolution_details', 'created_at', 'resolved_at']);
select columns_are('public', 'monitoring_events', array['id', 'event_type', 'details', 'created_at']);
select columns_are('monitoring', 'queue_snapshots',
  array['id', 'queue_name', 'queue_length', 'stuck_messages', 'oldest_msg_age_sec', 'details', 'captured_at']);

-- The spec's column types (other platform workers write these tables).
select col_type_is(s, t, c, ty, format('%s.%s.%s is %s', s, t, c, ty))
from (values
  ('monitoring', 'pipeline_metrics', 'id', 'uuid'),
  ('monitoring', 'pipeline_metrics', 'metric_name', 'text'),
  ('monitoring', 'pipeline_metrics', 'metric_value', 'double precision'),
  ('monitoring', 'pipeline_metrics', 'tags', 'jsonb'),
  ('monitoring', 'pipeline_metrics', 'timestamp', 'timestamp with time zone'),
  ('monitoring', 'aggregated_metrics', 'period', 'text'),
  ('monitoring', 'aggregated_metrics', 'period_start', 'timestamp with time zone'),
  ('monitoring', 'aggregated_metrics', 'min_value', 'double precision'),
  ('monitoring', 'aggregated_metrics', 'count_value', 'integer'),
  ('monitoring', 'aggregated_metrics', 'p99_value', 'double precision'),
  ('monitoring', 'aggregated_metrics', 'dimensions', 'jsonb'),
  ('monitoring', 'worker_issues', 'severity', 'text'),
  ('monitoring', 'worker_issues', 'details', 'jsonb'),
  ('monitoring', 'worker_issues', 'resolved', 'boolean'),
  ('monitoring', 'worker_issues', 'resolved_at', 'timestamp with time zone'),
  ('public', 'monitoring_events', 'details', 'jsonb'),
  ('public', 'monitoring_events', 'created_at', 'timestamp with time zone')
) as v(s, t, c, ty);

select col_default_is('monitoring', 'pipeline_metrics', 'tags', '{}'::jsonb, 'tags default to an empty object');
select col_default_is('monitoring', 'worker_issues', 'resolved', 'false', 'issues start unresolved');

-- ------------------------------------------------------------ named constraints
select set_eq(
  $$select conname::text from pg_constraint where conrelid = 'monitoring.pipeline_metrics'::regclass$$,
  array['pipeline_metrics_pkey', 'pipeline_metrics_metric_name_not_blank',
        'pipeline_metrics_metric_value_finite', 'pipeline_metrics_tags_is_object'],
  'pipeline_metrics constraints');
select set_eq(
  $$select conname::text from pg_constraint where conrelid = 'monitoring.aggregated_metrics'::regclass$$,
  array['aggregated_metrics_pkey', 'aggregated_metrics_period_valid', 'aggregated_metrics_metric_name_not_blank',
        'aggregated_metrics_dimensions_is_object', 'aggregated_metrics_natural_key'],
  'aggregated_metrics constraints');
select set_eq(
  $$select conname::text from pg_constraint where conrelid = 'monitoring.worker_issues'::regclass$$,
  array['worker_issues_pkey', 'worker_issues_severity_valid', 'worker_issues_worker_name_not_blank',
        'worker_issues_issue_type_not_blank'],
  'worker_issues constraints');
select set_eq(
  $$select conname::text from pg_constraint where conrelid = 'public.monitoring_events'::regclass$$,
  array['monitoring_events_pkey', 'monitoring_events_event_type_not_blank'],
  'monitoring_events constraints');
select set_eq(
  $$select conname::text from pg_constraint where conrelid = 'monitoring.queue_snapshots'::regclass$$,
  array['queue_snapshots_pkey', 'queue_snapshots_queue_name_not_blank', 'queue_snapshots_queue_length_non_negative',
        'queue_snapshots_stuck_messages_valid', 'queue_snapshots_oldest_age_non_negative'],
  'queue_snapshots constraints');
select col_is_unique('monitoring', 'aggregated_metrics',
  array['period', 'period_start', 'metric_name', 'dimensions_hash'], 'rollup natural key');

-- ... and they reject what they should (23514 check_violation, 23505 unique_violation).
select throws_ok($$insert into monitoring.worker_issues (worker_name, issue_type, severity) values ('w', 't', 'fatal')$$,
  '23514', null, 'severity outside info/warning/error/critical is rejected');
select lives_ok($$insert into monitoring.worker_issues (worker_name, issue_type, severity) values ('w', 't', 'critical')$$,
  'severity critical is accepted');
select throws_ok($$insert into monitoring.worker_issues (worker_name, issue_type, severity) values ('  ', 't', 'info')$$,
  '23514', null, 'blank worker_name is rejected');
select throws_ok($$insert into monitoring.pipeline_metrics (metric_name, metric_value) values ('', 1)$$,
  '23514', null, 'empty metric_name is rejected');
select throws_ok($$insert into monitoring.pipeline_metrics (metric_name, metric_value) values ('m', 'NaN')$$,
  '23514', null, 'NaN metric_value is rejected');
select throws_ok($$insert into monitoring.pipeline_metrics (metric_name, metric_value, tags) values ('m', 1, '[1]')$$,
  '23514', null, 'tags that are not an object are rejected');
select throws_ok($$insert into monitoring.aggregated_metrics (metric_name, period, period_start) values ('m', 'monthly', now())$$,
  '23514', null, 'period outside hourly/daily/weekly is rejected');
select throws_ok($$insert into public.monitoring_events (event_type) values (' ')$$,
  '23514', null, 'blank event_type is rejected');
select throws_ok($$insert into monitoring.queue_snapshots (queue_name, queue_length, stuck_messages) values ('q', 1, 2)$$,
  '23514', null, 'more stuck messages than queued ones are rejected');
insert into monitoring.aggregated_metrics (metric_name, period, period_start, dimensions)
values ('pgtap.structure', 'hourly', '2035-01-01 00:00+00', '{"a": "x", "b": true}');
select throws_ok(
  $$insert into monitoring.aggregated_metrics (metric_name, period, period_start, dimensions)
    values ('pgtap.structure', 'hourly', '2035-01-01 00:00+00', '{"b": true, "a": "x"}')$$,
  '23505', null, 'the natural key sees equal dimensions written in another key order as the same row');
select lives_ok(
  $$insert into monitoring.aggregated_metrics (metric_name, period, period_start, dimensions)
    values ('pgtap.structure', 'hourly', '2035-01-01 00:00+00', jsonb_build_object('long', repeat('x', 5000)))$$,
  'dimensions far beyond a btree entry''s size still fit the natural key');

-- ------------------------------------------------------------ indexes
select has_index('monitoring', 'pipeline_metrics', 'pipeline_metrics_name_timestamp_idx', array['metric_name', '"timestamp"']);
select has_index('monitoring', 'pipeline_metrics', 'pipeline_metrics_timestamp_idx', array['"timestamp"']);
select has_index('monitoring', 'aggregated_metrics', 'aggregated_metrics_name_period_start_idx',
  array['metric_name', 'period', 'period_start']);
select has_index('monitoring', 'worker_issues', 'worker_issues_open_idx', array['severity', 'created_at']);
select has_index('monitoring', 'worker_issues', 'worker_issues_created_at_idx', array['created_at']);
select has_index('monitoring', 'worker_issues', 'worker_issues_resolved_purge_idx', 'worker_issues_resolved_purge_idx exists');
select has_index('monitoring', 'queue_snapshots', 'queue_snapshots_queue_captured_idx', array['queue_name', 'captured_at']);
select has_index('monitoring', 'queue_snapshots', 'queue_snapshots_captured_at_idx', array['captured_at']);
select has_index('public', 'monitoring_events', 'monitoring_events_created_at_idx', array['created_at']);
select has_index('public', 'monitoring_events', 'monitoring_events_type_created_at_idx', array['event_type', 'created_at']);
select is(
  (select pg_get_expr(indpred, indrelid) from pg_index where indexrelid = 'monitoring.worker_issues_open_idx'::regclass),
  '(NOT resolved)', 'worker_issues_open_idx covers open issues only');

-- ------------------------------------------------------------ RLS and policies
select is_empty(
  $$select c.oid::regclass::text from pg_class c
    where c.relkind in ('r', 'p')
      and (c.relnamespace = 'monitoring'::regnamespace or c.oid = 'public.monitoring_events'::regclass)
      and not c.relrowsecurity$$,
  'RLS is enabled on every monitoring table');
select policies_are('monitoring', 'pipeline_metrics', array['pipeline_metrics_service_role_all']);
select policies_are('monitoring', 'aggregated_metrics', array['aggregated_metrics_service_role_all']);
select policies_are('monitoring', 'worker_issues', array['worker_issues_service_role_all']);
select policies_are('monitoring', 'queue_snapshots', array['queue_snapshots_service_role_all']);
select policies_are('monitoring', 'health_thresholds', array['health_thresholds_service_role_all']);
select policies_are('monitoring', 'aggregation_watermarks', array['aggregation_watermarks_service_role_all']);
select policies_are('public', 'monitoring_events', array['monitoring_events_service_role_all']);
select is_empty(
  $$select p.polrelid::regclass::text || '.' || p.polname from pg_policy p
    join pg_class c on c.oid = p.polrelid
    where (c.relnamespace = 'monitoring'::regnamespace or c.oid = 'public.monitoring_events'::regclass)
      and p.polroles <> array['service_role'::regrole::oid]$$,
  'every policy applies to service_role only');

-- ------------------------------------------------------------ views
select views_are('monitoring', array['queue_metrics', 'api_metrics', 'queue_depth_hourly', 'worker_status']);
select has_view('public', 'queue_monitoring_view', 'public.queue_monitoring_view exists');
select columns_are('monitoring', 'queue_metrics',
  array['queue_name', 'hour', 'total_batches', 'success_count', 'error_count',
        'avg_processing_time_ms', 'total_messages_processed']);
select columns_are('monitoring', 'api_metrics',
  array['api_name', 'hour', 'total_calls', 'success_count', 'error_count', 'avg_success_time_ms', 'p95_time_ms']);
select columns_are('public', 'queue_monitoring_view',
  array['queue_name', 'queue_length', 'stuck_messages', 'oldest_msg_age_sec', 'last_check_time', 'source']);
select is_empty(
  $$select c.oid::regclass::text from pg_class c
    where c.relkind = 'v'
      and (c.relnamespace = 'monitoring'::regnamespace or c.oid = 'public.queue_monitoring_view'::regclass)
      and not coalesce(c.reloptions, '{}') @> array['security_invoker=true']$$,
  'every view is security_invoker');

-- ------------------------------------------------------------ functions
select functions_are('monitoring', array[
  'aggregate_metrics', 'aggregate_hourly_metrics', 'ingest_metrics', 'purge_expired_metrics', 'queue_status',
  'record_queue_depths', 'queue_depth_trend', 'prune_cron_history', 'record_worker_heartbeat']);
select has_function('monitoring', 'aggregate_metrics', array['text', 'timestamp with time zone']);
select function_returns('monitoring', 'aggregate_metrics', array['text', 'timestamp with time zone'], 'integer');
select function_returns('monitoring', 'aggregate_hourly_metrics', array[]::text[], 'integer');
select function_returns('monitoring', 'purge_expired_metrics', array['timestamp with time zone', 'integer'], 'jsonb');
select function_returns('public', 'get_system_health', array[]::text[], 'jsonb');
select function_returns('public', 'purge_old_monitoring_events', array['integer'], 'integer');
select is_definer('monitoring', 'queue_status', array[]::text[], 'queue_status is SECURITY DEFINER (reads pgmq)');
select isnt_definer('public', 'get_system_health', array[]::text[], 'get_system_health is SECURITY INVOKER');
select is_definer('monitoring', 'aggregate_metrics', array['text', 'timestamp with time zone'],
  'aggregate_metrics is SECURITY DEFINER (it seals periods in monitoring_internal)');
select is_empty(
  $$select p.oid::regprocedure::text from pg_proc p
    where p.pronamespace = 'monitoring'::regnamespace
       or p.oid in ('public.get_system_health()'::regprocedure, 'public.purge_old_monitoring_events(integer)'::regprocedure)
    except
    select p.oid::regprocedure::text from pg_proc p
    where coalesce(p.proconfig, '{}') @> array['search_path=""']$$,
  'every monitoring function pins search_path to empty');

-- ------------------------------------------------------------ thresholds
select results_eq(
  $$select setting, value from monitoring.health_thresholds order by setting$$,
  $$values ('api_error_rate_critical', 0.25::double precision), ('api_error_rate_warning', 0.05),
           ('batch_error_rate_critical', 0.25), ('batch_error_rate_warning', 0.05),
           ('cron_consecutive_failures_critical', 2), ('cron_failed_jobs_warning', 0),
           ('cron_missed_grace_seconds', 120), ('cron_missed_jobs_critical', 1), ('cron_missed_jobs_warning', 0),
           ('cron_overrunning_jobs_warning', 0), ('cron_run_history_days', 7),
           ('processing_min_samples', 10), ('processing_window_minutes', 15),
           ('queue_dead_letter_read_count', 5), ('queue_depth_count_cap', 10000),
           ('queue_snapshot_max_age_minutes', 60), ('queue_stuck_after_seconds', 600),
           ('queue_stuck_messages_critical', 10), ('queue_stuck_messages_warning', 0),
           ('worker_critical_issues_critical', 0), ('worker_error_issues_critical', 5),
           ('worker_error_issues_warning', 0), ('worker_heartbeat_retention_days', 7),
           ('worker_issue_lookback_hours', 24),
           ('worker_silent_after_seconds', 300), ('worker_silent_workers_critical', 2),
           ('worker_silent_workers_warning', 0), ('worker_warning_issues_warning', 0)$$,
  'every threshold is seeded with its documented default');
select throws_ok($$update monitoring.health_thresholds set value = 1.5 where setting = 'api_error_rate_warning'$$,
  '23514', null, 'an error rate threshold above 1 is rejected');
select throws_ok($$update monitoring.health_thresholds set value = 0 where setting = 'processing_window_minutes'$$,
  '23514', null, 'a zero window is rejected');
select throws_ok($$update monitoring.health_thresholds set value = 7.5 where setting = 'processing_window_minutes'$$,
  '23514', null, 'a fractional window is rejected');
select throws_ok($$insert into monitoring.health_thresholds (setting, value, description) values ('typo', 1, 'x')$$,
  '23514', null, 'an unknown setting is rejected');

select * from finish();
rollback;

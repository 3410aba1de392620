-- public.get_system_health(): the JSON contract, and every status at each
-- threshold (just below, at, just above) for queue, processing and worker
-- health, the overall status, overrides through monitoring.health_thresholds,
-- the time windows, and a missing setting. cron_health and the heartbeat keys of
-- worker_health have their own files (10_cron_health.sql, 11_worker_heartbeats.sql).
--
-- Health looks at all recent data, so this test first deletes, inside its own
-- transaction (rolled back at the end), the rows that would feed it: recent
-- queue_processing/api_call metrics, open worker issues, recent queue
-- snapshots. Defaults: stuck > 0 warning, > 10 critical; error rates > 0.05
-- warning, > 0.25 critical, over at least 10 messages/calls in 15 minutes;
-- worker: warning or error issues > 0 warning, error > 5 or critical > 0
-- critical, over the last 24 hours.
begin;
create extension if not exists pgtap with schema extensions;
select plan(52);

select is(to_regprocedure('pgmq.metrics_all()'), null, 'precondition: no pgmq, queues come from snapshots');
delete from monitoring.pipeline_metrics
where metric_name in ('queue_processing', 'api_call') and "timestamp" >= now() - interval '1 day';
delete from monitoring.worker_issues where not resolved;
delete from monitoring.queue_snapshots where captured_at >= now() - interval '1 day';
-- The machinery checks (20261211*): no heartbeats, and this project's pg_cron jobs
-- with no run history, each first seen now (so none is missed yet).
delete from monitoring.worker_heartbeats;
delete from cron.job_run_details where jobid in (select jobid from monitoring_internal.cron_project_jobs());
select monitoring_internal.register_cron_jobs();
update monitoring_internal.cron_job_registry set first_seen_at = now();

-- Helpers (temporary, gone at the end of the session).
create function pg_temp.status(p_component text) returns text language sql as $$
  select public.get_system_health() -> p_component ->> 'status'
$$;
create function pg_temp.overall() returns text language sql as $$
  select public.get_system_health() ->> 'overall_status'
$$;
create function pg_temp.set_stuck(p_stuck integer) returns void language sql as $$
  delete from monitoring.queue_snapshots where queue_name = 'pgtap_health_q';
  insert into monitoring.queue_snapshots (queue_name, queue_length, stuck_messages, oldest_msg_age_sec, captured_at)
  values ('pgtap_health_q', 100, p_stuck, 1200, now() - interval '30 seconds');
$$;
create function pg_temp.set_batches(p_ok integer, p_failed integer) returns void language sql as $$
  delete from monitoring.pipeline_metrics where metric_name = 'queue_processing' and tags ->> 'queue' = 'pgtap_health';
  insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
  values ('queue_processing', 250,
          jsonb_build_object('queue', 'pgtap_health', 'success_count', p_ok, 'error_count', p_failed,
                             'batch_size', p_ok + p_failed),
          now() - interval '1 minute');
$$;
create function pg_temp.set_api(p_calls integer, p_failed integer) returns void language sql as $$
  delete from monitoring.pipeline_metrics where metric_name = 'api_call' and tags ->> 'api' = 'pgtap_health';
  insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
  select 'api_call', 40, jsonb_build_object('api', 'pgtap_health', 'success', (n > p_failed)::text),
         now() - interval '2 minutes'
  from generate_series(1, p_calls) as n;
$$;
create function pg_temp.set_issues(p_severity text, p_count integer, p_age interval default interval '1 hour')
returns void language sql as $$
  delete from monitoring.worker_issues where worker_name = 'pgtap_health' and severity = p_severity;
  insert into monitoring.worker_issues (worker_name, issue_type, severity, created_at)
  select 'pgtap_health', 'test', p_severity, now() - p_age from generate_series(1, p_count);
$$;

-- ------------------------------------------------------------ contract, all quiet
select is(
  public.get_system_health() - 'timestamp' - 'cron_health',
  '{"overall_status": "healthy",
    "queue_health": {"status": "healthy", "queues_checked": 0, "queues_with_issues": 0,
                     "total_stuck_messages": 0, "last_check_time": null},
    "processing_health": {"status": "healthy", "window_minutes": 15, "total_batches": 0, "messages_processed": 0,
                          "batch_error_rate": null, "throughput_per_minute": 0, "api_calls": 0, "api_error_rate": null},
    "worker_health": {"status": "healthy", "open_issues": 0, "critical_issues": 0, "error_issues": 0,
                      "warning_issues": 0, "info_issues": 0,
                      "workers_reporting": 0, "silent_workers": 0, "closed_workers": 0,
                      "silent_after_seconds": 300, "silent_worker_names": []}}'::jsonb,
  'no data: every component healthy, numbers zero, rates null (the full document)');
select is((public.get_system_health() ->> 'timestamp')::timestamptz, now(), 'timestamp is the time of the check');

-- ------------------------------------------------------------ queue health
select pg_temp.set_stuck(0);
select is(pg_temp.status('queue_health'), 'healthy', 'queue: 0 stuck messages is healthy');
select is(public.get_system_health() -> 'queue_health' -> 'queues_checked', '1'::jsonb, 'queue: the queue is counted');
select pg_temp.set_stuck(1);
select is(pg_temp.status('queue_health'), 'warning', 'queue: 1 stuck message is a warning');
select pg_temp.set_stuck(10);
select is(pg_temp.status('queue_health'), 'warning', 'queue: 10 stuck messages is still a warning');
select pg_temp.set_stuck(11);
select is(pg_temp.status('queue_health'), 'critical', 'queue: 11 stuck messages is critical');
select is(
  public.get_system_health() -> 'queue_health',
  jsonb_build_object('status', 'critical', 'queues_checked', 1, 'queues_with_issues', 1,
                     'total_stuck_messages', 11, 'last_check_time', now() - interval '30 seconds'),
  'queue: the numbers behind the status');
select is(pg_temp.overall(), 'critical', 'overall: a critical queue makes the system critical');
update monitoring.health_thresholds set value = 20 where setting = 'queue_stuck_messages_critical';
select is(pg_temp.status('queue_health'), 'warning', 'queue: the critical threshold can be raised');
update monitoring.health_thresholds set value = 10 where setting = 'queue_stuck_messages_critical';
select pg_temp.set_stuck(1);
select is(pg_temp.overall(), 'warning', 'overall: a warning queue with everything else healthy is a warning');
select pg_temp.set_stuck(0);

-- ------------------------------------------------------------ processing: batches
select pg_temp.set_batches(95, 5);
select is(pg_temp.status('processing_health'), 'healthy', 'batches: error rate 0.05 is healthy');
select is(
  public.get_system_health() -> 'processing_health',
  '{"status": "healthy", "window_minutes": 15, "total_batches": 1, "messages_processed": 100,
    "batch_error_rate": 0.05, "throughput_per_minute": 6.67, "api_calls": 0, "api_error_rate": null}'::jsonb,
  'batches: the numbers behind the status (throughput = messages / 15 minutes)');
select pg_temp.set_batches(94, 6);
select is(pg_temp.status('processing_health'), 'warning', 'batches: error rate 0.06 is a warning');
select pg_temp.set_batches(75, 25);
select is(pg_temp.status('processing_health'), 'warning', 'batches: error rate 0.25 is still a warning');
select pg_temp.set_batches(74, 26);
select is(pg_temp.status('processing_health'), 'critical', 'batches: error rate 0.26 is critical');
select is(pg_temp.overall(), 'critical', 'overall: critical processing makes the system critical');
select pg_temp.set_batches(6, 3);
select is(pg_temp.status('processing_health'), 'healthy', 'batches: 9 messages are too few to judge (rate 0.33)');
select is(public.get_system_health() -> 'processing_health' -> 'batch_error_rate', '0.3333'::jsonb,
  'batches: the rate is still reported');
select pg_temp.set_batches(7, 3);
select is(pg_temp.status('processing_health'), 'critical', 'batches: 10 messages at rate 0.3 are critical');
update monitoring.health_thresholds set value = 20 where setting = 'processing_min_samples';
select is(pg_temp.status('processing_health'), 'healthy', 'batches: the minimum sample can be raised');
update monitoring.health_thresholds set value = 10 where setting = 'processing_min_samples';
select pg_temp.set_batches(100, 0);

-- The window: a failing batch 15 minutes old counts, one 1 second older does not.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp") values
  ('queue_processing', 1, '{"queue": "pgtap_health", "success_count": 0, "error_count": 50}',
   now() - interval '15 minutes' - interval '1 second');
select is(pg_temp.status('processing_health'), 'healthy', 'window: a batch older than 15 minutes is ignored');
update monitoring.pipeline_metrics set "timestamp" = now() - interval '15 minutes'
where metric_name = 'queue_processing' and tags ->> 'queue' = 'pgtap_health' and (tags ->> 'error_count') = '50';
select is(pg_temp.status('processing_health'), 'critical', 'window: a batch exactly 15 minutes old counts');
select is(public.get_system_health() -> 'processing_health' -> 'total_batches', '2'::jsonb, 'window: two batches now');
-- A malformed count does not break health, and does not count.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp") values
  ('queue_processing', 1, '{"queue": "pgtap_health", "success_count": "lots", "error_count": [1]}', now());
select lives_ok($$select public.get_system_health()$$, 'malformed counts do not break health');
select is(public.get_system_health() -> 'processing_health' -> 'batch_error_rate', '0.3333'::jsonb,
  'malformed counts are ignored (50 errors in 150 messages)');
delete from monitoring.pipeline_metrics where metric_name = 'queue_processing' and tags ->> 'queue' = 'pgtap_health';

-- ------------------------------------------------------------ processing: API calls
select pg_temp.set_api(20, 1);
select is(pg_temp.status('processing_health'), 'healthy', 'api: error rate 0.05 is healthy');
select pg_temp.set_api(20, 2);
select is(pg_temp.status('processing_health'), 'warning', 'api: error rate 0.10 is a warning');
select is(public.get_system_health() -> 'processing_health' -> 'api_error_rate', '0.1'::jsonb, 'api: rate reported');
select is(public.get_system_health() -> 'processing_health' -> 'api_calls', '20'::jsonb, 'api: calls counted');
update monitoring.health_thresholds set value = 0.15 where setting = 'api_error_rate_warning';
select is(pg_temp.status('processing_health'), 'healthy', 'api: the warning threshold can be raised');
update monitoring.health_thresholds set value = 0.05 where setting = 'api_error_rate_warning';
select pg_temp.set_api(20, 5);
select is(pg_temp.status('processing_health'), 'warning', 'api: error rate 0.25 is still a warning');
select pg_temp.set_api(20, 6);
select is(pg_temp.status('processing_health'), 'critical', 'api: error rate 0.30 is critical');
select pg_temp.set_api(9, 9);
select is(pg_temp.status('processing_health'), 'healthy', 'api: 9 calls are too few to judge');
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp") values
  ('api_call', 1, '{"api": "pgtap_health", "success": "unknown"}', now()),
  ('api_call', 1, '{"api": "pgtap_health"}', now());
select is(pg_temp.status('processing_health'), 'healthy', 'api: calls without a known outcome are not samples');
select is(public.get_system_health() -> 'processing_health' -> 'api_calls', '11'::jsonb,
  'api: but they are calls');
delete from monitoring.pipeline_metrics where metric_name = 'api_call' and tags ->> 'api' = 'pgtap_health';

-- ------------------------------------------------------------ worker health
select pg_temp.set_issues('info', 3);
select is(pg_temp.status('worker_health'), 'healthy', 'workers: info issues never alarm');
select pg_temp.set_issues('warning', 1);
select is(pg_temp.status('worker_health'), 'warning', 'workers: an open warning issue is a warning');
select is(pg_temp.overall(), 'warning', 'overall: a worker warning alone makes the system a warning');
update monitoring.worker_issues set resolved = true, resolved_at = now()
where worker_name = 'pgtap_health' and severity = 'warning';
select is(pg_temp.status('worker_health'), 'healthy', 'workers: resolved issues do not count');
select pg_temp.set_issues('error', 1);
select is(pg_temp.status('worker_health'), 'warning', 'workers: one open error issue is a warning');
select pg_temp.set_issues('error', 5);
select is(pg_temp.status('worker_health'), 'warning', 'workers: five open error issues are still a warning');
select pg_temp.set_issues('error', 6);
select is(pg_temp.status('worker_health'), 'critical', 'workers: six open error issues are critical');
select is(
  public.get_system_health() -> 'worker_health',
  '{"status": "critical", "open_issues": 9, "critical_issues": 0, "error_issues": 6,
    "warning_issues": 0, "info_issues": 3, "workers_reporting": 0, "silent_workers": 0, "closed_workers": 0,
    "silent_after_seconds": 300, "silent_worker_names": []}'::jsonb,
  'workers: open issues by severity');
select pg_temp.set_issues('error', 0);
select pg_temp.set_issues('critical', 1);
select is(pg_temp.status('worker_health'), 'critical', 'workers: one open critical issue is critical');
select pg_temp.set_issues('critical', 1, interval '24 hours' + interval '1 second');
select is(pg_temp.status('worker_health'), 'healthy', 'workers: an open issue older than 24 hours no longer counts');
select pg_temp.set_issues('critical', 1, interval '24 hours');
select is(pg_temp.status('worker_health'), 'critical', 'workers: one exactly 24 hours old still counts');
update monitoring.health_thresholds set value = 48 where setting = 'worker_issue_lookback_hours';
select pg_temp.set_issues('critical', 1, interval '30 hours');
select is(pg_temp.status('worker_health'), 'critical', 'workers: the lookback can be widened');
update monitoring.health_thresholds set value = 24 where setting = 'worker_issue_lookback_hours';

-- ------------------------------------------------------------ overall: the worst component
select pg_temp.set_issues('critical', 0);
select pg_temp.set_issues('warning', 1);
select pg_temp.set_stuck(3);
select pg_temp.set_api(20, 10);
select results_eq(
  $$select pg_temp.status('queue_health'), pg_temp.status('processing_health'),
           pg_temp.status('worker_health'), pg_temp.overall()$$,
  $$values ('warning', 'critical', 'warning', 'critical')$$,
  'overall: two warnings and a critical make critical');
select pg_temp.set_api(0, 0);
select results_eq(
  $$select pg_temp.status('queue_health'), pg_temp.status('processing_health'),
           pg_temp.status('worker_health'), pg_temp.overall()$$,
  $$values ('warning', 'healthy', 'warning', 'warning')$$,
  'overall: warnings and a healthy component make a warning');

-- ------------------------------------------------------------ a missing setting is an error, not a silent "healthy"
delete from monitoring.health_thresholds where setting = 'api_error_rate_critical';
select throws_ok($$select public.get_system_health()$$, 'P0002',
  'monitoring.health_thresholds lacks api_error_rate_critical', 'a missing threshold is reported by name');

select * from finish();
rollback;

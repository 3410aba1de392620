-- public.get_system_health() with the machinery checks: a fourth component,
-- cron_health, and worker heartbeats in worker_health.
--
-- Owns: public.get_system_health() (replaces the release's combiner,
-- 20261201001100; the component functions are unchanged).
--
-- Only the combiner changes. Every key of the release keeps its meaning:
-- * cron_health: new, from monitoring_internal.health_cron() (20261211000300).
-- * worker_health: the release's keys (open issues by severity) plus the keys of
--   monitoring_internal.health_heartbeats() (20261211000400: workers_reporting,
--   silent_workers, closed_workers, silent_after_seconds, silent_worker_names);
--   its status is the worse of the two.
-- * overall_status: the worst of the four components.
-- Still SECURITY INVOKER and service_role only: the cron readers behind
-- health_cron() are the SECURITY DEFINER functions, as queue_status() is for pgmq.

create or replace function public.get_system_health()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  v_queue      jsonb := monitoring_internal.health_queue();
  v_processing jsonb := monitoring_internal.health_processing();
  v_issues     jsonb := monitoring_internal.health_workers();
  v_beats      jsonb := monitoring_internal.health_heartbeats();
  v_cron       jsonb := monitoring_internal.health_cron();
  v_workers    jsonb;
begin
  v_workers := v_issues || (v_beats - 'status') || jsonb_build_object('status',
    monitoring_internal.health_worst_status(array[v_issues ->> 'status', v_beats ->> 'status']));
  return jsonb_build_object(
    'timestamp', now(),
    'overall_status', monitoring_internal.health_worst_status(array[
      v_queue ->> 'status', v_processing ->> 'status', v_workers ->> 'status', v_cron ->> 'status']),
    'queue_health', v_queue,
    'processing_health', v_processing,
    'worker_health', v_workers,
    'cron_health', v_cron);
end;
$$;

comment on function public.get_system_health() is
  'Queue, processing, worker (issues and heartbeats) and cron health with overall_status; '
  'thresholds in monitoring.health_thresholds.';

revoke all on function public.get_system_health() from public, anon, authenticated;
grant execute on function public.get_system_health() to service_role;

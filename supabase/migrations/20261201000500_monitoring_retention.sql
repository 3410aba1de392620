-- Data retention.
--
-- Owns: monitoring.purge_expired_metrics(timestamptz, integer) and the spec's
-- public.purge_old_monitoring_events(integer). Their cron jobs are in
-- 20261201001200_monitoring_cron_jobs.sql. (monitoring_internal's rollups are
-- pruned by monitoring_internal.refresh_rollups(), 20261201000800.)
--
-- Windows (a row is deleted when its time is strictly older than now - window):
--   monitoring.pipeline_metrics      "timestamp"     14 days  (spec)
--   monitoring.aggregated_metrics    period_start    hourly 90 days, daily 365 days (spec),
--                                                    weekly 3 years (our choice: a long trend
--                                                    costs one row per metric, dimension set and week)
--   monitoring.queue_snapshots       captured_at     14 days  (raw measurements, like pipeline_metrics)
--   monitoring.worker_issues         resolved_at     30 days after resolution, resolved issues only
--                                                    (created_at if resolved_at was never set);
--                                                    open issues are kept until someone resolves them
--   public.monitoring_events         created_at      30 days  (spec: purge_old_monitoring_events)
--
-- Deletes are index range scans (oldest first) and bounded per call
-- (p_batch_size rows per target, default 50 000): each run is a short
-- transaction that never touches the recent rows writers insert, and a backlog
-- drains over successive runs (the cron job runs every 15 minutes, far above
-- the ~30 000 raw rows an hour of a 10-million-row, 14-day table). Pass
-- p_batch_size => null to purge everything in one call.
-- Raw metrics go in statements of at most 5 000 rows. Measured with
-- benchmarks/sql_scale.py at 10 million raw rows: draining one expired day
-- (643 000 rows) with the cron job's calls (50 000 rows each, back to back)
-- raised a concurrent writer's p99 insert latency from 6.7 ms to 34.5 ms (5.2x,
-- target at most 5x) when each call was one 50 000-row DELETE, a burst of CPU
-- and WAL. The same calls made of 5 000-row statements: p99 15.9 ms against a
-- 7.8 ms baseline (2.0x), p50 unchanged within noise; the purge itself takes
-- about as long (1.8 s -> 3.8 s for the day, back to back).
-- A procedure committing between batches is not an option: Supabase's advisors
-- require `set search_path` on every routine, and a procedure with a SET
-- clause cannot COMMIT.

create or replace function monitoring.purge_expired_metrics(
  p_now        timestamptz default now(),
  p_batch_size integer     default 50000
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  c_chunk     constant integer := 5000;
  v_chunk     integer;
  v_n         bigint;
  v_raw       bigint;
  v_hourly    bigint;
  v_daily     bigint;
  v_weekly    bigint;
  v_snapshots bigint;
  v_issues    bigint;
begin
  if p_now is null then
    raise exception using errcode = '22004', message = 'p_now must not be null';
  end if;
  if p_batch_size is not null and p_batch_size < 1 then
    raise exception using errcode = '22023',
      message = format('p_batch_size must be at least 1 (or null for no limit), got %s', p_batch_size);
  end if;

  -- ctid = any(array(...)) deletes exactly the rows the index range scan picked.
  -- Raw metrics go in statements of at most c_chunk rows, oldest first, until
  -- p_batch_size rows are gone or none is left: a 50 000-row statement is a
  -- burst that stalls concurrent writers (see the header), 5 000-row ones are not.
  v_raw := 0;
  loop
    v_chunk := case when p_batch_size is null then c_chunk
                    else least(c_chunk, p_batch_size - v_raw) end;
    exit when v_chunk < 1;
    delete from monitoring.pipeline_metrics
    where ctid = any (array(
      select m.ctid from monitoring.pipeline_metrics as m
      where m."timestamp" < p_now - interval '14 days'
      order by m."timestamp"
      limit v_chunk));
    get diagnostics v_n = row_count;
    v_raw := v_raw + v_n;
    exit when v_n < v_chunk;
  end loop;

  delete from monitoring.aggregated_metrics
  where ctid = any (array(
    select a.ctid from monitoring.aggregated_metrics as a
    where a.period = 'hourly' and a.period_start < p_now - interval '90 days'
    order by a.period_start
    limit p_batch_size));
  get diagnostics v_hourly = row_count;

  delete from monitoring.aggregated_metrics
  where ctid = any (array(
    select a.ctid from monitoring.aggregated_metrics as a
    where a.period = 'daily' and a.period_start < p_now - interval '365 days'
    order by a.period_start
    limit p_batch_size));
  get diagnostics v_daily = row_count;

  delete from monitoring.aggregated_metrics
  where ctid = any (array(
    select a.ctid from monitoring.aggregated_metrics as a
    where a.period = 'weekly' and a.period_start < p_now - interval '3 years'
    order by a.period_start
    limit p_batch_size));
  get diagnostics v_weekly = row_count;

  delete from monitoring.queue_snapshots
  where ctid = any (array(
    select s.ctid from monitoring.queue_snapshots as s
    where s.captured_at < p_now - interval '14 days'
    order by s.captured_at
    limit p_batch_size));
  get diagnostics v_snapshots = row_count;

  delete from monitoring.worker_issues
  where ctid = any (array(
    select i.ctid from monitoring.worker_issues as i
    where i.resolved and coalesce(i.resolved_at, i.created_at) < p_now - interval '30 days'
    order by coalesce(i.resolved_at, i.created_at)
    limit p_batch_size));
  get diagnostics v_issues = row_count;

  return jsonb_build_object(
    'pipeline_metrics',   v_raw,
    'aggregated_hourly',  v_hourly,
    'aggregated_daily',   v_daily,
    'aggregated_weekly',  v_weekly,
    'queue_snapshots',    v_snapshots,
    'worker_issues',      v_issues
  );
end;
$$;

comment on function monitoring.purge_expired_metrics(timestamptz, integer) is
  'Deletes raw metrics (14 d), rollups (hourly 90 d, daily 365 d, weekly 3 y), queue snapshots (14 d) '
  'and resolved worker issues (30 d after resolution), at most p_batch_size rows per target; returns counts.';

-- The spec's function, with the retention window validated (0 or a negative
-- number would delete every event).
create or replace function public.purge_old_monitoring_events(retention_days integer default 30)
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  deleted_count integer;
begin
  if retention_days is null or retention_days < 1 then
    raise exception using errcode = '22023',
      message = format('retention_days must be at least 1, got %s', coalesce(retention_days::text, 'null'));
  end if;

  delete from public.monitoring_events
  where created_at < now() - make_interval(days => retention_days);

  get diagnostics deleted_count = row_count;
  return deleted_count;
end;
$$;

comment on function public.purge_old_monitoring_events(integer) is
  'Deletes monitoring events older than retention_days (default 30); returns how many.';

revoke all on function monitoring.purge_expired_metrics(timestamptz, integer) from public, anon, authenticated;
revoke all on function public.purge_old_monitoring_events(integer) from public, anon, authenticated;
grant execute on function monitoring.purge_expired_metrics(timestamptz, integer) to service_role;
grant execute on function public.purge_old_monitoring_events(integer) to service_role;

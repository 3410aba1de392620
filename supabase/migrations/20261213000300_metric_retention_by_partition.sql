-- Retention of raw metrics by partition: monitoring.purge_expired_metrics()
-- drops whole expired days of monitoring.pipeline_metrics instead of deleting
-- their rows.
--
-- Owns (replaces 20261201000500's): monitoring.purge_expired_metrics(timestamptz, integer).
--
-- What changes: a day partition leaves the table (DETACH, then DROP in the
-- next run) once its whole UTC day is older than 14 days
-- (monitoring_internal.drop_expired_metric_partitions, 20261213000100), so a
-- raw row lives at least 14 days and less than 15 in a day partition. The default partition (rows of days without a partition) and
-- the legacy range of an upgraded deployment keep 0.2.0's exact window, row by
-- row in 5 000-row statements, bounded by p_batch_size per call. The result
-- gains pipeline_metrics_partitions (detached: their rows are gone),
-- pipeline_metrics_partitions_skipped (their lock was busy for 100 ms: the
-- next run tries again) and pipeline_metrics_partitions_freed (tables an
-- earlier run detached, dropped now); pipeline_metrics still counts rows deleted one by one.
-- Everything else (rollups, snapshots, issues) is purged as before.
-- Measured with benchmarks/sql_scale.py --only purge: docs/performance-sql.md.

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
  v_parts     jsonb;
  v_part      record;
begin
  if p_now is null then
    raise exception using errcode = '22004', message = 'p_now must not be null';
  end if;
  if p_batch_size is not null and p_batch_size < 1 then
    raise exception using errcode = '22023',
      message = format('p_batch_size must be at least 1 (or null for no limit), got %s', p_batch_size);
  end if;

  -- Raw metrics: rows the partitions do not drop whole (the default
  -- partition's strays, the upgrade's legacy range) go as in 0.2.0, oldest
  -- first in statements of at most c_chunk rows until p_batch_size rows are
  -- gone or none is left. Through the parent, so the change-tracking triggers
  -- see them; restricted by tableoid (a ctid is only unique within one
  -- partition), so no other partition loses a row. Whole expired days are
  -- dropped last (below).
  v_raw := 0;
  for v_part in
    select p.partition
    from monitoring_internal.metric_partitions() as p
    where p.is_default
       or (p.range_start < p_now - interval '14 days' and p.range_end > p.range_start + interval '1 day')
  loop
    loop
      v_chunk := case when p_batch_size is null then c_chunk
                      else least(c_chunk, p_batch_size - v_raw) end;
      exit when v_chunk < 1;
      execute format(
        'delete from monitoring.pipeline_metrics as m '
        'where m.tableoid = $1 and m."timestamp" < $2 and m.ctid = any (array('
        '  select r.ctid from %s as r where r."timestamp" < $2 order by r."timestamp" limit $3))',
        v_part.partition)
        using v_part.partition, p_now - interval '14 days', v_chunk;
      get diagnostics v_n = row_count;
      v_raw := v_raw + v_n;
      exit when v_n < v_chunk;
    end loop;
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

  -- Last: detaching a partition holds ACCESS EXCLUSIVE on pipeline_metrics
  -- until this transaction commits, so nothing else may run after it (writers
  -- wait for the detach itself only; measured in docs/performance-sql.md).
  v_parts := monitoring_internal.drop_expired_metric_partitions(p_now);

  return jsonb_build_object(
    'pipeline_metrics',   v_raw,
    'pipeline_metrics_partitions',         v_parts -> 'detached',
    'pipeline_metrics_partitions_skipped', v_parts -> 'skipped',
    'pipeline_metrics_partitions_freed',   v_parts -> 'dropped',
    'aggregated_hourly',  v_hourly,
    'aggregated_daily',   v_daily,
    'aggregated_weekly',  v_weekly,
    'queue_snapshots',    v_snapshots,
    'worker_issues',      v_issues
  );
end;
$$;

comment on function monitoring.purge_expired_metrics(timestamptz, integer) is
  'Drops day partitions of raw metrics older than 14 days (default/legacy partition rows one by one), '
  'deletes rollups (hourly 90 d, daily 365 d, weekly 3 y), queue snapshots (14 d) and resolved worker '
  'issues (30 d after resolution), at most p_batch_size rows per target; returns counts.';

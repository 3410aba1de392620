-- monitoring.ingest_metrics(): a columnar bulk insert into monitoring.pipeline_metrics.
--
-- The SDK's background writer sends a batch of metric rows as one array per
-- column instead of an array of objects: PostgREST's bulk insert parses every
-- row's keys again (json_populate_recordset) and the client must repeat them
-- in every row. Measured through nginx + PostgREST 12 on the local stack
-- (benchmarks/ingest.py, 5,000-row batches): see README "Ingestion".
--
-- Event times travel as whole microseconds since the Unix epoch (bigint): the
-- client then never formats a timestamp, and the conversion below is exact
-- (seconds and the remaining microseconds are added separately, so no
-- double precision rounding happens at any date).
--
-- Same guarantees as the table insert: the client generates the ids, and
-- ON CONFLICT (id) DO NOTHING makes a retried batch harmless (the function
-- returns how many rows were new). One statement per call, so a refused row
-- fails the whole call and the client isolates it by splitting the batch. The
-- statement-level change-tracking triggers of 20261127100200 fire as for any
-- insert. Other writers keep inserting into the table directly.
--
-- SECURITY INVOKER: the caller needs INSERT on the table anyway (service_role
-- has it), so the function grants nothing the table does not. It runs after
-- the access sweep of 20261127001000, so it revokes and grants its own EXECUTE.

create function monitoring.ingest_metrics(
  p_ids             uuid[],
  p_metric_names    text[],
  p_metric_values   double precision[],
  p_tags            jsonb[],
  p_timestamps_us   bigint[]
)
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows     integer := coalesce(cardinality(p_ids), 0);
  v_inserted integer;
begin
  if coalesce(cardinality(p_metric_names), 0) <> v_rows
     or coalesce(cardinality(p_metric_values), 0) <> v_rows
     or coalesce(cardinality(p_tags), 0) <> v_rows
     or coalesce(cardinality(p_timestamps_us), 0) <> v_rows then
    raise exception 'ingest_metrics: every array must have one element per row'
      using errcode = 'invalid_parameter_value',
            detail = format('ids %s, metric_names %s, metric_values %s, tags %s, timestamps_us %s',
              v_rows, cardinality(p_metric_names), cardinality(p_metric_values),
              cardinality(p_tags), cardinality(p_timestamps_us));
  end if;

  insert into monitoring.pipeline_metrics (id, metric_name, metric_value, tags, "timestamp")
  select r.id, r.metric_name, r.metric_value, r.tags,
         to_timestamp(r.us / 1000000) + (r.us % 1000000) * interval '1 microsecond'
  from unnest(p_ids, p_metric_names, p_metric_values, p_tags, p_timestamps_us)
    as r(id, metric_name, metric_value, tags, us)
  on conflict (id) do nothing;
  get diagnostics v_inserted = row_count;
  return v_inserted;
end;
$$;

comment on function monitoring.ingest_metrics(uuid[], text[], double precision[], jsonb[], bigint[]) is
  'Columnar bulk insert into pipeline_metrics (one array per column, times in epoch microseconds); '
  'ON CONFLICT (id) DO NOTHING; returns the number of new rows.';

revoke all on function monitoring.ingest_metrics(uuid[], text[], double precision[], jsonb[], bigint[])
  from public, anon, authenticated;
grant execute on function monitoring.ingest_metrics(uuid[], text[], double precision[], jsonb[], bigint[])
  to service_role;

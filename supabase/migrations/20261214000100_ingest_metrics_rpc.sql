-- monitoring.ingest_metrics(): a columnar bulk insert into monitoring.pipeline_metrics.
--
-- The SDK's background writer sends a batch of metric rows as one array per
-- column instead of an array of objects, and each distinct series (metric name
-- + tags, usually a handful per batch) once, with a per-row index into it. What
-- that saves, measured through nginx + PostgREST 12 on the local stack with
-- 5,000-row batches: Postgres parses JSON slowly (its lexer walks every
-- character; a jsonb[] element is lexed twice), and per row the table insert's
-- body repeats every key and a ~45-character tags object. Server CPU per row
-- (Postgres + PostgREST) went from ~26 us for the bulk table insert to ~18 us,
-- next to ~16 us for COPY of the same rows (benchmarks/ingest.py; README
-- "Ingestion" has the end-to-end figures).
--
-- Event times travel as whole microseconds since the Unix epoch (bigint): the
-- client never formats a timestamp, and the conversion below is exact at any
-- date (whole seconds and the remaining microseconds are added separately, so
-- no double precision rounding happens).
--
-- Same guarantees as the table insert: the client generates ids and times
-- once, and ON CONFLICT (id, "timestamp") DO NOTHING (the primary key since
-- 20261213000200) makes a retried batch harmless (the function returns how
-- many rows were new). One statement per call, so a refused row
-- fails the whole call and the client isolates it by splitting the batch. The
-- statement-level change-tracking triggers on pipeline_metrics fire as for any
-- insert. Other writers keep inserting into the table directly.
--
-- SECURITY INVOKER: the caller needs INSERT on the table anyway (service_role
-- has it), so the function grants nothing the table does not. It is created
-- after the release's access sweep, so it revokes and grants its own EXECUTE.

create function monitoring.ingest_metrics(
  p_ids            uuid[],
  p_series         integer[],
  p_values         double precision[],
  p_timestamps_us  bigint[],
  p_series_names   text[],
  p_series_tags    jsonb[]
)
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows     integer := coalesce(cardinality(p_ids), 0);
  v_series   integer := coalesce(cardinality(p_series_names), 0);
  v_inserted integer;
begin
  if coalesce(cardinality(p_series), 0) <> v_rows
     or coalesce(cardinality(p_values), 0) <> v_rows
     or coalesce(cardinality(p_timestamps_us), 0) <> v_rows
     or coalesce(cardinality(p_series_tags), 0) <> v_series then
    raise exception 'ingest_metrics: ids, series, values and timestamps_us need one element per row, '
                    'series_names and series_tags one per series'
      using errcode = 'invalid_parameter_value',
            detail = format('ids %s, series %s, values %s, timestamps_us %s, series_names %s, series_tags %s',
              v_rows, cardinality(p_series), cardinality(p_values), cardinality(p_timestamps_us),
              v_series, cardinality(p_series_tags));
  end if;
  if exists (select from unnest(p_series) as s(i) where i is null or i < 1 or i > v_series) then
    raise exception 'ingest_metrics: a series index is outside 1..%', v_series
      using errcode = 'invalid_parameter_value';
  end if;

  insert into monitoring.pipeline_metrics (id, metric_name, metric_value, tags, "timestamp")
  select r.id, p_series_names[r.series], r.value, p_series_tags[r.series],
         to_timestamp(r.us / 1000000) + (r.us % 1000000) * interval '1 microsecond'
  from unnest(p_ids, p_series, p_values, p_timestamps_us) as r(id, series, value, us)
  on conflict (id, "timestamp") do nothing;
  get diagnostics v_inserted = row_count;
  return v_inserted;
end;
$$;

comment on function monitoring.ingest_metrics(uuid[], integer[], double precision[], bigint[], text[], jsonb[]) is
  'Columnar bulk insert into pipeline_metrics: per row an id, a series index, a value and epoch '
  'microseconds; per series a metric name and tags. ON CONFLICT (id, "timestamp") DO NOTHING; returns the new rows.';

revoke all on function monitoring.ingest_metrics(uuid[], integer[], double precision[], bigint[], text[], jsonb[])
  from public, anon, authenticated;
grant execute on function monitoring.ingest_metrics(uuid[], integer[], double precision[], bigint[], text[], jsonb[])
  to service_role;

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
-- Per row the body carries only a series index, a value and the event time;
-- ids and event times take the forms that cost the client least (its writer
-- thread's CPU per row is the figure issue 15 counts):
--
-- * Ids: a batch's ids are consecutive "monotonic random" UUIDv7s (RFC 9562),
--   so the client sends their common first 24 characters and the 48-bit value
--   of the first one's last group (p_id_prefix, p_id_start); row k's id is the
--   prefix and p_id_start + k - 1 as 12 hex digits. A retried batch sends the
--   same pair, a split half its own start: the same ids. Rows that came with
--   ids of their own are sent as p_ids, one per row, instead.
-- * Event times: epoch seconds as the client's clock gave them (p_times_s,
--   double precision); the microsecond is trunc(t * 1e6), the very arithmetic
--   the client uses for the ISO text of its bulk-insert fallback (IEEE
--   multiplication, both sides), and JSON carries a double exactly. Rows whose
--   caller gave a datetime travel as exact whole microseconds (p_times_us) with
--   a null in p_times_s: exact at any date, no double rounding. Whole seconds
--   and the remaining microseconds are added separately for the same reason.
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
  p_series         integer[],
  p_values         double precision[],
  p_times_s        double precision[],
  p_series_names   text[],
  p_series_tags    jsonb[],
  p_times_us       bigint[] default null,
  p_id_prefix      text     default null,
  p_id_start       bigint   default null,
  p_ids            uuid[]   default null
)
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows     integer := coalesce(cardinality(p_series), 0);
  v_series   integer := coalesce(cardinality(p_series_names), 0);
  v_inserted integer;
begin
  if coalesce(cardinality(p_values), 0) <> v_rows
     or coalesce(cardinality(p_times_s), 0) <> v_rows
     or (p_times_us is not null and cardinality(p_times_us) <> v_rows)
     or (p_ids is not null and cardinality(p_ids) <> v_rows)
     or coalesce(cardinality(p_series_tags), 0) <> v_series then
    raise exception 'ingest_metrics: series, values, times_s (and times_us, ids when given) need one '
                    'element per row, series_names and series_tags one per series'
      using errcode = 'invalid_parameter_value',
            detail = format('series %s, values %s, times_s %s, times_us %s, ids %s, series_names %s, series_tags %s',
              v_rows, cardinality(p_values), cardinality(p_times_s), cardinality(p_times_us),
              cardinality(p_ids), v_series, cardinality(p_series_tags));
  end if;
  if (p_ids is null) = (p_id_prefix is null or p_id_start is null)
     or (p_id_prefix is not null and p_id_prefix !~ '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-$')
     or (p_id_start is not null and (p_id_start < 0 or p_id_start + v_rows > 281474976710656)) then
    raise exception 'ingest_metrics: give either p_ids or p_id_prefix (24 characters of a UUIDv7) and '
                    'p_id_start (the 48-bit last group of the first id, with room for every row)'
      using errcode = 'invalid_parameter_value';
  end if;
  if exists (select from unnest(p_series) as s(i) where i is null or i < 1 or i > v_series) then
    raise exception 'ingest_metrics: a series index is outside 1..%', v_series
      using errcode = 'invalid_parameter_value';
  end if;

  insert into monitoring.pipeline_metrics (id, metric_name, metric_value, tags, "timestamp")
  select coalesce(p_ids[r.n], (p_id_prefix || lpad(to_hex(p_id_start + r.n - 1), 12, '0'))::uuid),
         p_series_names[r.series], r.value, p_series_tags[r.series],
         to_timestamp(r.us / 1000000) + (r.us % 1000000) * interval '1 microsecond'
  from (
    select t.n, t.series, t.value,
           coalesce(trunc(t.s * 1000000::double precision)::bigint, p_times_us[t.n]) as us
    from unnest(p_series, p_values, p_times_s) with ordinality as t(series, value, s, n)
  ) as r
  on conflict (id, "timestamp") do nothing;
  get diagnostics v_inserted = row_count;
  return v_inserted;
end;
$$;

comment on function monitoring.ingest_metrics(integer[], double precision[], double precision[], text[], jsonb[], bigint[], text, bigint, uuid[]) is
  'Columnar bulk insert into pipeline_metrics: per row a series index, a value and an event time (epoch seconds, '
  'or exact microseconds); per series a metric name and tags; ids from a prefix and start, or one per row. '
  'ON CONFLICT (id, "timestamp") DO NOTHING; returns the new rows.';

revoke all on function monitoring.ingest_metrics(integer[], double precision[], double precision[], text[], jsonb[], bigint[], text, bigint, uuid[])
  from public, anon, authenticated;
grant execute on function monitoring.ingest_metrics(integer[], double precision[], double precision[], text[], jsonb[], bigint[], text, bigint, uuid[])
  to service_role;

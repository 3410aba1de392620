-- monitoring.ingest_metrics(): the SDK's columnar bulk insert. Who may call it,
-- that rows land exactly once (a retried batch adds nothing) with their series'
-- name and tags, that ids given as a block and event times given as epoch
-- seconds are spelled out as the client names them, that exact microseconds
-- survive at any date, that a bad row or a malformed call fails the whole call (so the
-- client can isolate the row), and that the change-tracking triggers see its
-- rows like any insert. Test rows use their own metric names and fresh ids, so
-- other data in the database does not matter.
begin;
create extension if not exists pgtap with schema extensions;
select plan(27);

-- ------------------------------------------------------------ definition and access
select function_returns('monitoring', 'ingest_metrics',
  array['integer[]', 'double precision[]', 'double precision[]', 'text[]', 'jsonb[]', 'bigint[]', 'text', 'bigint', 'uuid[]'], 'integer',
  'ingest_metrics(series, values, epoch seconds, series names, series tags, exact microseconds, id prefix, id start, ids) returns the new rows');
select isnt_definer('monitoring', 'ingest_metrics',
  array['integer[]', 'double precision[]', 'double precision[]', 'text[]', 'jsonb[]', 'bigint[]', 'text', 'bigint', 'uuid[]'],
  'ingest_metrics is SECURITY INVOKER: it grants nothing the table does not');
select is((select p.proconfig from pg_proc as p
           where p.oid = 'monitoring.ingest_metrics(integer[], double precision[], double precision[], text[], jsonb[], bigint[], text, bigint, uuid[])'::regprocedure),
  array['search_path=""'], 'ingest_metrics pins an empty search_path');
select function_privs_are('monitoring', 'ingest_metrics',
  array['integer[]', 'double precision[]', 'double precision[]', 'text[]', 'jsonb[]', 'bigint[]', 'text', 'bigint', 'uuid[]'],
  r, array[]::text[], format('%s cannot execute ingest_metrics', r))
from unnest(array['anon', 'authenticated']) as r;
select function_privs_are('monitoring', 'ingest_metrics',
  array['integer[]', 'double precision[]', 'double precision[]', 'text[]', 'jsonb[]', 'bigint[]', 'text', 'bigint', 'uuid[]'],
  'service_role', array['EXECUTE'], 'service_role executes ingest_metrics');
select ok(not exists (
    select 1 from pg_proc as p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
    where p.oid = 'monitoring.ingest_metrics(integer[], double precision[], double precision[], text[], jsonb[], bigint[], text, bigint, uuid[])'::regprocedure
      and a.grantee = 0),
  'PUBLIC cannot execute ingest_metrics');

-- ------------------------------------------------------------ exactly once
create temp table pgtap_ingest_ids on commit drop as
select g as k, gen_random_uuid() as id from generate_series(1, 4) as g;
-- Event times as a caller's datetimes travel (exact microseconds): now, and the
-- extremes a timestamptz column holds.
create temp table pgtap_ingest_times on commit drop as
select v.k, v.ts, (extract(epoch from v.ts) * 1000000)::bigint as us
from (values (1, date_trunc('second', now()) + interval '0.123456 second'),
             (2, timestamptz '1969-12-31 23:59:59.999999+00'),
             (3, timestamptz '0001-01-01 00:00:00.000001+00'),
             (4, timestamptz '9999-12-31 23:59:59.999999+00')) as v(k, ts);
grant select on pgtap_ingest_ids, pgtap_ingest_times to service_role;

set local role service_role;
-- Four rows in two series, one id per row; the api_call one is what the change tracking reads.
select is(monitoring.ingest_metrics(
    array[1, 2, 2, 2], array[1.5, 2, 3, 4]::double precision[], array[null, null, null, null]::double precision[],
    array['api_call', 'pgtap_ingest'], array['{"api": "pgtap_ingest_api", "success": "true"}', '{"n": 1}']::jsonb[],
    p_times_us => array(select us from pgtap_ingest_times order by k),
    p_ids => array(select id from pgtap_ingest_ids order by k)),
  4, 'service_role ingests a batch: every row is new');
select is(monitoring.ingest_metrics(
    array[1, 2, 2, 2], array[1.5, 2, 3, 4]::double precision[], array[null, null, null, null]::double precision[],
    array['api_call', 'pgtap_ingest'], array['{"api": "pgtap_ingest_api", "success": "true"}', '{"n": 1}']::jsonb[],
    p_times_us => array(select us from pgtap_ingest_times order by k),
    p_ids => array(select id from pgtap_ingest_ids order by k)),
  0, 'the same batch sent again (a retry) adds nothing');
select is(monitoring.ingest_metrics(
    array[1, 1], array[20, 5]::double precision[], array[null, 0]::double precision[],
    array['pgtap_ingest'], array['{}']::jsonb[],
    p_times_us => array[(select us from pgtap_ingest_times where k = 2), null]::bigint[],
    p_ids => array[(select id from pgtap_ingest_ids where k = 2), gen_random_uuid()]),
  1, 'a batch overlapping one already written (same id and time: the key) adds only its new rows');
reset role;

select results_eq(
  $$select i.k, m.metric_name, m.metric_value, m.tags, m."timestamp"
    from pgtap_ingest_ids as i join monitoring.pipeline_metrics as m using (id) order by i.k$$,
  $$select i.k, v.name, v.value, v.tags::jsonb, t.ts
    from pgtap_ingest_ids as i
    join (values (1, 'api_call', 1.5::double precision, '{"api": "pgtap_ingest_api", "success": "true"}'),
                 (2, 'pgtap_ingest', 2, '{"n": 1}'), (3, 'pgtap_ingest', 3, '{"n": 1}'), (4, 'pgtap_ingest', 4, '{"n": 1}'))
      as v(k, name, value, tags) using (k)
    join pgtap_ingest_times as t using (k) order by i.k$$,
  'each row is stored once with its series'' name and tags, its value and its exact event time to the microsecond '
  '(before 1970, year 1, year 9999)');
select is((select count(*)::integer from monitoring.pipeline_metrics where metric_name = 'pgtap_ingest'), 4,
  'four pgtap_ingest rows in all: three from the first batch, one from the overlapping one');

-- The usual batch: ids as a block, times as the client's epoch-second floats.
-- The expected microseconds are Python's int(t * 1_000_000) of the same floats.
set local role service_role;
select is(monitoring.ingest_metrics(
    array[1, 1, 1], array[7, 8, 9]::double precision[],
    array[1764633600.1234567, -1.2345674, 1000000000.000001]::double precision[],
    array['pgtap_ingest_block'], array['{"b": true}']::jsonb[],
    p_id_prefix => '0190a6c2-1111-7abc-9def-', p_id_start => 281474976710653),
  3, 'a block of ids (prefix and start) ingests one row per element');
select is(monitoring.ingest_metrics(
    array[1], array[8]::double precision[], array[-1.2345674]::double precision[],
    array['pgtap_ingest_block'], array['{"b": true}']::jsonb[],
    p_id_prefix => '0190a6c2-1111-7abc-9def-', p_id_start => 281474976710654),
  0, 'a split half resent with its own start names the same row: nothing added');
reset role;
select results_eq(
  $$select id::text, metric_value, "timestamp" from monitoring.pipeline_metrics
    where metric_name = 'pgtap_ingest_block' order by metric_value$$,
  $$values ('0190a6c2-1111-7abc-9def-fffffffffffd', 7::double precision, timestamptz '2025-12-02 00:00:00.123456+00'),
           ('0190a6c2-1111-7abc-9def-fffffffffffe', 8, timestamptz '1969-12-31 23:59:58.765433+00'),
           ('0190a6c2-1111-7abc-9def-ffffffffffff', 9, timestamptz '2001-09-09 01:46:40.000001+00')$$,
  'block ids are the prefix and start + row - 1 in 12 hex digits; epoch seconds become trunc(t * 1e6) microseconds');

-- ------------------------------------------------------------ change tracking
select ok(exists (select 1 from monitoring_internal.rollup_changes as c, pgtap_ingest_times as t
                  where t.k = 1 and c.xid = pg_current_xact_id()
                    and c.minute = date_bin(interval '1 minute', t.ts, timestamptz '2000-01-01 00:00+00')),
  'the change-tracking trigger records the minute of an api_call row ingested through the RPC');

-- ------------------------------------------------------------ refused calls
set local role service_role;
select throws_ok(
  $$select monitoring.ingest_metrics(array[1], array[1, 2]::double precision[], array[0, 0]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[], p_ids => array[gen_random_uuid(), gen_random_uuid()])$$,
  '22023', null, 'per-row arrays of different lengths are refused');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1], array[1]::double precision[], array[0]::double precision[],
      array['pgtap_ingest_bad'], array['{}', '{}']::jsonb[], p_ids => array[gen_random_uuid()])$$,
  '22023', null, 'series names and tags of different lengths are refused');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1], array[1]::double precision[], array[0]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[])$$,
  '22023', null, 'a call without ids is refused');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1], array[1]::double precision[], array[0]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[], p_ids => array[gen_random_uuid()],
      p_id_prefix => '0190a6c2-1111-7abc-9def-', p_id_start => 0)$$,
  '22023', null, 'a call with both forms of ids is refused');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1], array[1]::double precision[], array[0]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[], p_id_prefix => '0190a6c2-1111-4abc-9def-', p_id_start => 0)$$,
  '22023', null, 'an id prefix that is not a UUIDv7''s is refused');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1, 1], array[1, 2]::double precision[], array[0, 0]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[], p_id_prefix => '0190a6c2-1111-7abc-9def-',
      p_id_start => 281474976710655)$$,
  '22023', null, 'a block start without room for every row (the 12 hex digits would overflow) is refused');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1, 2], array[1, 2]::double precision[], array[0, 0]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[], p_ids => array[gen_random_uuid(), gen_random_uuid()])$$,
  '22023', 'ingest_metrics: a series index is outside 1..1', 'a series index beyond the series is refused');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1, 2], array[1, 2]::double precision[], array[0, 0]::double precision[],
      array['pgtap_ingest_bad', 'pgtap_ingest_bad'], array['{}', '[1]']::jsonb[],
      p_ids => array[gen_random_uuid(), gen_random_uuid()])$$,
  '23514', null, 'a row breaking a table constraint (tags not an object) fails the whole call');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1, 1], array[1, 2]::double precision[], array[0, 0]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[], p_ids => array[gen_random_uuid(), null])$$,
  '23502', null, 'a row without an id fails the whole call');
select throws_ok(
  $$select monitoring.ingest_metrics(array[1, 1], array[1, 2]::double precision[], array[0, null]::double precision[],
      array['pgtap_ingest_bad'], array['{}']::jsonb[], p_ids => array[gen_random_uuid(), gen_random_uuid()])$$,
  '23502', null, 'a row without an event time fails the whole call');
reset role;
select is((select count(*)::integer from monitoring.pipeline_metrics where metric_name = 'pgtap_ingest_bad'), 0,
  'a refused call writes none of its rows');

select * from finish();
rollback;

-- monitoring.queue_metrics and monitoring.api_metrics with malformed tags:
-- a non-numeric, fractional, negative, huge, boolean or object count in one
-- row must not make the view fail, and must not count. Each test row has its
-- own queue / api name, so other data in the database does not matter.
begin;
create extension if not exists pgtap with schema extensions;
select plan(12);

-- Two hours ago (UTC hour), plus some seconds: all rows of a group share an hour.
create temp table pgtap_hour on commit drop as
  select date_trunc('hour', now(), 'UTC') - interval '2 hours' as h;

insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_processing', v.value, v.tags, h + v.offs
from pgtap_hour, (values
  (100, '{"queue": "pgtap_view_q", "success_count": 5, "error_count": 1, "batch_size": 6}'::jsonb, interval '1 minute'),
  (200, '{"queue": "pgtap_view_q", "success_count": "abc", "error_count": 2, "batch_size": "4"}', interval '2 minutes'),
  (300, '{"queue": "pgtap_view_q", "success_count": 1e30, "error_count": {"x": 1}}', interval '3 minutes'),
  (400, '{"queue": "pgtap_view_q", "success_count": 3.5, "error_count": -1, "batch_size": true}', interval '4 minutes'),
  (500, '{"queue": "pgtap_view_q", "success_count": " 7 ", "error_count": 0}', interval '5 minutes'),
  (600, '{"queue": "pgtap_view_q", "success_count": 2.0, "error_count": "12345678901", "batch_size": null}', interval '6 minutes'),
  -- the previous hour, and outside the 7-day window, and another metric
  (50,  '{"queue": "pgtap_view_q", "success_count": 1, "error_count": 0, "batch_size": 1}', interval '-30 minutes'),
  (70,  '{"queue": "pgtap_view_q", "success_count": 1, "error_count": 0}', interval '-8 days')
) as v(value, tags, offs);
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call', 999, '{"queue": "pgtap_view_q", "success_count": 1}', h + interval '1 minute' from pgtap_hour;

select lives_ok($$select * from monitoring.queue_metrics$$, 'queue_metrics never fails on malformed tags');

select results_eq(
  $$select hour, total_batches, success_count, error_count, avg_processing_time_ms, total_messages_processed
    from monitoring.queue_metrics where queue_name = 'pgtap_view_q' order by hour desc$$,
  $$select h, 6::bigint, 14::bigint, 3::bigint, 350::double precision, 17::bigint from pgtap_hour
    union all
    select h - interval '1 hour', 1::bigint, 1::bigint, 0::bigint, 50::double precision, 1::bigint from pgtap_hour$$,
  'well-formed counts are summed (numbers, digit strings, whole floats), malformed ones ignored; '
  'batch_size falls back to success_count + error_count; hours are UTC; only the last 7 days');

select results_eq(
  $$select queue_name, hour from monitoring.queue_metrics where queue_name = 'pgtap_view_q'$$,
  $$select 'pgtap_view_q', h from pgtap_hour union all select 'pgtap_view_q', h - interval '1 hour' from pgtap_hour$$,
  'rows come newest hour first within a queue');

-- The spec's cast would have failed on the same data:
select throws_ok(
  $$select sum((tags->>'success_count')::integer) from monitoring.pipeline_metrics
    where metric_name = 'queue_processing' and tags ->> 'queue' = 'pgtap_view_q'
      and tags ->> 'success_count' = 'abc'$$,
  '22P02', null, 'the spec''s plain cast would have broken the view for everyone');

-- ------------------------------------------------------------ api_metrics
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call', v.value, v.tags, h + v.offs
from pgtap_hour, (values
  (100, '{"api": "pgtap_view_api", "success": "true"}'::jsonb, interval '1 minute'),
  (200, '{"api": "pgtap_view_api", "success": true}',            interval '2 minutes'),
  (300, '{"api": "pgtap_view_api", "success": "false"}',         interval '3 minutes'),
  (400, '{"api": "pgtap_view_api", "success": "maybe"}',         interval '4 minutes'),
  (500, '{"api": "pgtap_view_api", "success": {"nested": 1}}',   interval '5 minutes'),
  (600, '{"api": "pgtap_view_api"}',                             interval '6 minutes'),
  (700, '{"api": "pgtap_view_api", "success": false}',           interval '7 minutes')
) as v(value, tags, offs);
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call', 10, '{"api": "pgtap_view_api", "success": "true"}', h - interval '8 days' from pgtap_hour;

select lives_ok($$select * from monitoring.api_metrics$$, 'api_metrics never fails on malformed tags');
select results_eq(
  $$select hour, total_calls, success_count, error_count, avg_success_time_ms, round(p95_time_ms::numeric, 6)
    from monitoring.api_metrics where api_name = 'pgtap_view_api'$$,
  $$select h, 7::bigint, 2::bigint, 2::bigint, 150::double precision, 670::numeric from pgtap_hour$$,
  'success "true" and true count as successes, "false" and false as errors, anything else as neither; '
  'p95 over all calls of the hour');

-- ------------------------------------------------------------ shape
select is(
  array(select attname || ' ' || format_type(atttypid, atttypmod) from pg_attribute
        where attrelid = 'monitoring.queue_metrics'::regclass and attnum > 0 order by attnum),
  array['queue_name text', 'hour timestamp with time zone', 'total_batches bigint', 'success_count bigint',
        'error_count bigint', 'avg_processing_time_ms double precision', 'total_messages_processed bigint'],
  'queue_metrics has the spec''s columns, in order, with the spec''s types');
select is(
  array(select attname || ' ' || format_type(atttypid, atttypmod) from pg_attribute
        where attrelid = 'monitoring.api_metrics'::regclass and attnum > 0 order by attnum),
  array['api_name text', 'hour timestamp with time zone', 'total_calls bigint', 'success_count bigint',
        'error_count bigint', 'avg_success_time_ms double precision', 'p95_time_ms double precision'],
  'api_metrics has the spec''s columns, in order, with the spec''s types');

-- ------------------------------------------------------------ index use over the recent window
-- Seq scans disabled: on a small test table the planner would rightly prefer one.
set local enable_seqscan = off;
create temp table pgtap_plans (view_name text, plan text) on commit drop;
do $$
declare
  v text;
  line text;
begin
  foreach v in array array['monitoring.queue_metrics', 'monitoring.api_metrics'] loop
    for line in execute format('explain select * from %s', v) loop
      insert into pgtap_plans values (v, line);
    end loop;
  end loop;
end;
$$;
reset enable_seqscan;
-- Which index, and whether through an Index, Index Only or Bitmap Index Scan,
-- is the planner's choice between equally good plans (it changes with the data
-- a database already holds); what matters is that the raw rows the views read
-- are reached through an index on pipeline_metrics, never a full table scan.
-- With seq scans disabled, a Seq Scan still appears when no index can serve
-- the filter, so its absence is the assertion.
select ok(exists (select 1 from pgtap_plans where view_name = 'monitoring.queue_metrics'
                  and plan ~ '(Index (Only )?Scan using|Bitmap Index Scan on) pipeline_metrics_\w+')
          and not exists (select 1 from pgtap_plans where view_name = 'monitoring.queue_metrics'
                          and plan ~ 'Seq Scan on pipeline_metrics'),
  'queue_metrics reads raw rows through an index on pipeline_metrics, never a full scan');
select ok(exists (select 1 from pgtap_plans where view_name = 'monitoring.api_metrics'
                  and plan ~ '(Index (Only )?Scan using|Bitmap Index Scan on) pipeline_metrics_\w+')
          and not exists (select 1 from pgtap_plans where view_name = 'monitoring.api_metrics'
                          and plan ~ 'Seq Scan on pipeline_metrics'),
  'api_metrics reads raw rows through an index on pipeline_metrics, never a full scan');

-- ------------------------------------------------------------ service_role reads them
set local role service_role;
select lives_ok($$select * from monitoring.queue_metrics limit 1$$, 'service_role can read queue_metrics');
select lives_ok($$select * from monitoring.api_metrics limit 1$$, 'service_role can read api_metrics');
reset role;

select * from finish();
rollback;

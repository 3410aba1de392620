-- Queue depth history (20261211000200): monitoring.record_queue_depths() writes
-- each queue's state as queue_* metrics, from snapshots and from pgmq;
-- counts are bounded by queue_depth_count_cap and flagged approximate beyond
-- it; monitoring.queue_depth_hourly and monitoring.queue_depth_trend() read
-- the history back.
--
-- pgmq cannot be installed here: as in 05_queue_monitoring.sql, a STAND-IN
-- `pgmq` schema is created inside this transaction (rolled back) that names
-- its tables as pgmq 1.4.4/1.5.1 do (pgmq.format_table_name: lower(prefix ||
-- '_' || name), quoted with %I): pgmq.meta keeps the name as created, each
-- queue has pgmq.q_<lower> (msg_id, read_ct, enqueued_at, vt, message) and
-- pgmq.a_<lower> (the same plus archived_at). It is not pgmq; it only holds
-- what the recorder reads. Queue names: mixed case and dashes included.
-- now() is constant inside the transaction; every row this test writes is
-- stamped with it or tagged with a pgtap_ queue, so existing data does not matter.
begin;
create extension if not exists pgtap with schema extensions;
select plan(23);

select is(to_regclass('pgmq.meta'), null, 'precondition: no pgmq in this database');

create function pg_temp.recorded(p_queue text) returns table (metric text, value double precision, tags jsonb)
language sql as $$
  select m.metric_name, m.metric_value, m.tags from monitoring.pipeline_metrics as m
  where m."timestamp" = now() and m.metric_name like 'queue\_%' and m.tags ->> 'queue' = p_queue
  order by m.metric_name
$$;

-- ------------------------------------------------------------ 1. snapshots only
insert into monitoring.queue_snapshots (queue_name, queue_length, stuck_messages, oldest_msg_age_sec, captured_at) values
  ('pgtap_hist_snap', 40, 3, 900, now() - interval '1 minute'),
  ('pgtap_hist_snap', 10, 0, 60, now() - interval '5 minutes'),
  ('pgtap_hist_empty', 0, 0, null, now() - interval '2 minutes'),
  ('pgtap_hist_stale', 7, 0, 60, now() - interval '2 hours');

create temp table pgtap_written on commit drop as select monitoring.record_queue_depths(now()) as n;
select is(
  (select n from pgtap_written),
  (select count(*)::integer from monitoring.pipeline_metrics
   where "timestamp" = now() and metric_name like 'queue\_%'),
  'record_queue_depths returns the number of rows it wrote');
select results_eq(
  $$select metric, value, tags from pg_temp.recorded('pgtap_hist_snap')$$,
  $$values ('queue_depth', 40::double precision, '{"queue": "pgtap_hist_snap", "source": "snapshot", "approximate": false}'::jsonb),
           ('queue_oldest_message_age_seconds', 900, '{"queue": "pgtap_hist_snap", "source": "snapshot", "approximate": false}'),
           ('queue_stuck_messages', 3, '{"queue": "pgtap_hist_snap", "source": "snapshot", "approximate": false}')$$,
  'a snapshot queue: depth, oldest age and stuck of its latest snapshot, no archive or dead-letter metrics');
select results_eq(
  $$select metric, value from pg_temp.recorded('pgtap_hist_empty')$$,
  $$values ('queue_depth', 0::double precision), ('queue_oldest_message_age_seconds', 0), ('queue_stuck_messages', 0)$$,
  'an empty queue has an oldest age of 0');
select is_empty($$select * from pg_temp.recorded('pgtap_hist_stale')$$,
  'a queue whose latest snapshot is stale is not recorded');

-- ------------------------------------------------------------ 2. stand-in pgmq (see header)
create schema pgmq;
create table pgmq.meta (queue_name text primary key);
create function pgmq.format_table_name(queue_name text, prefix text) returns text
language sql immutable as $$ select lower(prefix || '_' || queue_name) $$;
create function pg_temp.create_queue(p_name text) returns void language plpgsql as $$
begin
  execute format(
    'create table pgmq.%I (msg_id bigint generated always as identity primary key,
       read_ct integer not null default 0, enqueued_at timestamptz not null default now(),
       vt timestamptz not null default now(), message jsonb)', pgmq.format_table_name(p_name, 'q'));
  execute format(
    'create table pgmq.%I (msg_id bigint primary key, read_ct integer not null default 0,
       enqueued_at timestamptz not null default now(), archived_at timestamptz not null default now(),
       vt timestamptz not null default now(), message jsonb)', pgmq.format_table_name(p_name, 'a'));
  insert into pgmq.meta values (p_name);
end;
$$;
select pg_temp.create_queue('pgtap_Hist-Mixed');
select pg_temp.create_queue('pgtap_hist_big');
select pg_temp.create_queue('pgtap_hist_idle');
select pg_temp.create_queue('pgtap_hist_snap');
-- 5 messages: 3 waiting > 600 s; 2 read more than 5 times. 4 archived.
insert into pgmq."q_pgtap_hist-mixed" (enqueued_at, read_ct, message)
select now() - a * interval '1 second', r, '{}'
from unnest(array[1500, 900, 601, 300, 5], array[9, 6, 5, 1, 0]) as u(a, r);
insert into pgmq."a_pgtap_hist-mixed" (msg_id, message) select g, '{}' from generate_series(1, 4) as g;
insert into pgmq.q_pgtap_hist_big (enqueued_at, message)
select now() - interval '10 seconds', '{}' from generate_series(1, 30);
insert into pgmq.a_pgtap_hist_big (msg_id, message) select g, '{}' from generate_series(1, 25) as g;
analyze pgmq.q_pgtap_hist_big;
analyze pgmq.a_pgtap_hist_big;
delete from monitoring.pipeline_metrics where "timestamp" = now() and metric_name like 'queue\_%';

select lives_ok($$select monitoring.record_queue_depths(now())$$, 'record_queue_depths reads the pgmq queues');
select results_eq(
  $$select metric, value, tags from pg_temp.recorded('pgtap_Hist-Mixed')$$,
  $$values ('queue_archived_messages', 4::double precision, '{"queue": "pgtap_Hist-Mixed", "source": "pgmq", "approximate": false}'::jsonb),
           ('queue_dead_lettered_messages', 2, '{"queue": "pgtap_Hist-Mixed", "source": "pgmq", "approximate": false}'),
           ('queue_depth', 5, '{"queue": "pgtap_Hist-Mixed", "source": "pgmq", "approximate": false}'),
           ('queue_oldest_message_age_seconds', 1500, '{"queue": "pgtap_Hist-Mixed", "source": "pgmq", "approximate": false}'),
           ('queue_stuck_messages', 3, '{"queue": "pgtap_Hist-Mixed", "source": "pgmq", "approximate": false}')$$,
  'a mixed-case, dashed pgmq queue: counted in pgmq''s lower-cased, quoted tables; stuck > 600 s; '
  'dead-lettered = read more than 5 times; archive rows');
select results_eq(
  $$select metric, value from pg_temp.recorded('pgtap_hist_idle')$$,
  $$values ('queue_archived_messages', 0::double precision), ('queue_dead_lettered_messages', 0),
           ('queue_depth', 0), ('queue_oldest_message_age_seconds', 0), ('queue_stuck_messages', 0)$$,
  'an empty pgmq queue');
select is(
  (select array_agg(distinct tags ->> 'source') from pg_temp.recorded('pgtap_hist_snap')),
  array['pgmq'], 'a pgmq queue hides the snapshot of the same name');
select is(
  (select count(*)::integer from pg_temp.recorded('pgtap_hist_snap') where metric = 'queue_depth'),
  1, 'and is recorded once');
select is(
  (select value from pg_temp.recorded('pgtap_hist_big') where metric = 'queue_depth'), 30::double precision,
  'below the count cap the depth is exact');

-- Over the cap: the planner's estimate (reltuples, here 30 after analyze), flagged.
update monitoring.health_thresholds set value = 20 where setting = 'queue_depth_count_cap';
delete from monitoring.pipeline_metrics where "timestamp" = now() and metric_name like 'queue\_%';
select monitoring.record_queue_depths(now());
select results_eq(
  $$select metric, value, (tags ->> 'approximate')::boolean from pg_temp.recorded('pgtap_hist_big')$$,
  $$values ('queue_archived_messages', 25::double precision, true), ('queue_dead_lettered_messages', 0, true),
           ('queue_depth', 30, true), ('queue_oldest_message_age_seconds', 10, false),
           ('queue_stuck_messages', 0, true)$$,
  'above queue_depth_count_cap (20): depth and archive from the planner''s estimate, tagged approximate');
select is(
  (select (tags ->> 'approximate')::boolean from pg_temp.recorded('pgtap_Hist-Mixed') where metric = 'queue_depth'),
  false, 'a queue below the cap stays exact');
-- The estimate only ever raises a capped count: a never-analysed table (reltuples -1)
-- over the cap records cap + 1; a stale estimate (30) of a queue under the cap is ignored.
update monitoring.health_thresholds set value = 3 where setting = 'queue_depth_count_cap';
truncate pgmq.q_pgtap_hist_big;
insert into pgmq.q_pgtap_hist_big (message) select '{}' from generate_series(1, 2);
delete from monitoring.pipeline_metrics where "timestamp" = now() and metric_name like 'queue\_%';
select monitoring.record_queue_depths(now());
select results_eq(
  $$select tags ->> 'queue', metric_value, (tags ->> 'approximate')::boolean from monitoring.pipeline_metrics
    where "timestamp" = now() and metric_name = 'queue_depth' and tags ->> 'queue' in ('pgtap_Hist-Mixed', 'pgtap_hist_big')
    order by tags ->> 'queue' collate "C"$$,
  $$values ('pgtap_Hist-Mixed', 4::double precision, true), ('pgtap_hist_big', 2, false)$$,
  'over the cap without an estimate: cap + 1, approximate; under the cap a stale estimate is ignored');
update monitoring.health_thresholds set value = 10000 where setting = 'queue_depth_count_cap';

-- service_role records through the definer reader, without any privilege on pgmq.
delete from monitoring.pipeline_metrics where "timestamp" = now() and metric_name like 'queue\_%';
set local role service_role;
select throws_ok($$select count(*) from pgmq.meta$$, '42501', null, 'service_role has no privilege on pgmq');
select lives_ok($$select monitoring.record_queue_depths(now())$$, 'yet it records queue depths');
reset role;
select is(
  (select value from pg_temp.recorded('pgtap_Hist-Mixed') where metric = 'queue_depth'), 5::double precision,
  'with the same result');

-- ------------------------------------------------------------ 3. hourly view
-- Raw rows after the hourly watermark; rolled-up rows (split by approximate) before it.
insert into monitoring.aggregation_watermarks (period, aggregated_until)
values ('hourly', date_trunc('hour', now(), 'UTC') - interval '1 hour')
on conflict (period) do update set aggregated_until = excluded.aggregated_until;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_depth', v, '{"queue": "pgtap_hist_view", "source": "snapshot", "approximate": false}',
       date_trunc('hour', now(), 'UTC') - interval '1 hour' + m * interval '1 minute'
from unnest(array[10, 20, 60], array[1, 2, 3]) as u(v, m);
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp") values
  ('queue_oldest_message_age_seconds', 700, '{"queue": "pgtap_hist_view", "source": "snapshot", "approximate": false}',
   date_trunc('hour', now(), 'UTC') - interval '58 minutes');
insert into monitoring.aggregated_metrics (metric_name, period, period_start, max_value, avg_value, count_value, dimensions) values
  ('queue_depth', 'hourly', date_trunc('hour', now(), 'UTC') - interval '3 hours', 50, 20, 3,
   '{"queue": "pgtap_hist_view", "source": "pgmq", "approximate": false}'),
  ('queue_depth', 'hourly', date_trunc('hour', now(), 'UTC') - interval '3 hours', 900, 800, 1,
   '{"queue": "pgtap_hist_view", "source": "pgmq", "approximate": true}'),
  ('queue_oldest_message_age_seconds', 'hourly', date_trunc('hour', now(), 'UTC') - interval '3 hours', 30, 10, 4,
   '{"queue": "pgtap_hist_view", "source": "pgmq", "approximate": false}');
select results_eq(
  $$select hour, samples, max_depth, avg_depth, max_oldest_msg_age_sec, approximate
    from monitoring.queue_depth_hourly where queue_name = 'pgtap_hist_view' order by hour$$,
  $$values (date_trunc('hour', now(), 'UTC') - interval '3 hours', 4::numeric, 900::double precision, 215.00::numeric,
            30::double precision, true),
           (date_trunc('hour', now(), 'UTC') - interval '1 hour', 3, 60, 30.00, 700, false)$$,
  'hourly: rolled-up hours recombined across dimension splits (weighted average), raw hours after the watermark');

-- ------------------------------------------------------------ 4. trend
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_depth', 100 + 10 * g, '{"queue": "pgtap_hist_up", "source": "snapshot", "approximate": false}',
       now() - (30 - g) * interval '1 minute'
from generate_series(1, 29) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_oldest_message_age_seconds', 60 * g, '{"queue": "pgtap_hist_up", "source": "snapshot", "approximate": false}',
       now() - (30 - g) * interval '1 minute'
from generate_series(1, 29) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_depth', 500 - g, '{"queue": "pgtap_hist_down", "source": "snapshot", "approximate": false}',
       now() - (30 - g) * interval '1 minute'
from generate_series(1, 29, 7) as g;
select results_eq(
  $$select samples, first_depth, last_depth, min_depth, max_depth, avg_depth_first_third < avg_depth_middle_third
           and avg_depth_middle_third < avg_depth_last_third, last_oldest_msg_age_sec, approximate, last_recorded_at
    from monitoring.queue_depth_trend(30, now()) where queue_name = 'pgtap_hist_up'$$,
  $$values (29::bigint, 110::double precision, 390::double precision, 110::double precision, 390::double precision,
            true, 1740::double precision, false, now() - interval '1 minute')$$,
  'trend: a growing queue, first/last/min/max, rising thirds, latest oldest age');
select results_eq(
  $$select samples, first_depth, last_depth, avg_depth_first_third > avg_depth_last_third
    from monitoring.queue_depth_trend(30, now()) where queue_name = 'pgtap_hist_down'$$,
  $$values (5::bigint, 499::double precision, 471::double precision, true)$$,
  'trend: a draining queue');
select is(
  (select samples from monitoring.queue_depth_trend(10, now()) where queue_name = 'pgtap_hist_up'),
  9::bigint, 'trend: only samples of the window (the last 10 minutes)');
select throws_ok($$select * from monitoring.queue_depth_trend(0)$$, '22023', null, 'trend: a window below 1 minute is refused');

-- ------------------------------------------------------------ 5. the job
select results_eq(
  $$select schedule collate "default", command collate "default", active from cron.job where jobname = 'queue-depth-history'$$,
  $$values ('* * * * *'::text, 'select monitoring.record_queue_depths()'::text, true)$$,
  'pg_cron records queue depths every minute');

select * from finish();
rollback;

-- public.queue_monitoring_view, both sources.
--
-- 1. Without pgmq (this machine cannot install it): the latest fresh row per
--    queue in monitoring.queue_snapshots.
-- 2. With Supabase Queues: pgmq cannot be installed here, so this test creates
--    a STAND-IN `pgmq` schema inside its transaction (rolled back at the end)
--    that reproduces the documented interface of pgmq 1.4 that the view uses:
--    the composite type pgmq.metrics_result (queue_name text, queue_length
--    bigint, newest_msg_age_sec int, oldest_msg_age_sec int, total_messages
--    bigint, scrape_time timestamptz), pgmq.metrics_all() returning a set of
--    it, pgmq.meta keeping each queue's name as created, and one table per
--    queue (msg_id, read_ct, enqueued_at, vt, message) named as pgmq names it
--    (pgmq.format_table_name in pgmq 1.4.4 and 1.5.1): lower('q_' || name),
--    quoted with %I, so 'Fid_Mixed' lives in pgmq.q_fid_mixed and 'pgtap_orders-eu'
--    in pgmq."q_pgtap_orders-eu". It is not pgmq; it only answers the same calls.
-- now() is constant inside the transaction, so message ages are exact.
begin;
create extension if not exists pgtap with schema extensions;
select plan(17);

select is(to_regprocedure('pgmq.metrics_all()'), null, 'precondition: no pgmq in this database');

-- ------------------------------------------------------------ 1. snapshots only
insert into monitoring.queue_snapshots (queue_name, queue_length, stuck_messages, oldest_msg_age_sec, captured_at) values
  ('pgtap_snap_a',     5, 0, 100, now() - interval '10 minutes'),
  ('pgtap_snap_a',     8, 2, 900, now() - interval '1 minute'),
  ('pgtap_snap_edge',  1, 0, 10,  now() - interval '60 minutes'),
  ('pgtap_snap_stale', 4, 4, 9999, now() - interval '60 minutes' - interval '1 second'),
  ('pgtap_orders',    99, 0, 5,   now() - interval '2 minutes');

select results_eq(
  $$select queue_name, queue_length, stuck_messages, oldest_msg_age_sec, last_check_time, source
    from public.queue_monitoring_view where queue_name like 'pgtap\_%' order by queue_name$$,
  $$values ('pgtap_orders', 99::bigint, 0::bigint, 5, now() - interval '2 minutes', 'snapshot'),
           ('pgtap_snap_a', 8, 2, 900, now() - interval '1 minute', 'snapshot'),
           ('pgtap_snap_edge', 1, 0, 10, now() - interval '60 minutes', 'snapshot')$$,
  'without pgmq: the latest snapshot per queue; one exactly 60 minutes old still counts, an older one is stale');

update monitoring.health_thresholds set value = 5 where setting = 'queue_snapshot_max_age_minutes';
select set_eq(
  $$select queue_name from public.queue_monitoring_view where queue_name like 'pgtap\_%'$$,
  array['pgtap_orders', 'pgtap_snap_a'],
  'the snapshot freshness window is read from monitoring.health_thresholds');
update monitoring.health_thresholds set value = 60 where setting = 'queue_snapshot_max_age_minutes';

-- ------------------------------------------------------------ 2. stand-in pgmq (see header)
create schema pgmq;
create type pgmq.metrics_result as (
  queue_name text, queue_length bigint, newest_msg_age_sec integer, oldest_msg_age_sec integer,
  total_messages bigint, scrape_time timestamptz);
create table pgmq.meta (queue_name text primary key);
create function pgmq.format_table_name(queue_name text, prefix text) returns text
language sql immutable as $$ select lower(prefix || '_' || queue_name) $$;
create function pgmq.metrics_all() returns setof pgmq.metrics_result
language plpgsql as $$
declare
  q text;
  r pgmq.metrics_result;
begin
  for q in select m.queue_name from pgmq.meta as m order by 1 loop
    execute format(
      'select %L::text, count(*), extract(epoch from now() - max(enqueued_at))::int,
              extract(epoch from now() - min(enqueued_at))::int, count(*), now() from pgmq.%I',
      q, pgmq.format_table_name(q, 'q')) into r;
    return next r;
  end loop;
  -- A queue whose table cannot be found: exercises the lower-bound fallback.
  return next row('pgtap_ghost', 3, 5, 4000, 3, now())::pgmq.metrics_result;
end;
$$;
create function pg_temp.pgtap_create_queue(p_name text) returns void language plpgsql as $$
begin
  execute format(
    'create table pgmq.%I (msg_id bigint generated always as identity primary key,
       read_ct integer not null default 0, enqueued_at timestamptz not null default now(),
       vt timestamptz not null default now(), message jsonb)', pgmq.format_table_name(p_name, 'q'));
  insert into pgmq.meta values (p_name);
end;
$$;
select pg_temp.pgtap_create_queue('pgtap_orders');
select pg_temp.pgtap_create_queue('pgtap_fresh');
select pg_temp.pgtap_create_queue('pgtap_empty');
select pg_temp.pgtap_create_queue('pgtap_Fid_Mixed');
select pg_temp.pgtap_create_queue('pgtap_orders-eu');
insert into pgmq.q_pgtap_orders (enqueued_at, message)
select now() - s * interval '1 second', '{}' from unnest(array[700, 650, 601, 599, 10]) as s;
insert into pgmq.q_pgtap_fresh (enqueued_at, message) values (now() - interval '30 seconds', '{}');
insert into pgmq.q_pgtap_fid_mixed (enqueued_at, message)
select now() - s * interval '1 second', '{}' from unnest(array[900, 800, 5]) as s;
insert into pgmq."q_pgtap_orders-eu" (enqueued_at, message)
select now() - s * interval '1 second', '{}' from unnest(array[1200, 30]) as s;

select results_eq(
  $$select queue_name, queue_length, stuck_messages, oldest_msg_age_sec, last_check_time, source
    from public.queue_monitoring_view where queue_name like 'pgtap\_%' order by source, queue_name collate "C"$$,
  $$values ('pgtap_Fid_Mixed', 3::bigint, 2::bigint, 900, now(), 'pgmq'),
           ('pgtap_empty', 0, 0, null::integer, now(), 'pgmq'),
           ('pgtap_fresh', 1, 0, 30, now(), 'pgmq'),
           ('pgtap_ghost', 3, 1, 4000, now(), 'pgmq'),
           ('pgtap_orders', 5, 3, 700, now(), 'pgmq'),
           ('pgtap_orders-eu', 2, 1, 1200, now(), 'pgmq'),
           ('pgtap_snap_a', 8, 2, 900, now() - interval '1 minute', 'snapshot'),
           ('pgtap_snap_edge', 1, 0, 10, now() - interval '60 minutes', 'snapshot')$$,
  'with pgmq: metrics_all() per queue, stuck = messages waiting > 600 s (counted in pgmq''s table for the queue), '
  '1 when the queue table is missing; snapshots still cover other queues');
select is(
  (select count(*)::integer from public.queue_monitoring_view where queue_name = 'pgtap_orders'),
  1, 'a pgmq queue hides the snapshot of the same name');
select is(
  (select stuck_messages from public.queue_monitoring_view where queue_name = 'pgtap_Fid_Mixed'),
  2::bigint, 'a mixed-case queue name: its stuck messages are counted in pgmq''s lower-cased table');
select is(
  (select stuck_messages from public.queue_monitoring_view where queue_name = 'pgtap_orders-eu'),
  1::bigint, 'a dashed queue name: its stuck messages are counted in pgmq''s quoted table');
select is(
  (select count(*)::integer from public.queue_monitoring_view where queue_name = 'pgtap_fid_mixed'),
  0, 'the queue keeps the name it was created with, not the table''s');

update monitoring.health_thresholds set value = 650 where setting = 'queue_stuck_after_seconds';
select is(
  (select stuck_messages from public.queue_monitoring_view where queue_name = 'pgtap_orders'),
  1::bigint, 'stuck means strictly older than the threshold (700 s counts, 650 s does not), read from the settings');
update monitoring.health_thresholds set value = 700 where setting = 'queue_stuck_after_seconds';
select is(
  (select stuck_messages from public.queue_monitoring_view where queue_name = 'pgtap_orders'),
  0::bigint, 'with the oldest message exactly at the threshold nothing is stuck yet');
update monitoring.health_thresholds set value = 600 where setting = 'queue_stuck_after_seconds';

-- Health reads the same view.
select is(
  (public.get_system_health() -> 'queue_health' ->> 'total_stuck_messages')::bigint,
  (select sum(stuck_messages)::bigint from public.queue_monitoring_view),
  'queue health adds up the pgmq queues and the snapshots');

-- ------------------------------------------------------------ service_role through the definer function
set local role service_role;
select throws_ok($$select count(*) from pgmq.q_pgtap_orders$$, '42501', null,
  'service_role has no privilege on pgmq itself');
select is(
  (select stuck_messages from public.queue_monitoring_view where queue_name = 'pgtap_orders'),
  3::bigint, 'yet it reads queue status through the view (monitoring.queue_status is SECURITY DEFINER)');
select lives_ok($$select * from public.get_system_health()$$, 'and health works for it');
reset role;

-- ------------------------------------------------------------ pgmq gone again: snapshots only
set local client_min_messages = warning;
drop schema pgmq cascade;
select is(to_regprocedure('pgmq.metrics_all()'), null, 'the stand-in is gone');
select set_eq(
  $$select queue_name || '/' || source from public.queue_monitoring_view where queue_name like 'pgtap\_%'$$,
  array['pgtap_orders/snapshot', 'pgtap_snap_a/snapshot', 'pgtap_snap_edge/snapshot'],
  'without pgmq the view falls back to snapshots at call time, nothing to redeploy');
select lives_ok($$select * from monitoring.queue_status()$$, 'queue_status keeps working');

select * from finish();
rollback;

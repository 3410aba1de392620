-- Worker heartbeats (20261211000400): the RPC, instance states in
-- monitoring.worker_status, the heartbeat keys of worker_health and their
-- thresholds, retention, and who may call what.
-- Inside this transaction (rolled back) the table starts empty; now() is constant,
-- so "silent" instances are made by moving last_seen_at back.
begin;
create extension if not exists pgtap with schema extensions;
select plan(21);

delete from monitoring.worker_heartbeats;
delete from monitoring.worker_issues where not resolved;

create function pg_temp.beat(p_id text, p_name text, p_closed boolean default false) returns timestamptz
language sql as $$
  select monitoring.record_worker_heartbeat(p_id::uuid, p_name, 'host-a', 4242, '0.3.0',
                                            now() - interval '1 hour', p_closed)
$$;
create function pg_temp.age(p_id text, p_seconds integer) returns void language sql as $$
  update monitoring.worker_heartbeats set last_seen_at = now() - make_interval(secs => p_seconds) where id = p_id::uuid
$$;
create function pg_temp.beats() returns jsonb language sql as $$
  select public.get_system_health() -> 'worker_health'
$$;

-- ------------------------------------------------------------ the RPC
select is(pg_temp.beat('00000000-0000-7000-8000-000000000001', 'pgtap-enricher'), now(),
  'a heartbeat returns the time recorded: the database''s clock');
select results_eq(
  $$select worker_name, host, pid, sdk_version, started_at, last_seen_at, closed_at from monitoring.worker_heartbeats$$,
  $$values ('pgtap-enricher'::text, 'host-a'::text, 4242, '0.3.0'::text, now() - interval '1 hour', now(), null::timestamptz)$$,
  'one row per instance: name, host, pid, SDK version, started, last seen');
select pg_temp.age('00000000-0000-7000-8000-000000000001', 30);
select pg_temp.beat('00000000-0000-7000-8000-000000000001', 'pgtap-enricher');
select is((select count(*)::integer from monitoring.worker_heartbeats), 1, 'the next heartbeat updates the same row');
select is((select last_seen_at from monitoring.worker_heartbeats), now(), 'and moves last_seen_at');
select throws_ok($$select pg_temp.beat('00000000-0000-7000-8000-0000000000ff', ' ')$$, '23514', null,
  'a blank worker name is refused');

-- ------------------------------------------------------------ states
select pg_temp.beat('00000000-0000-7000-8000-000000000002', 'pgtap-silent');
select pg_temp.age('00000000-0000-7000-8000-000000000002', 301);
select pg_temp.beat('00000000-0000-7000-8000-000000000003', 'pgtap-edge');
select pg_temp.age('00000000-0000-7000-8000-000000000003', 300);
select pg_temp.beat('00000000-0000-7000-8000-000000000004', 'pgtap-closed', true);
select pg_temp.age('00000000-0000-7000-8000-000000000004', 600);
update monitoring.worker_heartbeats set closed_at = last_seen_at where id = '00000000-0000-7000-8000-000000000004';
-- A restarted worker: the old instance died silently, a new one started after its last heartbeat.
select pg_temp.beat('00000000-0000-7000-8000-000000000005', 'pgtap-restarted');
update monitoring.worker_heartbeats set last_seen_at = now() - interval '2 hours', started_at = now() - interval '3 hours'
where id = '00000000-0000-7000-8000-000000000005';
insert into monitoring.worker_heartbeats (id, worker_name, started_at, last_seen_at)
values ('00000000-0000-7000-8000-000000000006', 'pgtap-restarted', now() - interval '1 hour', now());

select results_eq(
  $$select id::text, status, seconds_since_seen from monitoring.worker_status order by id$$,
  $$values ('00000000-0000-7000-8000-000000000001', 'alive'::text, 0::bigint),
           ('00000000-0000-7000-8000-000000000002', 'silent', 301),
           ('00000000-0000-7000-8000-000000000003', 'alive', 300),
           ('00000000-0000-7000-8000-000000000004', 'closed', 600),
           ('00000000-0000-7000-8000-000000000005', 'replaced', 7200),
           ('00000000-0000-7000-8000-000000000006', 'alive', 0)$$,
  'states: silent only when not seen for MORE than 300 s; closed cleanly is not silent; a restart replaces the old instance');

-- ------------------------------------------------------------ health
select is(
  pg_temp.beats(),
  '{"status": "warning", "open_issues": 0, "critical_issues": 0, "error_issues": 0, "warning_issues": 0,
    "info_issues": 0, "workers_reporting": 4, "silent_workers": 1, "closed_workers": 0,
    "silent_after_seconds": 300, "silent_worker_names": ["pgtap-silent"]}'::jsonb,
  'worker_health: the release''s issue keys plus heartbeats; one silent worker is a warning');
update monitoring.worker_heartbeats set closed_at = now() - interval '1 minute'
where id = '00000000-0000-7000-8000-000000000004';
select is((pg_temp.beats() ->> 'closed_workers')::integer, 1, 'closed_workers counts recent clean closes');
-- Other components may already be worse on a database that holds data: the
-- silent worker shows in the health document and keeps overall off healthy.
select ok(
  (select h -> 'worker_health' ->> 'status' = 'warning'
          and h ->> 'overall_status' in ('warning', 'critical')
   from public.get_system_health() as h),
  'a silent worker moves overall_status');

insert into monitoring.worker_heartbeats (id, worker_name, last_seen_at)
select gen_random_uuid(), 'pgtap-dead-' || g, now() - interval '10 minutes' - g * interval '1 second'
from generate_series(1, 2) as g;
select is(pg_temp.beats() ->> 'status', 'critical', 'three silent workers: critical (more than 2)');
select is(pg_temp.beats() -> 'silent_worker_names', '["pgtap-dead-2", "pgtap-dead-1", "pgtap-silent"]'::jsonb,
  'silent workers are named, longest silent first');
update monitoring.health_thresholds set value = 3 where setting = 'worker_silent_workers_critical';
select is(pg_temp.beats() ->> 'status', 'warning', 'worker_silent_workers_critical is a setting');
update monitoring.health_thresholds set value = 900 where setting = 'worker_silent_after_seconds';
select is((pg_temp.beats() ->> 'silent_workers')::integer, 0, 'so is worker_silent_after_seconds');
select is(pg_temp.beats() ->> 'status', 'healthy', 'nobody silent: healthy');

-- The issue half still decides when it is worse.
insert into monitoring.worker_issues (worker_name, issue_type, severity) values ('pgtap-enricher', 'test', 'critical');
select is(pg_temp.beats() ->> 'status', 'critical', 'worker_health status is the worse of issues and heartbeats');
select is((pg_temp.beats() ->> 'critical_issues')::integer, 1, 'issue keys keep their meaning');

-- ------------------------------------------------------------ retention
insert into monitoring.worker_heartbeats (id, worker_name, last_seen_at)
values (gen_random_uuid(), 'pgtap-gone', now() - interval '7 days 1 second'),
       (gen_random_uuid(), 'pgtap-kept', now() - interval '7 days');
select is(monitoring_internal.purge_worker_heartbeats(now()), 1::bigint,
  'retention deletes instances not seen for more than 7 days');
select is(
  (select array_agg(worker_name order by worker_name) from monitoring.worker_heartbeats
   where worker_name in ('pgtap-gone', 'pgtap-kept')), array['pgtap-kept'], 'and keeps the rest');

-- ------------------------------------------------------------ access
set local role service_role;
select lives_ok($$select monitoring.record_worker_heartbeat(gen_random_uuid(), 'pgtap-sr')$$,
  'service_role reports heartbeats');
select lives_ok($$select * from monitoring.worker_status$$, 'and reads worker_status');
reset role;
set local role anon;
select throws_ok($$select monitoring.record_worker_heartbeat(gen_random_uuid(), 'pgtap-anon')$$, '42501', null,
  'anon cannot report heartbeats');
reset role;

select * from finish();
rollback;

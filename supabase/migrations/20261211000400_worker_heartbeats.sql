-- Worker heartbeats: each SDK client reports its presence every few seconds
-- from its background writer, so a worker that died without a word is seen.
--
-- Owns: monitoring.worker_heartbeats, monitoring.record_worker_heartbeat(),
-- the view monitoring.worker_status, the health component
-- monitoring_internal.health_heartbeats() and
-- monitoring_internal.purge_worker_heartbeats().
--
-- One row per client instance (id chosen by the client, a UUID): worker name,
-- host, pid, SDK version, when it started, when it was last seen and, when it
-- closed cleanly, closed_at. last_seen_at and closed_at are the database's
-- clock (record_worker_heartbeat sets them), so a skewed worker clock cannot
-- make it look silent or alive.
--
-- monitoring.worker_status: every instance with its state:
--   closed   closed cleanly (close() or interpreter exit): not silent;
--   replaced a newer instance of the same worker name started after this
--            one was last seen;
--   silent   last seen more than worker_silent_after_seconds (300) ago;
--   alive    otherwise.
-- Replicas may share a worker name: each instance is watched; a restart
-- (a new instance of the name starting after the old one was last seen)
-- replaces the old instance instead of leaving a silent ghost behind.
--
-- worker_health gains (20261211000600 merges these keys; status = worst):
--   workers_reporting (alive or silent instances), silent_workers (silent
--   instances), closed_workers (closed within the last worker_silent_after_seconds),
--   silent_after_seconds, silent_worker_names (up to 20, longest silent first);
--   warning: silent_workers > worker_silent_workers_warning (0);
--   critical: silent_workers > worker_silent_workers_critical (2).
-- Retention: purge_worker_heartbeats() deletes instances not seen for
-- worker_heartbeat_retention_days (7), daily (job worker-heartbeat-retention).

create table monitoring.worker_heartbeats (
  id           uuid,
  worker_name  text not null,
  host         text not null default '',
  pid          integer,
  sdk_version  text not null default '',
  started_at   timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  closed_at    timestamptz,
  constraint worker_heartbeats_worker_name_not_blank check (length(btrim(worker_name)) between 1 and 200),
  constraint worker_heartbeats_host_length check (length(host) <= 255),
  constraint worker_heartbeats_sdk_version_length check (length(sdk_version) <= 64),
  constraint worker_heartbeats_pid_positive check (pid is null or pid > 0),
  constraint worker_heartbeats_pkey primary key (id)
);
comment on table monitoring.worker_heartbeats is
  'Presence of each SDK client instance: worker, host, pid, version, started, last seen, closed.';

-- Latest instance per worker name; retention by last_seen_at.
create index worker_heartbeats_name_seen_idx on monitoring.worker_heartbeats (worker_name, last_seen_at desc);
create index worker_heartbeats_last_seen_idx on monitoring.worker_heartbeats (last_seen_at);

alter table monitoring.worker_heartbeats enable row level security;
create policy worker_heartbeats_service_role_all on monitoring.worker_heartbeats
  as permissive for all to service_role using (true) with check (true);
revoke all on monitoring.worker_heartbeats from public, anon, authenticated, service_role;
grant select, insert, update, delete on monitoring.worker_heartbeats to service_role;

-- ---------------------------------------------------------------- the heartbeat RPC
create or replace function monitoring.record_worker_heartbeat(
  p_id uuid, p_worker_name text, p_host text default '', p_pid integer default null,
  p_sdk_version text default '', p_started_at timestamptz default null, p_closed boolean default false)
returns timestamptz
language sql
volatile
security invoker
set search_path = ''
as $$
  insert into monitoring.worker_heartbeats as h
    (id, worker_name, host, pid, sdk_version, started_at, last_seen_at, closed_at)
  values (p_id, p_worker_name, coalesce(p_host, ''), p_pid, coalesce(p_sdk_version, ''),
          coalesce(p_started_at, now()), now(), case when p_closed then now() end)
  on conflict (id) do update set
    worker_name  = excluded.worker_name,
    host         = excluded.host,
    pid          = excluded.pid,
    sdk_version  = excluded.sdk_version,
    last_seen_at = excluded.last_seen_at,
    closed_at    = excluded.closed_at
  returning h.last_seen_at;
$$;

comment on function monitoring.record_worker_heartbeat(uuid, text, text, integer, text, timestamptz, boolean) is
  'A client instance is alive (or, p_closed, closed cleanly) now; returns the time recorded.';

-- ---------------------------------------------------------------- states
create or replace view monitoring.worker_status
with (security_invoker = true)
as
select h.id, h.worker_name, h.host, h.pid, h.sdk_version, h.started_at, h.last_seen_at, h.closed_at,
       case
         when h.closed_at is not null then 'closed'
         when exists (select 1 from monitoring.worker_heartbeats as n
                      where n.worker_name = h.worker_name and n.id <> h.id
                        and n.started_at > h.last_seen_at) then 'replaced'
         when h.last_seen_at < now() - make_interval(secs => t.value) then 'silent'
         else 'alive' end as status,
       floor(extract(epoch from now() - h.last_seen_at))::bigint as seconds_since_seen
from monitoring.worker_heartbeats as h
cross join (select x.value from monitoring.health_thresholds as x
            where x.setting = 'worker_silent_after_seconds') as t;

comment on view monitoring.worker_status is
  'Every client instance with its state: alive | silent | closed | replaced (a newer instance of its name).';

-- ---------------------------------------------------------------- health keys
create or replace function monitoring_internal.health_heartbeats()
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_th jsonb := monitoring_internal.health_settings(array[
                  'worker_silent_after_seconds', 'worker_silent_workers_warning', 'worker_silent_workers_critical']);
  v    record;
begin
  select count(*) filter (where s.status in ('alive', 'silent')) as reporting,
         count(*) filter (where s.status = 'silent') as silent,
         count(*) filter (where s.status = 'closed'
                            and s.closed_at >= now() - make_interval(secs => (v_th ->> 'worker_silent_after_seconds')::double precision))
           as closed,
         coalesce((array_agg(s.worker_name order by s.last_seen_at, s.worker_name)
                   filter (where s.status = 'silent'))[1:20], array[]::text[]) as names
  into v
  from monitoring.worker_status as s;

  return jsonb_build_object(
    'status', case
      when v.silent > (v_th ->> 'worker_silent_workers_critical')::double precision then 'critical'
      when v.silent > (v_th ->> 'worker_silent_workers_warning')::double precision then 'warning'
      else 'healthy' end,
    'workers_reporting', v.reporting,
    'silent_workers', v.silent,
    'closed_workers', v.closed,
    'silent_after_seconds', (v_th ->> 'worker_silent_after_seconds')::double precision,
    'silent_worker_names', to_jsonb(v.names));
end;
$$;

comment on function monitoring_internal.health_heartbeats() is
  'Heartbeat keys of worker_health: workers reporting, silent (latest instance not seen for '
  'worker_silent_after_seconds, not closed), closed; with a status.';

-- ---------------------------------------------------------------- retention
create or replace function monitoring_internal.purge_worker_heartbeats(p_now timestamptz default now())
returns bigint
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_days double precision :=
    (monitoring_internal.health_settings(array['worker_heartbeat_retention_days']) ->> 'worker_heartbeat_retention_days')::double precision;
  v_rows bigint;
begin
  delete from monitoring.worker_heartbeats as h
  where h.last_seen_at < p_now - make_interval(days => v_days::integer);
  get diagnostics v_rows = row_count;
  return v_rows;
end;
$$;

comment on function monitoring_internal.purge_worker_heartbeats(timestamptz) is
  'Deletes heartbeats of instances not seen for worker_heartbeat_retention_days (7); returns the rows deleted.';

revoke all on function monitoring.record_worker_heartbeat(uuid, text, text, integer, text, timestamptz, boolean),
  monitoring_internal.health_heartbeats(),
  monitoring_internal.purge_worker_heartbeats(timestamptz)
  from public, anon, authenticated;
grant execute on function monitoring.record_worker_heartbeat(uuid, text, text, integer, text, timestamptz, boolean),
  monitoring_internal.health_heartbeats(),
  monitoring_internal.purge_worker_heartbeats(timestamptz)
  to service_role;
revoke all on monitoring.worker_status from public, anon, authenticated, service_role;
grant select on monitoring.worker_status to service_role;

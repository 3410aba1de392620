-- Access hardening: the last migration. A sweep over everything the monitoring
-- migrations created, then a deploy-time assertion.
--
-- Owns no object; it covers every schema the migrations create (monitoring,
-- monitoring_internal) and our objects in public (monitoring_events,
-- queue_monitoring_view, get_system_health(), purge_old_monitoring_events()):
-- tables, views, sequences and functions.
--
-- Each earlier migration already revokes and grants on its own objects (what
-- service_role needs differs per object: read-only rollups, column-level
-- UPDATE on thresholds, trigger functions nobody may call); this file makes
-- the rule hold for all of them even if a change forgets, and fails the
-- deployment if anon, authenticated or PUBLIC can still reach any of it, if
-- service_role lacks what the API needs, or if a table has no row level
-- security. The local stack, like a Supabase project, grants new objects in
-- public to anon and authenticated by default, and every function is
-- executable by PUBLIC unless revoked. A later release that adds objects adds
-- a migration of its own ending with the same assertion.

revoke all on all tables    in schema monitoring, monitoring_internal from public, anon, authenticated;
revoke all on all sequences in schema monitoring, monitoring_internal from public, anon, authenticated;
revoke all on all functions in schema monitoring, monitoring_internal from public, anon, authenticated;

revoke all on public.monitoring_events, public.queue_monitoring_view from public, anon, authenticated;
revoke all on function public.get_system_health(), public.purge_old_monitoring_events(integer)
  from public, anon, authenticated;

-- What service_role needs everywhere: every monitoring function (the Data API's
-- RPCs), reading every table and view of monitoring_internal (the
-- security_invoker views and health functions read them as the caller).
grant execute on all functions in schema monitoring to service_role;
grant select on all tables in schema monitoring_internal to service_role;
grant execute on function public.get_system_health(), public.purge_old_monitoring_events(integer)
  to service_role;

do $$
declare
  v_leaks     text[];
  v_no_rls    text[];
  v_no_access text[];
begin
  with objects as (
    select 'relation' as kind, c.oid::regclass::text as obj, c.oid, 'r' as t
    from pg_catalog.pg_class as c
    where c.relkind in ('r', 'v', 'm', 'p', 'S')
      and (c.relnamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
           or c.oid in ('public.monitoring_events'::regclass, 'public.queue_monitoring_view'::regclass))
    union all
    select 'function', p.oid::regprocedure::text, p.oid, 'f'
    from pg_catalog.pg_proc as p
    where p.pronamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
       or p.oid in ('public.get_system_health()'::regprocedure,
                    'public.purge_old_monitoring_events(integer)'::regprocedure)
  )
  select array_agg(format('%s %s: %s', o.kind, o.obj, r.rolname) order by o.kind, o.obj, r.rolname)
  into v_leaks
  from objects as o
  cross join (values ('anon'), ('authenticated'), ('public')) as r(rolname)
  where case
    -- PUBLIC is checked through its ACL entries: no role name to ask about.
    when r.rolname = 'public' and o.t = 'r' then exists (
      select 1 from pg_catalog.pg_class as c, aclexplode(c.relacl) as a where c.oid = o.oid and a.grantee = 0)
    when r.rolname = 'public' then exists (
      select 1 from pg_catalog.pg_proc as p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
      where p.oid = o.oid and a.grantee = 0)
    when o.t = 'r' and (select c.relkind from pg_catalog.pg_class as c where c.oid = o.oid) = 'S'
      then has_sequence_privilege(r.rolname, o.oid, 'usage, select, update')
    when o.t = 'r' then has_table_privilege(r.rolname, o.oid, 'select, insert, update, delete, truncate, references, trigger')
    else has_function_privilege(r.rolname, o.oid, 'execute')
  end;
  if v_leaks is not null then
    raise exception 'monitoring objects reachable by API roles: %', array_to_string(v_leaks, '; ');
  end if;

  select array_agg(c.oid::regclass::text order by c.oid::regclass::text) into v_no_rls
  from pg_catalog.pg_class as c
  where c.relkind in ('r', 'p')
    and not c.relrowsecurity
    and (c.relnamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
         or c.oid = 'public.monitoring_events'::regclass);
  if v_no_rls is not null then
    raise exception 'monitoring tables without row level security: %', array_to_string(v_no_rls, ', ');
  end if;

  select array_agg(x.obj order by x.obj) into v_no_access
  from (
    select c.oid::regclass::text as obj
    from pg_catalog.pg_class as c
    where c.relkind in ('r', 'v', 'p')
      and (c.relnamespace in ('monitoring'::regnamespace, 'monitoring_internal'::regnamespace)
           or c.oid in ('public.monitoring_events'::regclass, 'public.queue_monitoring_view'::regclass))
      and not has_table_privilege('service_role', c.oid, 'select')
  ) as x;
  if v_no_access is not null then
    raise exception 'monitoring relations service_role cannot read: %', array_to_string(v_no_access, ', ');
  end if;
end;
$$;

-- Access hardening: a sweep over everything the monitoring migrations created,
-- then a deploy-time assertion.
--
-- Each earlier migration already revokes and grants on its own objects; this
-- file makes the rule hold for the whole schema (and our public objects) even
-- if a later change forgets, and fails the deployment if anon, authenticated
-- or PUBLIC can still reach any of it. The local stack, like a Supabase
-- project, grants new objects in public to anon and authenticated by default,
-- and every function is executable by PUBLIC unless revoked.

revoke all on all tables in schema monitoring from public, anon, authenticated;
revoke all on all sequences in schema monitoring from public, anon, authenticated;
revoke all on all functions in schema monitoring from public, anon, authenticated;
grant execute on all functions in schema monitoring to service_role;

revoke all on public.monitoring_events, public.queue_monitoring_view from public, anon, authenticated;
revoke all on function public.get_system_health(), public.purge_old_monitoring_events(integer)
  from public, anon, authenticated;
grant execute on function public.get_system_health(), public.purge_old_monitoring_events(integer)
  to service_role;

do $$
declare
  v_leaks text[];
begin
  select array_agg(format('%s %s: %s', kind, obj, r.rolname) order by kind, obj, r.rolname)
  into v_leaks
  from (
    select 'relation' as kind, c.oid::regclass::text as obj, c.oid, 'r' as t
    from pg_catalog.pg_class c
    where c.relkind in ('r', 'v', 'm', 'p')
      and (c.relnamespace = 'monitoring'::regnamespace
           or c.oid in ('public.monitoring_events'::regclass, 'public.queue_monitoring_view'::regclass))
    union all
    select 'function', p.oid::regprocedure::text, p.oid, 'f'
    from pg_catalog.pg_proc p
    where p.pronamespace = 'monitoring'::regnamespace
       or p.oid in ('public.get_system_health()'::regprocedure,
                    'public.purge_old_monitoring_events(integer)'::regprocedure)
  ) as o
  cross join (values ('anon'), ('authenticated'), ('public')) as r(rolname)
  where case
    -- PUBLIC is checked through its ACL entries: no role name to ask about.
    when r.rolname = 'public' and o.t = 'r' then exists (
      select 1 from pg_catalog.pg_class c, aclexplode(c.relacl) a where c.oid = o.oid and a.grantee = 0)
    when r.rolname = 'public' then exists (
      select 1 from pg_catalog.pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.oid = o.oid and a.grantee = 0)
    when o.t = 'r' then has_table_privilege(r.rolname, o.oid, 'select, insert, update, delete, truncate, references, trigger')
    else has_function_privilege(r.rolname, o.oid, 'execute')
  end;

  if v_leaks is not null then
    raise exception 'monitoring objects reachable by API roles: %', array_to_string(v_leaks, '; ');
  end if;
end;
$$;

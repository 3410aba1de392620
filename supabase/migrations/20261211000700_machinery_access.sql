-- The release's access guarantees, asserted again after the machinery
-- migrations (20261211000100..000600), which run after the release's sweep
-- (20261201001300) and each revoke and grant on their own objects.
--
-- Owns: monitoring_internal.assert_api_access(), the deploy-time assertion as a
-- function, so that this and every later migration ends with one call instead
-- of a copy of the check: nothing of ours (monitoring, monitoring_internal, our
-- public objects) is reachable by anon, authenticated or PUBLIC; every table
-- has row level security; service_role can read every relation. It raises
-- (failing the deploy) and names what is wrong.

create or replace function monitoring_internal.assert_api_access()
returns void
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_public_rel  oid[] := array['public.monitoring_events'::regclass::oid, 'public.queue_monitoring_view'::regclass::oid];
  v_public_fn   oid[] := array['public.get_system_health()'::regprocedure::oid,
                               'public.purge_old_monitoring_events(integer)'::regprocedure::oid];
  v_schemas     oid[] := array['monitoring'::regnamespace::oid, 'monitoring_internal'::regnamespace::oid];
  v_leaks       text[];
  v_no_rls      text[];
  v_no_access   text[];
begin
  with objects as (
    select 'relation' as kind, c.oid::regclass::text as obj, c.oid, c.relkind::text as t
    from pg_catalog.pg_class as c
    where c.relkind in ('r', 'v', 'm', 'p', 'S')
      and (c.relnamespace = any (v_schemas) or c.oid = any (v_public_rel))
    union all
    select 'function', p.oid::regprocedure::text, p.oid, 'f'
    from pg_catalog.pg_proc as p
    where p.pronamespace = any (v_schemas) or p.oid = any (v_public_fn)
  )
  select array_agg(format('%s %s: %s', o.kind, o.obj, r.rolname) order by o.kind, o.obj, r.rolname)
  into v_leaks
  from objects as o
  cross join (values ('anon'), ('authenticated'), ('public')) as r(rolname)
  where case
    when r.rolname = 'public' and o.t <> 'f' then exists (
      select 1 from pg_catalog.pg_class as c, aclexplode(c.relacl) as a where c.oid = o.oid and a.grantee = 0)
    when r.rolname = 'public' then exists (
      select 1 from pg_catalog.pg_proc as p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
      where p.oid = o.oid and a.grantee = 0)
    when o.t = 'S' then has_sequence_privilege(r.rolname, o.oid, 'usage, select, update')
    when o.t <> 'f' then has_table_privilege(r.rolname, o.oid,
      'select, insert, update, delete, truncate, references, trigger')
    else has_function_privilege(r.rolname, o.oid, 'execute')
  end;
  if v_leaks is not null then
    raise exception 'monitoring objects reachable by API roles: %', array_to_string(v_leaks, '; ');
  end if;

  select array_agg(c.oid::regclass::text order by c.oid::regclass::text) into v_no_rls
  from pg_catalog.pg_class as c
  where c.relkind in ('r', 'p') and not c.relrowsecurity
    and (c.relnamespace = any (v_schemas) or c.oid = any (v_public_rel));
  if v_no_rls is not null then
    raise exception 'monitoring tables without row level security: %', array_to_string(v_no_rls, ', ');
  end if;

  select array_agg(c.oid::regclass::text order by c.oid::regclass::text) into v_no_access
  from pg_catalog.pg_class as c
  where c.relkind in ('r', 'v', 'p')
    and (c.relnamespace = any (v_schemas) or c.oid = any (v_public_rel))
    and not has_table_privilege('service_role', c.oid, 'select');
  if v_no_access is not null then
    raise exception 'monitoring relations service_role cannot read: %', array_to_string(v_no_access, ', ');
  end if;
end;
$$;

comment on function monitoring_internal.assert_api_access() is
  'Raises unless nothing of ours is reachable by anon/authenticated/PUBLIC, every table has RLS and '
  'service_role reads every relation. Migrations end with a call to it.';

revoke all on function monitoring_internal.assert_api_access() from public, anon, authenticated;
grant execute on function monitoring_internal.assert_api_access() to service_role;

select monitoring_internal.assert_api_access();

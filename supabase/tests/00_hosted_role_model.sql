-- The database these tests run on has Supabase's hosted role model (what
-- scripts/local-stack.sh sets up): the tests connect as `postgres`, which is not
-- a superuser; `supabase_admin` is. If this file fails, every other file's
-- result says nothing about a hosted project.
begin;
create extension if not exists pgtap with schema extensions;
set local client_min_messages = warning;
select plan(22);

-- ------------------------------------------------------------ postgres
select is(current_user::text, 'postgres', 'the tests run as postgres');
select is(
  (select array[rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, rolbypassrls]
   from pg_catalog.pg_roles where rolname = 'postgres'),
  array[false, true, true, true, true, true],
  'postgres is NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS');
select is(
  (select datdba::regrole::text from pg_catalog.pg_database where datname = current_database()),
  'postgres', 'postgres owns the database');
select ok(pg_catalog.pg_has_role('postgres', 'service_role', 'member'), 'postgres is a member of service_role');
select ok(pg_catalog.pg_has_role('postgres', 'anon', 'member')
          and pg_catalog.pg_has_role('postgres', 'authenticated', 'member'),
  'postgres is a member of anon and authenticated');
select ok(pg_catalog.pg_has_role('postgres', 'pg_read_all_data', 'member')
          and pg_catalog.pg_has_role('postgres', 'pg_monitor', 'member')
          and pg_catalog.pg_has_role('postgres', 'pg_signal_backend', 'member'),
  'postgres is a member of pg_read_all_data, pg_monitor and pg_signal_backend');
select ok(has_schema_privilege('postgres', 'extensions', 'create'), 'postgres may create objects in schema extensions');

-- ------------------------------------------------------------ the superuser
select is(
  (select rolsuper from pg_catalog.pg_roles where rolname = 'supabase_admin'),
  true, 'supabase_admin is the superuser');
select is(
  (select array_agg(rolname::text order by rolname) from pg_catalog.pg_roles where rolsuper),
  array['supabase_admin'], 'no other role is a superuser');

-- ------------------------------------------------------------ API roles
select ok(
  (select not rolsuper and rolbypassrls from pg_catalog.pg_roles where rolname = 'service_role'),
  'service_role bypasses RLS without being a superuser');
select is(
  (select array_agg(r.rolname::text || ':' || s.cfg order by r.rolname, s.cfg)
   from pg_catalog.pg_db_role_setting as d
   join pg_catalog.pg_roles as r on r.oid = d.setrole
   cross join lateral unnest(d.setconfig) as s(cfg)
   where r.rolname in ('anon', 'authenticated', 'authenticator') and s.cfg like '%timeout%'),
  array['anon:statement_timeout=3s', 'authenticated:statement_timeout=8s',
        'authenticator:lock_timeout=8s', 'authenticator:statement_timeout=8s'],
  'API roles have the hosted statement and lock timeouts');

-- ------------------------------------------------------------ extensions
select is(
  (select n.nspname::text || ' / ' || e.extowner::regrole::text
   from pg_catalog.pg_extension as e join pg_catalog.pg_namespace as n on n.oid = e.extnamespace
   where e.extname = 'pg_cron'),
  'pg_catalog / supabase_admin', 'pg_cron lives in pg_catalog, owned by supabase_admin');
select is(
  (select extowner::regrole::text from pg_catalog.pg_extension where extname = 'pgtap'),
  'supabase_admin', 'pgtap, created above by postgres, was created on its behalf by supabase_admin');
select throws_ok(
  $$create extension pageinspect$$, '42501', null,
  'an extension outside the whitelist is refused to postgres');
select lives_ok(
  $$drop extension if exists plpgsql_check; create extension plpgsql_check with schema extensions$$,
  'a whitelisted extension that needs a superuser (plpgsql_check) can be created by postgres');
select throws_ok(
  $$create extension pg_cron with schema extensions$$, 'P0001', null,
  'pg_cron goes nowhere but pg_catalog');

-- ------------------------------------------------------------ pg_cron's grants to postgres
select ok(has_schema_privilege('postgres', 'cron', 'usage'), 'postgres has USAGE on schema cron');
select ok(has_function_privilege('postgres', 'cron.schedule(text, text, text)', 'execute')
          and has_function_privilege('postgres', 'cron.unschedule(bigint)', 'execute'),
  'postgres may execute cron.schedule and cron.unschedule');
select ok(has_table_privilege('postgres', 'cron.job', 'select'), 'postgres may read cron.job');
select ok(not has_table_privilege('postgres', 'cron.job', 'insert')
          and not has_table_privilege('postgres', 'cron.job', 'update')
          and not has_table_privilege('postgres', 'cron.job', 'delete'),
  'postgres may not write cron.job directly');
select ok(has_table_privilege('postgres', 'cron.job_run_details', 'select')
          and has_table_privilege('postgres', 'cron.job_run_details', 'delete'),
  'postgres may read and prune cron.job_run_details');
select throws_ok(
  $$update cron.job set active = active$$, '42501', null,
  'updating cron.job is refused');

select * from finish();
rollback;

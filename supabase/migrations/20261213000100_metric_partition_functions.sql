-- Daily partitions of monitoring.pipeline_metrics: the functions that create
-- and drop them. The table itself becomes partitioned in the next migration
-- (20261213000200); retention uses these in 20261213000300, and pg_cron runs
-- maintain_metric_partitions() every hour (20261213000400).
--
-- Owns: monitoring_internal.metric_partitions(),
--       monitoring_internal.metric_partition_name(date),
--       monitoring_internal.secure_metric_partition(regclass),
--       monitoring_internal.create_metric_partition(date),
--       monitoring_internal.maintain_metric_partitions(timestamptz, integer),
--       monitoring_internal.drop_expired_metric_partitions(timestamptz).
--
-- Layout: one partition per UTC day, monitoring_internal.pipeline_metrics_pYYYYMMDD,
-- FOR VALUES FROM (day 00:00 UTC) TO (next day 00:00 UTC), plus the DEFAULT
-- partition monitoring_internal.pipeline_metrics_default, which takes any row
-- whose day has no partition (back-dated beyond the window, or clock-skewed
-- into the future): an insert is never refused for its time. An upgraded
-- deployment also has monitoring_internal.pipeline_metrics_legacy, the 0.2.0
-- heap attached as one range partition (20261213000200).
--
-- Partitions live in monitoring_internal, which PostgREST does not expose:
-- clients reach rows through the parent only, whose RLS policy and grants
-- apply to every partition (Postgres checks privileges and policies on the
-- table named in the query). Each partition has RLS enabled with no policy and
-- only SELECT for service_role, like every monitoring_internal table.
--
-- Why not pg_partman: Supabase ships pg_partman 5.x, Debian's package for the
-- local stack is 4.7, and their APIs differ (create_parent's arguments, the
-- part_config columns); Supabase's Postgres 17 may not have it at all. A dozen
-- lines of declarative partitioning work the same on 15 and 17, hosted and
-- local, with no extension to whitelist.
--
-- Locks: a partition is created as a plain table and then ATTACHed, which
-- takes SHARE UPDATE EXCLUSIVE on the parent (writers and readers go on) and
-- briefly ACCESS EXCLUSIVE on the default partition, whose rows in the new
-- day's range are moved first. Detaching an expired partition takes ACCESS
-- EXCLUSIVE on the parent: it waits at most lock_timeout (100 ms) and
-- otherwise is skipped until the next run, so a long reader never makes
-- writers queue behind it; the detached table is dropped by a later run.

-- ---------------------------------------------------------------- inventory
create or replace function monitoring_internal.metric_partitions()
returns table (partition regclass, range_start timestamptz, range_end timestamptz, is_default boolean)
language sql
stable
security invoker
set search_path = ''
as $$
  -- relpartbound prints as FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('...'),
  -- MINVALUE/MAXVALUE for open ends, or DEFAULT.
  select c.oid::regclass,
         case when b.m[1] = 'MINVALUE' then '-infinity'::timestamptz else btrim(b.m[1], '''')::timestamptz end,
         case when b.m[2] = 'MAXVALUE' then 'infinity'::timestamptz else btrim(b.m[2], '''')::timestamptz end,
         b.expr = 'DEFAULT'
  from pg_catalog.pg_inherits as i
  join pg_catalog.pg_class as c on c.oid = i.inhrelid
  cross join lateral (
    select pg_catalog.pg_get_expr(c.relpartbound, c.oid) as expr) as e
  cross join lateral (
    select e.expr,
           pg_catalog.regexp_match(e.expr, '^FOR VALUES FROM \((.*)\) TO \((.*)\)$') as m) as b
  where i.inhparent = pg_catalog.to_regclass('monitoring.pipeline_metrics')
$$;

comment on function monitoring_internal.metric_partitions() is
  'The partitions of monitoring.pipeline_metrics with their time ranges (the default partition has none).';

create or replace function monitoring_internal.metric_partition_name(p_day date)
returns text
language sql
immutable
security invoker
set search_path = ''
as $$
  select 'pipeline_metrics_p' || pg_catalog.to_char(p_day, 'YYYYMMDD')
$$;

comment on function monitoring_internal.metric_partition_name(date) is
  'Name (in monitoring_internal) of the partition holding one UTC day of pipeline_metrics.';

-- ---------------------------------------------------------------- access of a partition
create or replace function monitoring_internal.secure_metric_partition(p_partition regclass)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  execute format('alter table %s enable row level security', p_partition);
  execute format('revoke all on %s from public, anon, authenticated, service_role', p_partition);
  execute format('grant select on %s to service_role', p_partition);
end;
$$;

comment on function monitoring_internal.secure_metric_partition(regclass) is
  'RLS on, nothing for anon/authenticated, SELECT for service_role: what every partition gets.';

-- ---------------------------------------------------------------- creation
-- Returns the rows moved out of the default partition, or null when the day
-- already has a partition (or lies inside another range, such as the legacy one).
create or replace function monitoring_internal.create_metric_partition(p_day date)
returns bigint
language plpgsql
security invoker
set search_path = ''
set lock_timeout = '5s'
as $$
declare
  v_from    timestamptz := (p_day::text || ' 00:00+00')::timestamptz;
  v_to      timestamptz := ((p_day + 1)::text || ' 00:00+00')::timestamptz;
  v_name    text := monitoring_internal.metric_partition_name(p_day);
  v_default regclass;
  v_moved   bigint := 0;
begin
  if p_day is null then
    raise exception using errcode = '22004', message = 'p_day must not be null';
  end if;
  if exists (select 1 from monitoring_internal.metric_partitions() as p
             where not p.is_default and p.range_start < v_to and p.range_end > v_from) then
    return null;
  end if;

  execute format('create table monitoring_internal.%I '
                 '(like monitoring.pipeline_metrics including defaults including constraints)', v_name);
  perform monitoring_internal.secure_metric_partition(format('monitoring_internal.%I', v_name)::regclass);

  select p.partition into v_default from monitoring_internal.metric_partitions() as p where p.is_default;
  if v_default is not null then
    -- Writers routed to the default wait while its rows of this day move (a
    -- few back-dated rows at most); everyone else goes on.
    execute format('lock table %s in exclusive mode', v_default);
    execute format('with moved as (delete from %s where "timestamp" >= $1 and "timestamp" < $2 returning *) '
                   'insert into monitoring_internal.%I (id, metric_name, metric_value, tags, "timestamp", created_at) '
                   'select id, metric_name, metric_value, tags, "timestamp", created_at from moved',
                   v_default, v_name)
      using v_from, v_to;
    get diagnostics v_moved = row_count;
  end if;

  execute format('alter table monitoring.pipeline_metrics attach partition monitoring_internal.%I '
                 'for values from (%L) to (%L)', v_name, v_from, v_to);
  execute format('comment on table monitoring_internal.%I is %L', v_name,
                 format('pipeline_metrics rows of %s (UTC). Dropped whole by retention.', p_day));
  return v_moved;
end;
$$;

comment on function monitoring_internal.create_metric_partition(date) is
  'Creates the partition of one UTC day (moving its rows out of the default partition); '
  'null when the day is already covered, else the rows moved.';

-- Every day from the start of raw retention (14 days) to p_days_ahead days
-- ahead gets its partition; the rest of time stays in the default partition.
-- "Ahead" counts from the hour after p_now (the next hourly run), so the run
-- at 23:50 already makes the day that becomes "today + p_days_ahead" at
-- midnight: the horizon never dips below p_days_ahead between runs.
create or replace function monitoring_internal.maintain_metric_partitions(
  p_now        timestamptz default now(),
  p_days_ahead integer     default 3
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_day     date;
  v_moved   bigint;
  v_created integer := 0;
  v_rows    bigint := 0;
  v_skipped integer := 0;
begin
  if p_now is null then
    raise exception using errcode = '22004', message = 'p_now must not be null';
  end if;
  if p_days_ahead is null or p_days_ahead not between 0 and 60 then
    raise exception using errcode = '22023',
      message = format('p_days_ahead must be between 0 and 60, got %s', p_days_ahead);
  end if;
  -- One maintainer at a time (two would race to create the same table).
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('monitoring.metric_partitions')) then
    return jsonb_build_object('created', 0, 'moved_rows', 0, 'skipped', 0, 'busy', true);
  end if;

  for v_day in
    select d::date
    from pg_catalog.generate_series(((p_now - interval '14 days') at time zone 'UTC')::date::timestamp,
                                    (((p_now + interval '1 hour') at time zone 'UTC')::date + p_days_ahead)::timestamp,
                                    interval '1 day') as d
  loop
    begin
      v_moved := monitoring_internal.create_metric_partition(v_day);
      if v_moved is not null then
        v_created := v_created + 1;
        v_rows := v_rows + v_moved;
      end if;
    exception when lock_not_available then
      -- The default partition was busy for 5 s: the next run tries again
      -- (days ahead leave three days of runs before a day is needed).
      v_skipped := v_skipped + 1;
    end;
  end loop;
  return jsonb_build_object('created', v_created, 'moved_rows', v_rows, 'skipped', v_skipped, 'busy', false);
end;
$$;

comment on function monitoring_internal.maintain_metric_partitions(timestamptz, integer) is
  'Creates the day partitions of pipeline_metrics from 14 days back to p_days_ahead ahead; '
  'run hourly by pg_cron. Returns {created, moved_rows, skipped, busy}.';

-- ---------------------------------------------------------------- expiry
-- Removes the partitions whose whole range lies before p_now - 14 days (so a
-- raw row lives 14 days at least, and less than 15 in a day partition). The
-- default and a partition that only partly expired keep their rows; retention
-- deletes those rows one by one (20261213000300).
--
-- In two steps, each in its own run: DETACH takes ACCESS EXCLUSIVE on the
-- parent, and a lock is held until commit, where a DROP frees its files (time
-- growing with the day's size, measured 0.5 s for 700,000 rows here: writers
-- would wait). So a run that finds detached tables from an earlier run drops
-- them (they lock nobody else) and detaches nothing; the next run (15 minutes
-- later) detaches what expired, which is catalog work only. Detached tables
-- are renamed expired_pipeline_metrics_*; their rows left the table at once.
--
-- SECURITY DEFINER: detaching and dropping take the owner, and service_role
-- (which may run the retention purge) owns nothing; what it can remove this
-- way it could already DELETE.
create or replace function monitoring_internal.drop_expired_metric_partitions(p_now timestamptz default now())
returns jsonb
language plpgsql
security definer
set search_path = ''
set lock_timeout = '100ms'
as $$
declare
  v_part     record;
  v_reach    timestamptz := now() - interval '14 days';
  v_detached integer := 0;
  v_dropped  integer := 0;
  v_skipped  integer := 0;
begin
  if p_now is null then
    raise exception using errcode = '22004', message = 'p_now must not be null';
  end if;

  for v_part in
    select c.oid::regclass as tbl
    from pg_catalog.pg_class as c
    where c.relnamespace = 'monitoring_internal'::regnamespace and c.relkind = 'r' and not c.relispartition
      and c.relname like 'expired\_pipeline\_metrics\_%'
  loop
    execute format('drop table %s', v_part.tbl);
    v_dropped := v_dropped + 1;
  end loop;
  if v_dropped > 0 then
    return jsonb_build_object('detached', 0, 'dropped', v_dropped, 'skipped', 0);
  end if;

  for v_part in
    select p.partition, p.range_start, p.range_end,
           (select c.relname from pg_catalog.pg_class as c where c.oid = p.partition) as relname
    from monitoring_internal.metric_partitions() as p
    where not p.is_default and p.range_end <= p_now - interval '14 days'
    order by p.range_end
  loop
    begin
      -- Removing a partition sends no row to the change-tracking triggers.
      -- Production removes only days older than their 14-day reach; a
      -- reference time ahead of now() (tests, benchmarks) may remove younger
      -- rows: their minutes are recorded as changed, so no rollup keeps
      -- counting them.
      if v_part.range_end > v_reach then
        insert into monitoring_internal.rollup_changes (minute, xid)
        select m, pg_catalog.pg_current_xact_id()
        from pg_catalog.generate_series(
               pg_catalog.date_bin(interval '1 minute', greatest(v_part.range_start, v_reach),
                                   timestamptz '2000-01-01 00:00+00'),
               v_part.range_end - interval '1 minute', interval '1 minute') as m
        on conflict do nothing;
      end if;
      execute format('alter table monitoring.pipeline_metrics detach partition %s', v_part.partition);
      execute format('alter table %s rename to %I', v_part.partition, 'expired_' || v_part.relname);
      v_detached := v_detached + 1;
    exception when lock_not_available then
      v_skipped := v_skipped + 1;
    end;
  end loop;
  return jsonb_build_object('detached', v_detached, 'dropped', 0, 'skipped', v_skipped);
end;
$$;

comment on function monitoring_internal.drop_expired_metric_partitions(timestamptz) is
  'Detaches the pipeline_metrics partitions that ended more than 14 days before p_now (waiting at most '
  '100 ms for the lock, else skipped until the next run), or, when an earlier run left detached tables, '
  'drops those instead. Returns {detached, dropped, skipped}.';

revoke all on function monitoring_internal.metric_partitions(), monitoring_internal.metric_partition_name(date),
  monitoring_internal.secure_metric_partition(regclass), monitoring_internal.create_metric_partition(date),
  monitoring_internal.maintain_metric_partitions(timestamptz, integer),
  monitoring_internal.drop_expired_metric_partitions(timestamptz)
  from public, anon, authenticated;
-- As for every monitoring_internal function; creating needs the schema owner's
-- rights, which service_role does not have, so only the purge's drop works for it.
grant execute on function monitoring_internal.metric_partitions(), monitoring_internal.metric_partition_name(date),
  monitoring_internal.secure_metric_partition(regclass), monitoring_internal.create_metric_partition(date),
  monitoring_internal.maintain_metric_partitions(timestamptz, integer),
  monitoring_internal.drop_expired_metric_partitions(timestamptz)
  to service_role;

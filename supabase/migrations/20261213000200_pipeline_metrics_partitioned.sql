-- monitoring.pipeline_metrics becomes a table partitioned by day on "timestamp".
--
-- Owns: the partitioned monitoring.pipeline_metrics (same columns, names,
-- defaults, checks, indexes, triggers, policy and grants as release 0.2.0's
-- heap), its primary key (id, "timestamp"), the default partition
-- monitoring_internal.pipeline_metrics_default and, on a deployment that
-- already held rows, monitoring_internal.pipeline_metrics_legacy.
--
-- Why: at 1,000 metrics/s the raw table takes 86 M rows a day and keeps 1.2 B;
-- 0.2.0's retention deleted them in 5,000-row statements (86 M deletes a day,
-- their WAL, and vacuum of the table every writer uses). Day partitions are
-- dropped whole instead (20261213000300), in constant time.
--
-- The write contract: a partitioned table's unique keys must contain the
-- partition key, so the primary key is (id, "timestamp"); writers that upsert
-- conflict on (id, "timestamp"). The SDK and the Edge module assign both once,
-- before the first send, so a retried batch still lands exactly once; writers
-- that insert without id or timestamp get the defaults as before.
--
-- The upgrade keeps every row without copying any: the 0.2.0 heap is renamed
-- to monitoring_internal.pipeline_metrics_legacy and attached as the one
-- partition FROM (MINVALUE) TO (tomorrow 00:00 UTC), after its few rows dated
-- from tomorrow on (clock skew) are moved to where they now belong. Attaching
-- costs one sequential scan and the (id, "timestamp") index build (about a
-- minute per 50 M rows here), under the migration's ACCESS EXCLUSIVE lock:
-- writers wait (the SDK buffers and retries meanwhile). Retention deletes the
-- legacy rows as 0.2.0 did until the whole range is older than 14 days, then
-- drops it. A fresh install (empty heap) gets no legacy partition.
--
-- Views that read the table are bound to it, not to its name; they are saved
-- (definition, options, comments, grants), dropped and re-created over the
-- new table exactly as they were, whatever migration defined them. Triggers
-- and the RLS policy are carried over the same way, from the catalog.

-- The CLI sends a migration file as one implicit transaction, where a bare
-- LOCK statement is refused; inside DO it holds until the file commits.
do $$
begin
  lock table monitoring.pipeline_metrics in access exclusive mode;
end;
$$;

-- ---------------------------------------------------------------- save what depends on the heap
create temp table sm_dependent_views on commit drop as
with recursive deps (oid, level) as (
  select r.ev_class, 1
  from pg_catalog.pg_depend as d
  join pg_catalog.pg_rewrite as r on r.oid = d.objid
  where d.classid = 'pg_catalog.pg_rewrite'::regclass
    and d.refobjid = 'monitoring.pipeline_metrics'::regclass
    and r.ev_class <> d.refobjid
  union all
  select r.ev_class, deps.level + 1
  from deps
  join pg_catalog.pg_depend as d on d.refobjid = deps.oid and d.classid = 'pg_catalog.pg_rewrite'::regclass
  join pg_catalog.pg_rewrite as r on r.oid = d.objid
  where r.ev_class <> deps.oid
)
select c.oid, max(deps.level) as level, c.oid::regclass::text as name, c.relkind,
       pg_catalog.pg_get_viewdef(c.oid) as definition, c.reloptions, c.relacl,
       pg_catalog.obj_description(c.oid, 'pg_class') as description,
       (select array_agg(format('comment on column %s.%I is %L', c.oid::regclass, a.attname, ds.description))
        from pg_catalog.pg_description as ds
        join pg_catalog.pg_attribute as a on a.attrelid = ds.objoid and a.attnum = ds.objsubid
        where ds.classoid = 'pg_catalog.pg_class'::regclass and ds.objoid = c.oid and ds.objsubid > 0)
         as column_comments
from deps
join pg_catalog.pg_class as c on c.oid = deps.oid
group by c.oid;

do $$
begin
  if exists (select 1 from sm_dependent_views where relkind <> 'v') then
    raise exception 'pipeline_metrics has dependents that are not plain views: %',
      (select string_agg(name, ', ') from sm_dependent_views where relkind <> 'v');
  end if;
end;
$$;

create temp table sm_table_parts on commit drop as
select 'trigger' as kind, pg_catalog.pg_get_triggerdef(t.oid) as statement, t.tgname::text as name
from pg_catalog.pg_trigger as t
where t.tgrelid = 'monitoring.pipeline_metrics'::regclass and not t.tgisinternal
union all
select 'policy',
       format('create policy %I on monitoring.pipeline_metrics as %s for %s to %s%s%s',
              p.policyname, p.permissive, p.cmd, array_to_string(p.roles, ', '),
              coalesce(' using (' || p.qual || ')', ''), coalesce(' with check (' || p.with_check || ')', '')),
       p.policyname::text
from pg_catalog.pg_policies as p
where p.schemaname = 'monitoring' and p.tablename = 'pipeline_metrics'
union all
select 'grant',
       format('grant %s on monitoring.pipeline_metrics to %s', a.privilege_type,
              case when a.grantee = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) end),
       null
from pg_catalog.pg_class as c, pg_catalog.aclexplode(c.relacl) as a
where c.oid = 'monitoring.pipeline_metrics'::regclass and a.grantee <> c.relowner;

do $$
declare
  v record;
begin
  for v in select name from sm_dependent_views order by level desc, name loop
    execute format('drop view %s', v.name);
  end loop;
end;
$$;

-- ---------------------------------------------------------------- the heap becomes the legacy range
alter table monitoring.pipeline_metrics rename to pipeline_metrics_legacy;
alter table monitoring.pipeline_metrics_legacy set schema monitoring_internal;
alter index monitoring_internal.pipeline_metrics_name_timestamp_idx rename to pipeline_metrics_legacy_name_timestamp_idx;
alter index monitoring_internal.pipeline_metrics_timestamp_idx rename to pipeline_metrics_legacy_timestamp_idx;
alter table monitoring_internal.pipeline_metrics_legacy rename constraint pipeline_metrics_pkey to pipeline_metrics_legacy_id_key;

do $$
declare
  v record;
begin
  for v in select kind, name from sm_table_parts where kind in ('trigger', 'policy') loop
    execute format('drop %s %I on monitoring_internal.pipeline_metrics_legacy', v.kind, v.name);
  end loop;
end;
$$;

-- ---------------------------------------------------------------- the partitioned table
create table monitoring.pipeline_metrics (
  like monitoring_internal.pipeline_metrics_legacy including defaults including constraints including comments,
  constraint pipeline_metrics_pkey primary key (id, "timestamp")
) partition by range ("timestamp");

comment on table monitoring.pipeline_metrics is
  'Raw time-series measurements, one partition per UTC day (monitoring_internal.pipeline_metrics_pYYYYMMDD, '
  'default partition for other days). Kept 14 days, then rolled up into aggregated_metrics.';

-- Views, health and aggregation filter on (metric_name, timestamp); the
-- timestamp index serves the row-by-row retention of the default partition.
create index pipeline_metrics_name_timestamp_idx on monitoring.pipeline_metrics (metric_name, "timestamp");
create index pipeline_metrics_timestamp_idx on monitoring.pipeline_metrics ("timestamp");

alter table monitoring.pipeline_metrics enable row level security;
revoke all on monitoring.pipeline_metrics from public, anon, authenticated, service_role;

do $$
declare
  v_bound  timestamptz := (((now() at time zone 'UTC')::date + 1)::text || ' 00:00+00')::timestamptz;
  v_parts  record;
begin
  for v_parts in select statement from sm_table_parts order by kind, statement loop
    execute v_parts.statement;
  end loop;

  if exists (select 1 from monitoring_internal.pipeline_metrics_legacy) then
    -- Rows dated from tomorrow on leave the legacy range for their own days.
    create temp table sm_future_rows on commit drop as
      select * from monitoring_internal.pipeline_metrics_legacy where "timestamp" >= v_bound;
    delete from monitoring_internal.pipeline_metrics_legacy where "timestamp" >= v_bound;
    -- A partition takes its key from the parent, (id, "timestamp"), built
    -- while attaching; the old id-only key must go first (id stays NOT NULL).
    alter table monitoring_internal.pipeline_metrics_legacy drop constraint pipeline_metrics_legacy_id_key;
    execute format('alter table monitoring.pipeline_metrics attach partition monitoring_internal.pipeline_metrics_legacy '
                   'for values from (minvalue) to (%L)', v_bound);
    perform monitoring_internal.secure_metric_partition('monitoring_internal.pipeline_metrics_legacy'::regclass);
    comment on table monitoring_internal.pipeline_metrics_legacy is
      'pipeline_metrics rows written before the table was partitioned (release 0.2.0 heap); '
      'retention deletes them row by row, then drops the partition once its range is 14 days old.';
  else
    drop table monitoring_internal.pipeline_metrics_legacy;
  end if;

  create table monitoring_internal.pipeline_metrics_default
    partition of monitoring.pipeline_metrics default;
  perform monitoring_internal.secure_metric_partition('monitoring_internal.pipeline_metrics_default'::regclass);
  comment on table monitoring_internal.pipeline_metrics_default is
    'pipeline_metrics rows whose UTC day has no partition (far back-dated or clock-skewed); '
    'partition maintenance moves a day''s rows out when it creates that day.';

  perform monitoring_internal.maintain_metric_partitions();

  if to_regclass('pg_temp.sm_future_rows') is not null then
    insert into monitoring.pipeline_metrics (id, metric_name, metric_value, tags, "timestamp", created_at)
    select id, metric_name, metric_value, tags, "timestamp", created_at from sm_future_rows;
  end if;
end;
$$;

-- ---------------------------------------------------------------- the views, as they were
do $$
declare
  v record;
  s text;
begin
  for v in select * from sm_dependent_views order by level, name loop
    execute format('create view %s%s as %s', v.name,
                   coalesce(' with (' || array_to_string(v.reloptions, ', ') || ')', ''), v.definition);
    execute format('revoke all on %s from public, anon, authenticated, service_role', v.name);
    for s in
      select format('grant %s on %s to %s', a.privilege_type, v.name,
                    case when a.grantee = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) end)
      from pg_catalog.aclexplode(v.relacl) as a
      where a.grantee <> (select c.relowner from pg_catalog.pg_class as c where c.oid = v.name::regclass)
    loop
      execute s;
    end loop;
    if v.description is not null then
      execute format('comment on view %s is %L', v.name, v.description);
    end if;
    foreach s in array coalesce(v.column_comments, '{}') loop
      execute s;
    end loop;
  end loop;
end;
$$;

select monitoring_internal.assert_api_access();

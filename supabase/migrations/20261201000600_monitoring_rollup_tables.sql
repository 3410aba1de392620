-- Tables behind exact, incrementally maintained rollups for the views
-- (monitoring.queue_metrics, monitoring.api_metrics) and the health check.
--
-- Owns: monitoring_internal.parsed_metrics (count-tag parsing, defined once),
-- monitoring_internal.rollup_seals, rollup_changes, queue_minute_stats,
-- queue_hour_stats, api_minute_stats, api_hour_stats, the views
-- monitoring_internal.trusted_hours and trusted_minutes, their indexes,
-- RLS policies and grants.
--
-- Why: at 10 million raw rows the views recomputed 7 days of raw metrics on every
-- read (queue_metrics 15 s, api_metrics 7 s; "last hour" 2-3 s, because a filter
-- on the grouped hour cannot use the timestamp index), and get_system_health()
-- parsed every metric of its 15-minute window (31 ms). With these tables the
-- readers take complete hours and minutes from rollups and read raw rows only
-- for the minutes not rolled up yet (the last one or two).
--
-- Exact, not approximate: the views must show a row the moment it is committed,
-- however late it arrives (supabase/tests/04_views.sql inserts rows hours in
-- the past and reads them back at once). So every rollup is "sealed" with the
-- snapshot it was computed from (rollup_seals.snap), and every statement that
-- writes view-relevant rows records the minutes it touched and its transaction
-- (rollup_changes, filled by a trigger: 20261201000700). A reader trusts a
-- sealed minute or hour only if no change to it is missing from the seal's
-- snapshot; otherwise it reads that minute's raw rows. A writer still in
-- progress when the seal was taken is invisible to the seal and, once
-- committed, its change row makes the seal untrusted: no locks, no waiting,
-- no lost rows. monitoring_internal.refresh_rollups() (20261201000800, pg_cron
-- every minute) seals new minutes and hours and re-seals untrusted ones.
--
-- The schema (20261201000100) is internal: not exposed through the Data API
-- (config.toml [api] schemas), service_role may read it (the views are
-- security_invoker), and only the owner's SECURITY DEFINER functions write it.

-- ---------------------------------------------------------------- parsed metrics
-- pipeline_metrics with its count tags parsed, one definition for every reader
-- (the views, the rollups, the health check). A malformed tag never fails a
-- reader: the spec cast (tags->>'success_count')::integer, so one row with
-- "abc" broke the view for everyone. Counts are read by type: a JSON number
-- that is a whole number in 0..2147483647, or a string of up to 9 digits;
-- anything else is NULL (ignored by SUM). Nested CASEs, not AND, guarantee the
-- cast runs only after its guard (SQL does not promise AND evaluation order).
-- Numbers are cast jsonb -> numeric directly (no text round trip): this
-- parsing costs about a second per 700 000 rows over the plain cast.
-- messages is batch_size, falling back to success_count + error_count when a
-- writer sends no batch_size (the spec's own TypeScript example does not).
-- A view, so the planner inlines it (no function call per row) and computes
-- only the columns a query uses.
create or replace view monitoring_internal.parsed_metrics
with (security_invoker = true)
as
select m.id, m.metric_name, m.metric_value, m.tags, m."timestamp", m.created_at,
       c.success_count, c.error_count, c.batch_size,
       coalesce(c.batch_size, c.success_count + c.error_count) as messages
from monitoring.pipeline_metrics as m
cross join lateral (
  select
    case jsonb_typeof(m.tags -> 'success_count')
      when 'number' then case when (m.tags -> 'success_count')::numeric between 0 and 2147483647
                               and (m.tags -> 'success_count')::numeric = trunc((m.tags -> 'success_count')::numeric)
                              then (m.tags -> 'success_count')::integer end
      when 'string' then case when (m.tags ->> 'success_count') ~ '^\s*[0-9]{1,9}\s*$'
                              then (m.tags ->> 'success_count')::integer end
    end as success_count,
    case jsonb_typeof(m.tags -> 'error_count')
      when 'number' then case when (m.tags -> 'error_count')::numeric between 0 and 2147483647
                               and (m.tags -> 'error_count')::numeric = trunc((m.tags -> 'error_count')::numeric)
                              then (m.tags -> 'error_count')::integer end
      when 'string' then case when (m.tags ->> 'error_count') ~ '^\s*[0-9]{1,9}\s*$'
                              then (m.tags ->> 'error_count')::integer end
    end as error_count,
    case jsonb_typeof(m.tags -> 'batch_size')
      when 'number' then case when (m.tags -> 'batch_size')::numeric between 0 and 2147483647
                               and (m.tags -> 'batch_size')::numeric = trunc((m.tags -> 'batch_size')::numeric)
                              then (m.tags -> 'batch_size')::integer end
      when 'string' then case when (m.tags ->> 'batch_size') ~ '^\s*[0-9]{1,9}\s*$'
                              then (m.tags ->> 'batch_size')::integer end
    end as batch_size
) as c;

comment on view monitoring_internal.parsed_metrics is
  'pipeline_metrics with count tags parsed as the views read them (malformed values are NULL).';

-- ---------------------------------------------------------------- seals and changes
create table monitoring_internal.rollup_seals (
  kind         text        not null,
  period_start timestamptz not null,
  snap         pg_snapshot not null,  -- the snapshot the rollup rows were computed with
  sealed_by    xid8        not null,  -- the sealing transaction: its own later writes are never covered
  sealed_at    timestamptz not null default now(),
  constraint rollup_seals_pkey primary key (kind, period_start),
  constraint rollup_seals_kind_valid check (kind in ('minute', 'hour'))
);
comment on table monitoring_internal.rollup_seals is
  'Minutes and hours whose rollup rows are complete as of snap (UTC minute/hour starts).';

create table monitoring_internal.rollup_changes (
  minute timestamptz not null,  -- UTC minute of a queue_processing/api_call row written
  xid    xid8        not null,  -- the writing transaction
  constraint rollup_changes_pkey primary key (minute, xid)
);
comment on table monitoring_internal.rollup_changes is
  'Minutes touched by writes to pipeline_metrics, per transaction; a seal not covering one is untrusted.';

-- ---------------------------------------------------------------- rollups
-- queue_processing per queue: the additive parts of monitoring.queue_metrics and
-- of the health check (avg = time_sum / batches).
create table monitoring_internal.queue_minute_stats (
  id            bigint generated always as identity,
  minute        timestamptz      not null,
  hour          timestamptz      not null,
  queue_name    text,
  batches       bigint           not null,
  success_count bigint,
  error_count   bigint,
  messages      bigint,
  time_sum      double precision not null,
  constraint queue_minute_stats_pkey primary key (id)
);
create index queue_minute_stats_minute_idx on monitoring_internal.queue_minute_stats (minute);
create index queue_minute_stats_hour_idx on monitoring_internal.queue_minute_stats (hour);

create table monitoring_internal.queue_hour_stats (
  id            bigint generated always as identity,
  hour          timestamptz      not null,
  queue_name    text,
  batches       bigint           not null,
  success_count bigint,
  error_count   bigint,
  messages      bigint,
  time_sum      double precision not null,
  constraint queue_hour_stats_pkey primary key (id)
);
create index queue_hour_stats_hour_idx on monitoring_internal.queue_hour_stats (hour);

-- api_call per api: counts for the view and the health check, and each
-- minute's call durations for the p95 of the hour in progress.
create table monitoring_internal.api_minute_stats (
  id               bigint generated always as identity,
  minute           timestamptz        not null,
  hour             timestamptz        not null,
  api_name         text,
  calls            bigint             not null,
  successes        bigint             not null,  -- success "true"/true
  failures         bigint             not null,  -- success "false"/false
  success_time_sum double precision,
  durations        double precision[] not null,
  constraint api_minute_stats_pkey primary key (id)
);
create index api_minute_stats_minute_idx on monitoring_internal.api_minute_stats (minute);
create index api_minute_stats_hour_idx on monitoring_internal.api_minute_stats (hour);

-- A complete hour of monitoring.api_metrics, as the view computes it from raw rows.
create table monitoring_internal.api_hour_stats (
  id               bigint generated always as identity,
  hour                timestamptz      not null,
  api_name            text,
  total_calls         bigint           not null,
  success_count       bigint           not null,
  error_count         bigint           not null,
  avg_success_time_ms double precision,
  p95_time_ms         double precision,
  constraint api_hour_stats_pkey primary key (id)
);
create index api_hour_stats_hour_idx on monitoring_internal.api_hour_stats (hour);

-- ---------------------------------------------------------------- trusted periods
-- A seal is trusted when every change to its minutes was visible to its snapshot
-- (and not made by the sealing transaction itself, after sealing).
create or replace view monitoring_internal.trusted_hours
with (security_invoker = true)
as
select s.period_start as hour
from monitoring_internal.rollup_seals as s
where s.kind = 'hour'
  and not exists (
    select 1 from monitoring_internal.rollup_changes as c
    where c.minute >= s.period_start
      and c.minute < s.period_start + interval '1 hour'
      and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap)));

create or replace view monitoring_internal.trusted_minutes
with (security_invoker = true)
as
select s.period_start as minute
from monitoring_internal.rollup_seals as s
where s.kind = 'minute'
  and not exists (
    select 1 from monitoring_internal.rollup_changes as c
    where c.minute = s.period_start
      and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap)));

-- ---------------------------------------------------------------- access
alter table monitoring_internal.rollup_seals       enable row level security;
alter table monitoring_internal.rollup_changes     enable row level security;
alter table monitoring_internal.queue_minute_stats enable row level security;
alter table monitoring_internal.queue_hour_stats   enable row level security;
alter table monitoring_internal.api_minute_stats   enable row level security;
alter table monitoring_internal.api_hour_stats     enable row level security;

create policy rollup_seals_service_role_read on monitoring_internal.rollup_seals
  as permissive for select to service_role using (true);
create policy rollup_changes_service_role_read on monitoring_internal.rollup_changes
  as permissive for select to service_role using (true);
create policy queue_minute_stats_service_role_read on monitoring_internal.queue_minute_stats
  as permissive for select to service_role using (true);
create policy queue_hour_stats_service_role_read on monitoring_internal.queue_hour_stats
  as permissive for select to service_role using (true);
create policy api_minute_stats_service_role_read on monitoring_internal.api_minute_stats
  as permissive for select to service_role using (true);
create policy api_hour_stats_service_role_read on monitoring_internal.api_hour_stats
  as permissive for select to service_role using (true);

revoke all on all tables in schema monitoring_internal from public, anon, authenticated, service_role;
-- Readers of the (security_invoker) views need these; writing stays with the owner.
grant select on all tables in schema monitoring_internal to service_role;

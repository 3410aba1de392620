-- The monitoring tables, with the spec's column names and types.
--
-- Owns: monitoring.pipeline_metrics, monitoring.aggregated_metrics,
-- monitoring.worker_issues, monitoring.queue_snapshots, public.monitoring_events,
-- their indexes, RLS policies and grants.
--
-- Other workers of the platform (TypeScript edge functions among them) write
-- these tables directly, so columns keep the spec's names. Changes from the
-- spec: named CHECK constraints, NOT NULL where a null row would be useless,
-- p50/p95/p99 on rollups, a natural key on rollups (idempotent aggregation),
-- and monitoring.queue_snapshots for projects without Supabase Queues.
-- Indexes are the ones the views, the health check, aggregation and the
-- retention purges need (each noted where it is created).

-- ---------------------------------------------------------------- raw metrics
create table monitoring.pipeline_metrics (
  id           uuid default gen_random_uuid(),
  metric_name  text not null,
  metric_value double precision not null,
  tags         jsonb not null default '{}'::jsonb,
  "timestamp"  timestamptz not null default now(),
  created_at   timestamptz not null default now(),
  constraint pipeline_metrics_metric_name_not_blank check (length(btrim(metric_name)) between 1 and 200),
  constraint pipeline_metrics_metric_value_finite
    check (metric_value <> 'NaN'::double precision
           and metric_value <> 'Infinity'::double precision
           and metric_value <> '-Infinity'::double precision),
  constraint pipeline_metrics_tags_is_object check (jsonb_typeof(tags) = 'object'),
  constraint pipeline_metrics_pkey primary key (id)
);
comment on table monitoring.pipeline_metrics is
  'Raw time-series measurements. Kept 14 days, then rolled up into aggregated_metrics.';

-- Views, health and aggregation all filter on (metric_name, timestamp).
create index pipeline_metrics_name_timestamp_idx
  on monitoring.pipeline_metrics (metric_name, "timestamp");
-- Retention purges by timestamp alone.
create index pipeline_metrics_timestamp_idx
  on monitoring.pipeline_metrics ("timestamp");

-- ---------------------------------------------------------------- rollups
create table monitoring.aggregated_metrics (
  id           uuid default gen_random_uuid(),
  metric_name  text not null,
  period       text not null,
  period_start timestamptz not null,
  min_value    double precision,
  max_value    double precision,
  avg_value    double precision,
  sum_value    double precision,
  count_value  integer,
  p50_value    double precision,
  p95_value    double precision,
  p99_value    double precision,
  dimensions   jsonb not null default '{}'::jsonb,
  -- The natural key hashes the dimensions: a btree entry is limited to ~2.7 kB,
  -- and one writer with long string tags must not stop every later rollup.
  -- jsonb::text is canonical (keys sorted), so equal dimension sets hash equally.
  dimensions_hash text generated always as (md5(dimensions::text)) stored,
  created_at   timestamptz not null default now(),
  constraint aggregated_metrics_period_valid check (period in ('hourly', 'daily', 'weekly')),
  constraint aggregated_metrics_metric_name_not_blank check (length(btrim(metric_name)) between 1 and 200),
  constraint aggregated_metrics_dimensions_is_object check (jsonb_typeof(dimensions) = 'object'),
  -- One row per metric, period and dimension set: re-running aggregation cannot double count.
  -- Its leading (period, period_start) also serves the rollup retention purge.
  constraint aggregated_metrics_natural_key unique (period, period_start, metric_name, dimensions_hash),
  constraint aggregated_metrics_pkey primary key (id)
);
comment on table monitoring.aggregated_metrics is
  'Hourly, daily and weekly rollups of pipeline_metrics, grouped by dimension (string) tags.';

create index aggregated_metrics_name_period_start_idx
  on monitoring.aggregated_metrics (metric_name, period, period_start);

-- ---------------------------------------------------------------- worker issues
create table monitoring.worker_issues (
  id                 uuid default gen_random_uuid(),
  worker_name        text not null,
  issue_type         text not null,
  severity           text not null,
  message            text,
  details            jsonb default '{}'::jsonb,
  resolved           boolean not null default false,
  resolution_details text,
  created_at         timestamptz not null default now(),
  resolved_at        timestamptz,
  constraint worker_issues_severity_valid check (severity in ('info', 'warning', 'error', 'critical')),
  constraint worker_issues_worker_name_not_blank check (length(btrim(worker_name)) between 1 and 200),
  constraint worker_issues_issue_type_not_blank check (length(btrim(issue_type)) between 1 and 200),
  constraint worker_issues_pkey primary key (id)
);
comment on table monitoring.worker_issues is
  'Operational problems reported by pipeline workers; open until resolved.';

-- Health counts open issues by severity; operators list open issues newest first.
create index worker_issues_open_idx
  on monitoring.worker_issues (severity, created_at desc) where not resolved;
create index worker_issues_created_at_idx
  on monitoring.worker_issues (created_at);
-- Retention purges resolved issues by resolution time (created_at when a
-- writer set resolved without resolved_at).
create index worker_issues_resolved_purge_idx
  on monitoring.worker_issues ((coalesce(resolved_at, created_at))) where resolved;

-- ---------------------------------------------------------------- queue snapshots
-- For projects without Supabase Queues (pgmq): workers or a monitoring job
-- report each queue's depth here; public.queue_monitoring_view reads the latest.
create table monitoring.queue_snapshots (
  id                 uuid default gen_random_uuid(),
  queue_name         text not null,
  queue_length       bigint not null,
  stuck_messages     bigint not null default 0,
  oldest_msg_age_sec integer,
  details            jsonb not null default '{}'::jsonb,
  captured_at        timestamptz not null default now(),
  constraint queue_snapshots_queue_name_not_blank check (length(btrim(queue_name)) between 1 and 200),
  constraint queue_snapshots_queue_length_non_negative check (queue_length >= 0),
  constraint queue_snapshots_stuck_messages_valid check (stuck_messages >= 0 and stuck_messages <= queue_length),
  constraint queue_snapshots_oldest_age_non_negative check (oldest_msg_age_sec is null or oldest_msg_age_sec >= 0),
  constraint queue_snapshots_pkey primary key (id)
);
comment on table monitoring.queue_snapshots is
  'Queue depth reports for projects without pgmq; the latest per queue is what counts.';

create index queue_snapshots_queue_captured_idx
  on monitoring.queue_snapshots (queue_name, captured_at desc);
create index queue_snapshots_captured_at_idx
  on monitoring.queue_snapshots (captured_at);

-- ---------------------------------------------------------------- events (public)
create table public.monitoring_events (
  id         uuid default gen_random_uuid(),
  event_type text not null,
  details    jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  constraint monitoring_events_event_type_not_blank check (length(btrim(event_type)) between 1 and 200),
  constraint monitoring_events_pkey primary key (id)
);
comment on table public.monitoring_events is
  'System events: queue monitoring runs, resets, DLQ operations, admin actions, alert state.';

create index monitoring_events_created_at_idx on public.monitoring_events (created_at);
create index monitoring_events_type_created_at_idx on public.monitoring_events (event_type, created_at desc);

-- ---------------------------------------------------------------- access
-- RLS on, and only service_role is granted anything. service_role bypasses
-- RLS anyway; its explicit policies document the intent (and keep Supabase's
-- rls_enabled_no_policy advisor quiet). anon and authenticated have neither
-- a policy nor a privilege.
alter table monitoring.pipeline_metrics   enable row level security;
alter table monitoring.aggregated_metrics enable row level security;
alter table monitoring.worker_issues      enable row level security;
alter table monitoring.queue_snapshots    enable row level security;
alter table public.monitoring_events      enable row level security;

create policy pipeline_metrics_service_role_all on monitoring.pipeline_metrics
  as permissive for all to service_role using (true) with check (true);
create policy aggregated_metrics_service_role_all on monitoring.aggregated_metrics
  as permissive for all to service_role using (true) with check (true);
create policy worker_issues_service_role_all on monitoring.worker_issues
  as permissive for all to service_role using (true) with check (true);
create policy queue_snapshots_service_role_all on monitoring.queue_snapshots
  as permissive for all to service_role using (true) with check (true);
create policy monitoring_events_service_role_all on public.monitoring_events
  as permissive for all to service_role using (true) with check (true);

-- service_role too: Supabase grants it ALL (truncate, trigger, ...) on new public
-- tables by default; it gets exactly what it needs below.
revoke all on monitoring.pipeline_metrics, monitoring.aggregated_metrics, monitoring.worker_issues,
  monitoring.queue_snapshots, public.monitoring_events from public, anon, authenticated, service_role;
grant select, insert, update, delete on monitoring.pipeline_metrics, monitoring.aggregated_metrics,
  monitoring.worker_issues, monitoring.queue_snapshots, public.monitoring_events to service_role;

-- Queue depth over time: every minute (pg_cron job queue-depth-history,
-- 20261211000500) each queue's state is recorded as metrics in
-- monitoring.pipeline_metrics, so it has raw retention (14 days), rollups
-- (aggregate_metrics) and a history to chart and alert on.
--
-- Owns: monitoring_internal.pgmq_queue_depths() (SECURITY DEFINER, bounded
-- counts of pgmq's tables), monitoring.record_queue_depths(),
-- monitoring.queue_depth_trend() and the view monitoring.queue_depth_hourly.
--
-- Metrics written (metric_value; tags {"queue": text, "source": "pgmq" |
-- "snapshot", "approximate": boolean}; "timestamp" = the run's time):
--   queue_depth                       messages in the queue
--   queue_oldest_message_age_seconds  age of the oldest message (0 for an empty queue)
--   queue_stuck_messages              messages waiting > queue_stuck_after_seconds
--   queue_archived_messages           pgmq only: rows of the queue's archive table
--   queue_dead_lettered_messages      pgmq only: messages read more than
--                                     queue_dead_letter_read_count (5) times and
--                                     still in the queue (pgmq has no dead-letter
--                                     queue of its own: a message a consumer keeps
--                                     failing on is redelivered every visibility
--                                     timeout, read_ct counts it)
-- Sources: pgmq queues (pgmq.meta, when pgmq is installed, looked up at call time)
-- and, for every other queue, the latest monitoring.queue_snapshots row fresher
-- than queue_snapshot_max_age_minutes, as public.queue_monitoring_view reads
-- them. Snapshot rows are taken as reported (approximate = false, no archive or
-- dead-letter metrics).
--
-- Counting stays cheap on a queue with millions of messages. pgmq.metrics()
-- counts each queue table with count(*); Supabase Studio bounds that count with
-- statement_timeout = '1s' and shows pg_class.reltuples as "approximate" when it
-- fires. A timeout cannot bound a count inside this function: statement_timeout
-- is armed when the top-level statement starts, and `set local
-- statement_timeout` inside a plpgsql function does not re-arm it (checked on
-- Postgres 15: a 200 ms setting did not interrupt a later pg_sleep(1) in the
-- same call). So every count reads at most queue_depth_count_cap + 1 rows
-- (default 10,000): one index scan of the queue table in msg_id order gives the
-- depth, the oldest message, the stuck and the dead-lettered counts; when it
-- hits the cap, depth = greatest(reltuples, cap + 1) and the row is tagged
-- approximate = true (stuck and dead-lettered are then lower bounds). msg_id
-- grows with enqueued_at, so the oldest messages come first and stuck counts
-- below the cap are exact. Archives are counted the same way. Queue tables are
-- named as pgmq names them: pgmq.q_ || lower(name), pgmq.a_ || lower(name),
-- quoted (%I) ('Fid_Mixed' -> pgmq.q_fid_mixed, 'orders-eu' -> pgmq."q_orders-eu").
--
-- monitoring.queue_depth_hourly: per UTC hour and queue, samples, max and
-- average depth, max oldest age, max stuck, approximate (any sample). Hours up to
-- the hourly aggregation watermark come from the hourly rollups
-- (monitoring.aggregated_metrics, which split a queue by its dimension tags:
-- source and approximate, recombined here); later hours from raw rows.
-- monitoring.queue_depth_trend(): per queue, the depth samples of the last
-- minutes summarised for the "queue keeps growing" and "oldest message too old"
-- alert rules (the rules decide; the SQL only summarises).

-- ---------------------------------------------------------------- pgmq, bounded
create or replace function monitoring_internal.pgmq_queue_depths(p_now timestamptz default now())
returns table (
  queue_name           text,
  queue_length         bigint,
  length_approximate   boolean,
  oldest_msg_age_sec   integer,
  stuck_messages       bigint,
  dead_lettered        bigint,
  archived             bigint,
  archived_approximate boolean
)
language plpgsql
stable
-- Definer: reading pgmq's tables needs the owner's rights; service_role only executes.
security definer
set search_path = ''
as $$
declare
  v_th        jsonb := monitoring_internal.health_settings(array[
                         'queue_stuck_after_seconds', 'queue_depth_count_cap', 'queue_dead_letter_read_count']);
  v_cap       bigint := (v_th ->> 'queue_depth_count_cap')::bigint;
  v_meta      regclass := to_regclass('pgmq.meta');
  v_name      text;
  v_table     regclass;
  v_archive   regclass;
  v_count     bigint;
  v_oldest    timestamptz;
begin
  if v_meta is null then
    return;
  end if;
  for v_name in execute format('select m.queue_name::text from %s as m order by 1', v_meta) loop
    v_table := to_regclass(format('pgmq.%I', lower('q_' || v_name)));
    continue when v_table is null;
    execute format(
      'select count(*), count(*) filter (where s.enqueued_at < $1), count(*) filter (where s.read_ct > $2),
              min(s.enqueued_at)
         from (select q.enqueued_at, q.read_ct from %s as q order by q.msg_id limit $3) as s', v_table)
      into v_count, stuck_messages, dead_lettered, v_oldest
      using p_now - make_interval(secs => (v_th ->> 'queue_stuck_after_seconds')::double precision),
            (v_th ->> 'queue_dead_letter_read_count')::integer, v_cap + 1;
    queue_name         := v_name;
    length_approximate := v_count > v_cap;
    queue_length       := case when v_count > v_cap
                               then greatest((select c.reltuples::bigint from pg_catalog.pg_class as c
                                              where c.oid = v_table), v_cap + 1)
                               else v_count end;
    oldest_msg_age_sec := case when v_oldest is null then 0
                               else greatest(floor(extract(epoch from p_now - v_oldest)), 0)::integer end;

    v_archive := to_regclass(format('pgmq.%I', lower('a_' || v_name)));
    archived := null;
    archived_approximate := false;
    if v_archive is not null then
      execute format('select count(*) from (select 1 from %s limit $1) as s', v_archive)
        into archived using v_cap + 1;
      if archived > v_cap then
        archived_approximate := true;
        archived := greatest((select c.reltuples::bigint from pg_catalog.pg_class as c where c.oid = v_archive),
                             v_cap + 1);
      end if;
    end if;
    return next;
  end loop;
end;
$$;

comment on function monitoring_internal.pgmq_queue_depths(timestamptz) is
  'Per pgmq queue: depth, oldest age, stuck, dead-lettered and archived counts, each read over at most '
  'queue_depth_count_cap + 1 rows (beyond: the planner''s estimate, flagged approximate).';

-- ---------------------------------------------------------------- the recorder
create or replace function monitoring.record_queue_depths(p_now timestamptz default now())
returns integer
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_max_age double precision :=
    (monitoring_internal.health_settings(array['queue_snapshot_max_age_minutes']) ->> 'queue_snapshot_max_age_minutes')::double precision;
  v_rows    integer;
begin
  with pgmq_queues as (
    select d.* from monitoring_internal.pgmq_queue_depths(p_now) as d
  ),
  queues as (
    select q.queue_name, 'pgmq'::text as source, q.queue_length, q.length_approximate,
           q.oldest_msg_age_sec, q.stuck_messages, q.dead_lettered, q.archived, q.archived_approximate
    from pgmq_queues as q
    union all
    select s.queue_name, 'snapshot', s.queue_length, false,
           case when s.queue_length = 0 then coalesce(s.oldest_msg_age_sec, 0) else s.oldest_msg_age_sec end,
           s.stuck_messages, null, null, false
    from (
      select distinct on (x.queue_name) x.*
      from monitoring.queue_snapshots as x
      where x.captured_at >= p_now - make_interval(secs => v_max_age * 60)
        and x.captured_at <= p_now
      order by x.queue_name, x.captured_at desc
    ) as s
    where s.queue_name not in (select p.queue_name from pgmq_queues as p)
  )
  insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
  select m.metric_name, m.metric_value,
         jsonb_build_object('queue', q.queue_name, 'source', q.source, 'approximate', m.approximate), p_now
  from queues as q
  cross join lateral (values
    ('queue_depth', q.queue_length::double precision, q.length_approximate),
    ('queue_oldest_message_age_seconds', q.oldest_msg_age_sec::double precision, false),
    ('queue_stuck_messages', q.stuck_messages::double precision, q.length_approximate),
    ('queue_archived_messages', q.archived::double precision, q.archived_approximate),
    ('queue_dead_lettered_messages', q.dead_lettered::double precision, q.length_approximate)
  ) as m(metric_name, metric_value, approximate)
  where m.metric_value is not null;
  get diagnostics v_rows = row_count;
  return v_rows;
end;
$$;

comment on function monitoring.record_queue_depths(timestamptz) is
  'Records each queue''s depth, oldest age, stuck (and for pgmq archived and dead-lettered) counts as '
  'pipeline_metrics (queue_* metrics); run every minute by pg_cron. Returns the rows written.';

-- ---------------------------------------------------------------- hourly view
create or replace view monitoring.queue_depth_hourly
with (security_invoker = true)
as
with watermark as (
  select coalesce(max(w.aggregated_until), '-infinity'::timestamptz) as until
  from monitoring.aggregation_watermarks as w
  where w.period = 'hourly'
),
samples as (
  -- Rolled-up hours: one row per (hour, queue, source, approximate) and metric.
  select a.period_start as hour, a.dimensions ->> 'queue' as queue_name, a.metric_name,
         a.max_value, a.avg_value * a.count_value as sum_value, a.count_value::bigint as samples,
         coalesce(a.dimensions ->> 'approximate', 'false') = 'true' as approximate
  from monitoring.aggregated_metrics as a
  where a.period = 'hourly'
    and a.metric_name in ('queue_depth', 'queue_oldest_message_age_seconds', 'queue_stuck_messages')
    and a.period_start < (select w.until from watermark as w)
  union all
  -- Hours not aggregated yet: raw rows.
  select date_bin(interval '1 hour', m."timestamp", timestamptz '2000-01-01 00:00+00'), m.tags ->> 'queue',
         m.metric_name, m.metric_value, m.metric_value, 1, coalesce(m.tags ->> 'approximate', 'false') = 'true'
  from monitoring.pipeline_metrics as m
  where m.metric_name in ('queue_depth', 'queue_oldest_message_age_seconds', 'queue_stuck_messages')
    and m."timestamp" >= (select w.until from watermark as w)
)
select
  s.hour,
  s.queue_name,
  sum(s.samples) filter (where s.metric_name = 'queue_depth') as samples,
  max(s.max_value) filter (where s.metric_name = 'queue_depth') as max_depth,
  round((sum(s.sum_value) filter (where s.metric_name = 'queue_depth')
         / nullif(sum(s.samples) filter (where s.metric_name = 'queue_depth'), 0))::numeric, 2) as avg_depth,
  max(s.max_value) filter (where s.metric_name = 'queue_oldest_message_age_seconds') as max_oldest_msg_age_sec,
  max(s.max_value) filter (where s.metric_name = 'queue_stuck_messages') as max_stuck_messages,
  bool_or(s.approximate) filter (where s.metric_name = 'queue_depth') as approximate
from samples as s
where s.queue_name is not null
group by s.hour, s.queue_name;

comment on view monitoring.queue_depth_hourly is
  'Per UTC hour and queue: samples, max/avg depth, max oldest message age, max stuck, approximate; '
  'from hourly rollups up to the aggregation watermark, raw queue_* metrics after it.';

-- ---------------------------------------------------------------- trend for alert rules
create or replace function monitoring.queue_depth_trend(
  p_window_minutes integer default 30, p_now timestamptz default now())
returns table (
  queue_name              text,
  samples                 bigint,
  first_depth             double precision,
  last_depth              double precision,
  min_depth               double precision,
  max_depth               double precision,
  avg_depth_first_third   double precision,
  avg_depth_middle_third  double precision,
  avg_depth_last_third    double precision,
  last_oldest_msg_age_sec double precision,
  approximate             boolean,
  first_recorded_at       timestamptz,
  last_recorded_at        timestamptz
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  if p_window_minutes is null or p_window_minutes < 1 then
    raise exception using errcode = '22023', message = 'p_window_minutes must be >= 1';
  end if;
  return query
  with depth as (
    select m.tags ->> 'queue' as q, m.metric_value as v, m."timestamp" as t,
           coalesce(m.tags ->> 'approximate', 'false') = 'true' as approx,
           ntile(3) over (partition by m.tags ->> 'queue' order by m."timestamp") as third
    from monitoring.pipeline_metrics as m
    where m.metric_name = 'queue_depth'
      and m."timestamp" > p_now - make_interval(mins => p_window_minutes)
      and m."timestamp" <= p_now
      and m.tags ->> 'queue' is not null
  ),
  oldest as (
    select distinct on (m.tags ->> 'queue') m.tags ->> 'queue' as q, m.metric_value as v
    from monitoring.pipeline_metrics as m
    where m.metric_name = 'queue_oldest_message_age_seconds'
      and m."timestamp" > p_now - make_interval(mins => p_window_minutes)
      and m."timestamp" <= p_now
    order by m.tags ->> 'queue', m."timestamp" desc
  )
  select d.q, count(*), (array_agg(d.v order by d.t))[1], (array_agg(d.v order by d.t desc))[1],
         min(d.v), max(d.v),
         avg(d.v) filter (where d.third = 1), avg(d.v) filter (where d.third = 2),
         avg(d.v) filter (where d.third = 3),
         (select o.v from oldest as o where o.q = d.q), bool_or(d.approx), min(d.t), max(d.t)
  from depth as d
  group by d.q;
end;
$$;

comment on function monitoring.queue_depth_trend(integer, timestamptz) is
  'Per queue over the last p_window_minutes: depth samples, first/last/min/max, average per third of the '
  'samples, latest oldest-message age; input of the queue growth and oldest-age alert rules.';

-- ---------------------------------------------------------------- access
revoke all on function monitoring_internal.pgmq_queue_depths(timestamptz),
  monitoring.record_queue_depths(timestamptz),
  monitoring.queue_depth_trend(integer, timestamptz)
  from public, anon, authenticated;
grant execute on function monitoring_internal.pgmq_queue_depths(timestamptz),
  monitoring.record_queue_depths(timestamptz),
  monitoring.queue_depth_trend(integer, timestamptz)
  to service_role;
revoke all on monitoring.queue_depth_hourly from public, anon, authenticated, service_role;
grant select on monitoring.queue_depth_hourly to service_role;

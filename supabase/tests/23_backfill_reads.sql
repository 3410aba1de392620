-- Reads through a back-fill (issue 11 item 4; migrations 20261216000100..000400):
-- rows written as one INSERT ... SELECT into hours and minutes the rollups had
-- sealed show at once in monitoring.queue_metrics, monitoring.api_metrics (whole
-- window and the dashboards' "last hour") and get_system_health(), exactly as raw
-- rows say; the refresh re-seals newest hours first, a chunk at a time, says how
-- many hours are left, and the views stay exact at every step until it is done.
-- Test rows use their own queue and api names (pgtap_bf_*) in hours 10-40 back
-- and minutes 4-12 back, so other data in the database does not matter; health is
-- compared with a raw computation over the same snapshot (repeatable read).
-- Timing figures: benchmarks/sql_scale.py --only backfill.
begin isolation level repeatable read;
create extension if not exists pgtap with schema extensions;
select plan(27);

-- B: 30 hours from 40 hours back; R: the minutes 12..4 minutes back (the health
-- window, the refresh's recent minutes). Settings, so the planner sees the bounds.
do $$
begin
  perform set_config('pgtap_bf.b0', (date_trunc('hour', now(), 'UTC') - interval '40 hours')::text, true);
  perform set_config('pgtap_bf.b1', (date_trunc('hour', now(), 'UTC') - interval '10 hours')::text, true);
  perform set_config('pgtap_bf.r0', (date_trunc('minute', now(), 'UTC') - interval '12 minutes')::text, true);
  perform set_config('pgtap_bf.r1', (date_trunc('minute', now(), 'UTC') - interval '4 minutes')::text, true);
end;
$$;

-- ------------------------------------------------------------ reference (raw rows, the spec's definitions)
create temp view pgtap_bf_ref_queue as
select m.tags ->> 'queue' as queue_name, date_trunc('hour', m."timestamp", 'UTC') as hour,
       count(*) as total_batches, sum(m.success_count) as success_count, sum(m.error_count) as error_count,
       avg(m.metric_value) as avg_processing_time_ms, sum(m.messages) as total_messages_processed
from monitoring_internal.parsed_metrics as m
where m.metric_name = 'queue_processing' and m.tags ->> 'queue' like 'pgtap_bf_%'
  and (m."timestamp" >= current_setting('pgtap_bf.b0')::timestamptz
       and m."timestamp" < current_setting('pgtap_bf.b1')::timestamptz
       or m."timestamp" >= current_setting('pgtap_bf.r0')::timestamptz
          and m."timestamp" < current_setting('pgtap_bf.r1')::timestamptz)
group by 1, 2;

create temp view pgtap_bf_ref_api as
select m.tags ->> 'api' as api_name, date_trunc('hour', m."timestamp", 'UTC') as hour,
       count(*) as total_calls,
       sum(case when m.tags ->> 'success' = 'true' then 1 else 0 end) as success_count,
       sum(case when m.tags ->> 'success' = 'false' then 1 else 0 end) as error_count,
       avg(case when m.tags ->> 'success' = 'true' then m.metric_value end) as avg_success_time_ms,
       percentile_cont(0.95) within group (order by m.metric_value) as p95_time_ms
from monitoring.pipeline_metrics as m
where m.metric_name = 'api_call' and m.tags ->> 'api' like 'pgtap_bf_%'
  and (m."timestamp" >= current_setting('pgtap_bf.b0')::timestamptz
       and m."timestamp" < current_setting('pgtap_bf.b1')::timestamptz
       or m."timestamp" >= current_setting('pgtap_bf.r0')::timestamptz
          and m."timestamp" < current_setting('pgtap_bf.r1')::timestamptz)
group by 1, 2;

-- Rows of the view and of the reference that the other lacks (averages and
-- percentiles rounded to 9 digits: rollups add floats in another order).
create temp view pgtap_bf_queue_diff as
with v as (
  select queue_name, hour, total_batches, success_count, error_count,
         round(avg_processing_time_ms::numeric, 9) as avg_ms, total_messages_processed
  from monitoring.queue_metrics where queue_name like 'pgtap_bf_%'),
r as (
  select queue_name, hour, total_batches, success_count, error_count,
         round(avg_processing_time_ms::numeric, 9) as avg_ms, total_messages_processed
  from pgtap_bf_ref_queue)
(select * from v except all select * from r) union all (select * from r except all select * from v);

-- The p95 of an hour whose hour rollup is not trusted may be a sketch's estimate
-- (20261216000150): within 1% of percentile_cont; everything else exact.
create temp view pgtap_bf_api_diff as
with v as (
  select api_name, hour, total_calls, success_count, error_count,
         round(avg_success_time_ms::numeric, 9) as avg_ms
  from monitoring.api_metrics where api_name like 'pgtap_bf_%'),
r as (
  select api_name, hour, total_calls, success_count, error_count,
         round(avg_success_time_ms::numeric, 9) as avg_ms
  from pgtap_bf_ref_api)
(select * from v except all select * from r)
union all
(select * from r except all select * from v)
union all
select v.api_name, v.hour, null, null, null, round(v.p95_time_ms::numeric, 9)
from monitoring.api_metrics as v
join pgtap_bf_ref_api as r on r.api_name = v.api_name and r.hour = v.hour
where not (round(v.p95_time_ms::numeric, 9) = round(r.p95_time_ms::numeric, 9)
           or (abs(v.p95_time_ms - r.p95_time_ms) <= 0.01 * abs(r.p95_time_ms)
               and v.hour not in (select t.period_start from monitoring_internal.trusted_periods(
                                    'hour', now() - interval '8 days', now() + interval '1 day') as t)));

-- The dashboards' "last hour" (the previous and the current UTC hour), through the view's filter.
create temp view pgtap_bf_last_hour_diff as
with v as (
  select queue_name as name, hour, total_batches as n from monitoring.queue_metrics
  where hour >= date_trunc('hour', now(), 'UTC') - interval '1 hour' and queue_name like 'pgtap_bf_%'
  union all
  select api_name, hour, total_calls from monitoring.api_metrics
  where hour >= date_trunc('hour', now(), 'UTC') - interval '1 hour' and api_name like 'pgtap_bf_%'),
r as (
  select queue_name, hour, total_batches from pgtap_bf_ref_queue
  where hour >= date_trunc('hour', now(), 'UTC') - interval '1 hour'
  union all
  select api_name, hour, total_calls from pgtap_bf_ref_api
  where hour >= date_trunc('hour', now(), 'UTC') - interval '1 hour')
(select * from v except all select * from r) union all (select * from r except all select * from v);

-- get_system_health()'s processing numbers against raw rows of its window (all metrics, not only ours).
create temp view pgtap_bf_health_diff as
with h as (select public.get_system_health() -> 'processing_health' as p),
raw as (
  select count(*) filter (where m.metric_name = 'queue_processing') as total_batches,
         coalesce(sum(m.messages) filter (where m.metric_name = 'queue_processing'), 0) as messages,
         sum(m.success_count) filter (where m.metric_name = 'queue_processing') as successes,
         sum(m.error_count) filter (where m.metric_name = 'queue_processing') as errors,
         count(*) filter (where m.metric_name = 'api_call') as api_calls,
         count(*) filter (where m.metric_name = 'api_call' and m.tags ->> 'success' = 'false') as api_failed,
         count(*) filter (where m.metric_name = 'api_call' and m.tags ->> 'success' in ('true', 'false')) as api_known
  from monitoring_internal.parsed_metrics as m, monitoring.health_thresholds as th
  where th.setting = 'processing_window_minutes'
    and m.metric_name in ('queue_processing', 'api_call')
    and m."timestamp" >= now() - make_interval(secs => th.value * 60)
    and m."timestamp" <= now())
select k.key, k.got, k.want
from h, raw,
lateral (values
  ('total_batches', (h.p ->> 'total_batches')::numeric, raw.total_batches::numeric),
  ('messages_processed', (h.p ->> 'messages_processed')::numeric, raw.messages::numeric),
  ('api_calls', (h.p ->> 'api_calls')::numeric, raw.api_calls::numeric),
  ('batch_error_rate', (h.p ->> 'batch_error_rate')::numeric,
   round((raw.errors::double precision / nullif(raw.successes + raw.errors, 0))::numeric, 4)),
  ('api_error_rate', (h.p ->> 'api_error_rate')::numeric,
   round((raw.api_failed::double precision / nullif(raw.api_known, 0))::numeric, 4))) as k(key, got, want)
where k.got is distinct from k.want;

-- This transaction's writes are never covered by a seal it makes itself. To see
-- seals as a later reader would, a write is made to look committed by an earlier
-- transaction: its change records go, and so do the seals it made untrusted
-- and api spans it made untrusted (a refresh then seals those periods afresh, as
-- after a committed write).
create temp view pgtap_bf_own_changes as
select c.minute from monitoring_internal.rollup_changes as c where c.xid = pg_current_xact_id();
create function pg_temp.pgtap_bf_settle() returns void language sql as $$
  delete from monitoring_internal.rollup_seals as s
  using monitoring_internal.rollup_changes as c
  where c.xid = pg_current_xact_id()
    and ((s.kind = 'minute' and s.period_start = c.minute)
      or (s.kind = 'hour' and s.period_start = date_trunc('hour', c.minute, 'UTC')));
  delete from monitoring_internal.api_spans as s
  using monitoring_internal.rollup_changes as c
  where c.xid = pg_current_xact_id() and c.minute >= s.span_start and c.minute < s.span_end;
  delete from monitoring_internal.rollup_changes where xid = pg_current_xact_id();
$$;

-- Refresh runs until no hour is left, each run's result kept.
create temp table pgtap_bf_runs (phase text, run integer, r jsonb) on commit drop;
create function pg_temp.pgtap_bf_refresh(p_phase text, p_hours integer, p_max_runs integer) returns void
language plpgsql as $$
declare
  v jsonb;
begin
  for i in 1 .. p_max_runs loop
    v := monitoring_internal.refresh_rollups(p_hours);
    insert into pgtap_bf_runs values (p_phase, i, v);
    exit when (v ->> 'hours_left')::integer = 0;
  end loop;
end;
$$;

-- ------------------------------------------------------------ sealed periods
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_processing', 20 + g % 13,
       jsonb_build_object('queue', 'pgtap_bf_q' || (g % 2), 'success_count', g % 7, 'error_count', g % 2,
                          'batch_size', (g % 7) + (g % 2)),
       ts
from generate_series(1, 300) as g,
     lateral (values (current_setting('pgtap_bf.b0')::timestamptz + (g - 1) * interval '6 minutes'),
                     (current_setting('pgtap_bf.r0')::timestamptz + g * interval '1.5 seconds')) as v(ts);
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call', 1 + (g * 29) % 97,
       jsonb_build_object('api', 'pgtap_bf_a' || (g % 2), 'success', case when g % 6 = 0 then 'false' else 'true' end),
       ts
from generate_series(1, 300) as g,
     lateral (values (current_setting('pgtap_bf.b0')::timestamptz + (g - 1) * interval '6 minutes' + interval '7 seconds'),
                     (current_setting('pgtap_bf.r0')::timestamptz + g * interval '1.5 seconds')) as v(ts);
select pg_temp.pgtap_bf_settle();
select pg_temp.pgtap_bf_refresh('seal', 168, 10);

select is((select (r ->> 'hours_left')::integer from pgtap_bf_runs where phase = 'seal' order by run desc limit 1), 0,
  'the refresh seals every hour of the window (hours_left 0)');
select is((select count(*)::integer from monitoring_internal.trusted_periods('hour',
             current_setting('pgtap_bf.b0')::timestamptz, current_setting('pgtap_bf.b1')::timestamptz)), 30,
  'the 30 hours with test rows are sealed and trusted');
select is((select count(*)::integer from monitoring_internal.trusted_periods('minute',
             current_setting('pgtap_bf.r0')::timestamptz, current_setting('pgtap_bf.r1')::timestamptz)), 8,
  'the 8 recent minutes with test rows are sealed and trusted');
select is((select count(*)::integer from pgtap_bf_queue_diff), 0, 'queue_metrics equals raw rows (sealed)');
select is((select count(*)::integer from pgtap_bf_api_diff), 0, 'api_metrics equals raw rows (sealed)');

-- ------------------------------------------------------------ the back-fill: one INSERT ... SELECT
-- into every sealed hour and minute above, malformed count tags and odd success values included.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select case when g % 2 = 0 then 'queue_processing' else 'api_call' end,
       1 + (g * 31) % 211,
       case when g % 2 = 0
            then jsonb_build_object('queue', 'pgtap_bf_q' || (g % 3),
                                    'success_count', case when g % 10 = 0 then to_jsonb('x'::text) else to_jsonb(g % 9) end,
                                    'error_count', to_jsonb((g % 4)::text))
            else jsonb_build_object('api', 'pgtap_bf_a' || (g % 3),
                                    'success', case g % 5 when 0 then to_jsonb(false) when 1 then to_jsonb('maybe'::text)
                                                          else to_jsonb('true'::text) end) end,
       case when g <= 3600
            then current_setting('pgtap_bf.b0')::timestamptz + (g - 1) * interval '30 seconds' + interval '3 seconds'
            else current_setting('pgtap_bf.r0')::timestamptz + (g - 3601) * interval '0.4 seconds' end
from generate_series(1, 3600 + 1200) as g;

select ok((select count(distinct date_trunc('hour', minute, 'UTC'))::integer from pgtap_bf_own_changes
           where minute >= current_setting('pgtap_bf.b0')::timestamptz
             and minute < current_setting('pgtap_bf.b1')::timestamptz) = 30,
  'the back-fill recorded changes in all 30 hours (one statement, one trigger call)');
select is((select count(*)::integer from monitoring_internal.trusted_periods('hour',
             current_setting('pgtap_bf.b0')::timestamptz, current_setting('pgtap_bf.b1')::timestamptz)), 0,
  'no back-filled hour is trusted any more');
select is((select count(*)::integer from monitoring_internal.trusted_periods('minute',
             current_setting('pgtap_bf.r0')::timestamptz, current_setting('pgtap_bf.r1')::timestamptz)), 0,
  'no back-filled minute is trusted any more');
select is((select count(*)::integer from pgtap_bf_queue_diff), 0,
  'queue_metrics equals raw rows right after the back-fill (before any refresh)');
select is((select count(*)::integer from pgtap_bf_api_diff), 0,
  'api_metrics equals raw rows right after the back-fill (before any refresh)');
select is((select count(*)::integer from pgtap_bf_last_hour_diff), 0,
  'the views'' last hour equals raw rows right after the back-fill');
select is((select count(*)::integer from pgtap_bf_health_diff), 0,
  'get_system_health() processing numbers equal raw rows right after the back-fill');
select ok((select (public.get_system_health() -> 'processing_health' ->> 'total_batches')::bigint >= 600 + 300),
  'health counts the back-filled rows of its window');

-- ------------------------------------------------------------ the refresh catches up, newest hours first
select pg_temp.pgtap_bf_settle();
-- The hours of the window left untrusted now: ours, and any other a settled write touched.
create temp table pgtap_bf_untrusted on commit drop as
select g.h from generate_series(date_trunc('hour', now() - interval '7 days', 'UTC') + interval '1 hour',
                                date_trunc('hour', now() - interval '2 minutes', 'UTC') - interval '1 hour',
                                interval '1 hour') as g(h)
where g.h not in (select t.period_start
                  from monitoring_internal.trusted_periods('hour', now() - interval '7 days', now()) as t);
select pg_temp.pgtap_bf_refresh('first', 12, 1);
select is((select (r ->> 'hours_sealed')::integer from pgtap_bf_runs where phase = 'first'), 12,
  'a refresh limited to 12 hours seals 12');
select is((select (r ->> 'hours_left')::integer from pgtap_bf_runs where phase = 'first'),
          (select count(*)::integer - 12 from pgtap_bf_untrusted),
  'and says how many are left');
select is((select count(*)::integer from pgtap_bf_untrusted
           where h >= current_setting('pgtap_bf.b0')::timestamptz and h < current_setting('pgtap_bf.b1')::timestamptz), 30,
  'all 30 back-filled hours were waiting');
select is(array(select u.h from pgtap_bf_untrusted as u
                where u.h in (select t.period_start
                              from monitoring_internal.trusted_periods('hour', now() - interval '7 days', now()) as t)
                order by u.h desc),
          array(select u.h from pgtap_bf_untrusted as u order by u.h desc limit 12),
  'the 12 it sealed are the newest');
select is((select count(*)::integer from monitoring_internal.trusted_periods('minute',
             current_setting('pgtap_bf.r0')::timestamptz, current_setting('pgtap_bf.r1')::timestamptz)), 8,
  'the recent minutes are sealed in the same run');
select is((select count(*)::integer from pgtap_bf_queue_diff), 0, 'queue_metrics equals raw rows half-way');
select is((select count(*)::integer from pgtap_bf_api_diff), 0, 'api_metrics equals raw rows half-way');
select is((select count(*)::integer from pgtap_bf_health_diff), 0, 'health equals raw rows half-way');

select pg_temp.pgtap_bf_refresh('rest', 12, 20);
select ok((select bool_and((r ->> 'hours_left')::integer < prev)
           from (select r, lag((r ->> 'hours_left')::integer, 1,
                               (select (f.r ->> 'hours_left')::integer from pgtap_bf_runs as f where f.phase = 'first'))
                             over (order by run) as prev
                 from pgtap_bf_runs where phase = 'rest') as x),
  'hours_left decreases with every run');
select is((select (r ->> 'hours_left')::integer from pgtap_bf_runs where phase = 'rest' order by run desc limit 1), 0,
  'and reaches 0');
select is((select count(*)::integer from monitoring_internal.trusted_periods('hour',
             current_setting('pgtap_bf.b0')::timestamptz, current_setting('pgtap_bf.b1')::timestamptz)), 30,
  'every back-filled hour is sealed again');
select results_eq(
  $$select q.batches, q.success_count, q.messages from monitoring_internal.queue_hour_stats as q
    where q.hour = current_setting('pgtap_bf.b0')::timestamptz and q.queue_name = 'pgtap_bf_q0'$$,
  $$select count(*), sum(m.success_count)::bigint, sum(m.messages)::bigint
    from monitoring_internal.parsed_metrics as m
    where m.metric_name = 'queue_processing' and m.tags ->> 'queue' = 'pgtap_bf_q0'
      and m."timestamp" >= current_setting('pgtap_bf.b0')::timestamptz
      and m."timestamp" < current_setting('pgtap_bf.b0')::timestamptz + interval '1 hour'$$,
  'a re-sealed hour rollup counts the back-filled rows');
select is((select count(*)::integer from pgtap_bf_queue_diff), 0, 'queue_metrics equals raw rows (re-sealed)');
select is((select count(*)::integer from pgtap_bf_api_diff), 0, 'api_metrics equals raw rows (re-sealed)');

select * from finish();
rollback;

-- Rollups behind monitoring.queue_metrics, monitoring.api_metrics and the health
-- check (supabase/migrations/20261201000600..000900, 001100): the count-tag reading, the
-- change-tracking triggers, monitoring_internal.refresh_rollups(), and that the
-- views stay exactly what their raw-row definition gives, before and after a
-- refresh and after late inserts, updates and deletes. Test rows use their own
-- queue and api names, so other data in the database does not matter; the
-- health check is compared with a raw computation over the same snapshot.
begin isolation level repeatable read;
create extension if not exists pgtap with schema extensions;
select plan(45);

-- ------------------------------------------------------------ parsed count tags
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap_scale_parse', v.k, v.tags, timestamptz '2001-01-01 00:00+00' + v.k * interval '1 second'
from (values
  (1,  '{"success_count": 5, "error_count": 1}'::jsonb), (2, '{"success_count": 2.0}'),
  (3,  '{"success_count": " 7 "}'), (4, '{"success_count": 3.5}'), (5, '{"success_count": -1}'),
  (6,  '{"success_count": 1e30}'), (7, '{"success_count": "12345678901"}'), (8, '{"success_count": "abc"}'),
  (9,  '{"success_count": true}'), (10, '{"success_count": {"x": 1}}'), (11, '{}'),
  (12, '{"success_count": 4, "error_count": 1, "batch_size": 9}')
) as v(k, tags);
select results_eq(
  $$select success_count, messages from monitoring_internal.parsed_metrics
    where metric_name = 'pgtap_scale_parse' order by metric_value$$,
  $$values (5, 6), (2, null), (7, null), (null::integer, null::integer), (null, null), (null, null),
           (null, null), (null, null), (null, null), (null, null), (null, null), (4, 9)$$,
  'parsed_metrics reads count tags as the views do: whole numbers in range and short digit strings '
  'count, anything else is NULL; messages is batch_size, else success_count + error_count');

-- ------------------------------------------------------------ test data
-- h3: a complete hour 3 hours back; recent: minutes 10-20 minutes back; edge: the
-- first minutes after now() - 7 days; plus rows outside the window and in the future.
-- (settings, not a table: the queries below compare with values known at planning,
-- so their index ranges stay narrow on a big table)
do $$
begin
  perform set_config('pgtap_scale.h3', (date_trunc('hour', now(), 'UTC') - interval '3 hours')::text, true);
  perform set_config('pgtap_scale.recent', (date_trunc('minute', now(), 'UTC') - interval '20 minutes')::text, true);
  perform set_config('pgtap_scale.edge', (now() - interval '7 days')::text, true);
end;
$$;

-- ------------------------------------------------------------ reference (the spec-shaped raw views)
-- Restricted to the periods holding test rows, so it stays cheap on a big table.
create temp view pgtap_ref_queue as
select m.tags ->> 'queue' as queue_name, date_trunc('hour', m."timestamp", 'UTC') as hour,
       count(*) as total_batches,
       sum(m.success_count) as success_count,
       sum(m.error_count) as error_count,
       avg(m.metric_value) as avg_processing_time_ms,
       sum(m.messages) as total_messages_processed
from monitoring_internal.parsed_metrics as m
where m.metric_name = 'queue_processing' and m."timestamp" > now() - interval '7 days'
  and m.tags ->> 'queue' like 'pgtap_scale_%'
  and (m."timestamp" >= current_setting('pgtap_scale.h3')::timestamptz and m."timestamp" < current_setting('pgtap_scale.h3')::timestamptz + interval '1 hour'
       or m."timestamp" >= current_setting('pgtap_scale.recent')::timestamptz and m."timestamp" < current_setting('pgtap_scale.recent')::timestamptz + interval '16 minutes'
       or m."timestamp" > current_setting('pgtap_scale.edge')::timestamptz - interval '1 minute' and m."timestamp" < current_setting('pgtap_scale.edge')::timestamptz + interval '10 minutes'
       or m."timestamp" > now() + interval '1 hour')
group by 1, 2;

create temp view pgtap_ref_api as
select m.tags ->> 'api' as api_name, date_trunc('hour', m."timestamp", 'UTC') as hour,
       count(*) as total_calls,
       sum(case when m.tags ->> 'success' = 'true' then 1 else 0 end) as success_count,
       sum(case when m.tags ->> 'success' = 'false' then 1 else 0 end) as error_count,
       avg(case when m.tags ->> 'success' = 'true' then m.metric_value end) as avg_success_time_ms,
       percentile_cont(0.95) within group (order by m.metric_value) as p95_time_ms
from monitoring.pipeline_metrics as m
where m.metric_name = 'api_call' and m."timestamp" > now() - interval '7 days'
  and m.tags ->> 'api' like 'pgtap_scale_%'
  and (m."timestamp" >= current_setting('pgtap_scale.h3')::timestamptz and m."timestamp" < current_setting('pgtap_scale.h3')::timestamptz + interval '1 hour'
       or m."timestamp" >= current_setting('pgtap_scale.recent')::timestamptz and m."timestamp" < current_setting('pgtap_scale.recent')::timestamptz + interval '16 minutes')
group by 1, 2;

-- Rounded to 9 digits: a sum of rollups may add floats in another order than avg().
create temp view pgtap_queue_diff as
(select queue_name, hour, total_batches, success_count, error_count,
        round(avg_processing_time_ms::numeric, 9), total_messages_processed
 from monitoring.queue_metrics where queue_name like 'pgtap_scale_%'
 except all
 select queue_name, hour, total_batches, success_count, error_count,
        round(avg_processing_time_ms::numeric, 9), total_messages_processed from pgtap_ref_queue)
union all
(select queue_name, hour, total_batches, success_count, error_count,
        round(avg_processing_time_ms::numeric, 9), total_messages_processed from pgtap_ref_queue
 except all
 select queue_name, hour, total_batches, success_count, error_count,
        round(avg_processing_time_ms::numeric, 9), total_messages_processed
 from monitoring.queue_metrics where queue_name like 'pgtap_scale_%');

-- The p95 of an hour whose hour rollup is not trusted may be a sketch's estimate
-- (20261216000150): within 1% of percentile_cont; everything else exact.
create temp view pgtap_api_diff as
with v as (
  select api_name, hour, total_calls, success_count, error_count,
         round(avg_success_time_ms::numeric, 9) as avg_ms
  from monitoring.api_metrics where api_name like 'pgtap_scale_%'),
r as (
  select api_name, hour, total_calls, success_count, error_count,
         round(avg_success_time_ms::numeric, 9) as avg_ms from pgtap_ref_api)
(select * from v except all select * from r)
union all
(select * from r except all select * from v)
union all
select v.api_name, v.hour, null, null, null, round(v.p95_time_ms::numeric, 9)
from monitoring.api_metrics as v
join pgtap_ref_api as r on r.api_name = v.api_name and r.hour = v.hour
where not (round(v.p95_time_ms::numeric, 9) = round(r.p95_time_ms::numeric, 9)
           or (abs(v.p95_time_ms - r.p95_time_ms) <= 0.01 * abs(r.p95_time_ms)
               and v.hour not in (select t.period_start from monitoring_internal.trusted_periods(
                                    'hour', now() - interval '8 days', now() + interval '1 day') as t)));

insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_processing', 10 + g % 7 + g / 1000.0,
       jsonb_build_object('queue', 'pgtap_scale_q' || (g % 2), 'success_count', g % 5, 'error_count', g % 3,
                          'batch_size', case when g % 4 = 0 then null else (g % 5) + (g % 3) end),
       current_setting('pgtap_scale.h3')::timestamptz + g * interval '17 seconds'
from generate_series(1, 200) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_processing', g, jsonb_build_object('queue', 'pgtap_scale_q1', 'success_count', 'x' || g),
       current_setting('pgtap_scale.recent')::timestamptz + g * interval '5 seconds'
from generate_series(1, 120) as g;
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call', 1 + (g * 37) % 101,
       jsonb_build_object('api', 'pgtap_scale_a' || (g % 2),
                          'success', case g % 5 when 0 then 'false' when 1 then 'maybe' else 'true' end),
       ts
from generate_series(1, 300) as g,
     lateral (values (current_setting('pgtap_scale.h3')::timestamptz + g * interval '11 seconds'), (current_setting('pgtap_scale.recent')::timestamptz + g * interval '3 seconds')) as v(ts);
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_processing', 5, '{"queue": "pgtap_scale_q0", "success_count": 1}', ts
from lateral (values (current_setting('pgtap_scale.edge')::timestamptz + interval '30 seconds'), (current_setting('pgtap_scale.edge')::timestamptz + interval '5 minutes'),
                     (current_setting('pgtap_scale.edge')::timestamptz - interval '1 second'), (now() + interval '3 hours')) as v(ts);

-- ------------------------------------------------------------ change tracking
select ok(exists (select 1 from monitoring_internal.rollup_changes as c
                  where c.minute = current_setting('pgtap_scale.h3')::timestamptz and c.xid = pg_current_xact_id()),
  'an insert records the minutes it touched, with its transaction');
select ok(not exists (select 1 from monitoring_internal.rollup_changes as c
                      where c.minute < current_setting('pgtap_scale.edge')::timestamptz - interval '1 day' and c.xid = pg_current_xact_id()),
  'rows beyond the 8-day reach are not recorded');
insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp")
values ('pgtap_scale_other', 1, date_trunc('minute', now(), 'UTC') - interval '30 days' + interval '7 minutes');
select is((select count(*)::integer from monitoring_internal.rollup_changes as c
           where c.minute = date_trunc('minute', now(), 'UTC') - interval '30 days' + interval '7 minutes'), 0,
  'metrics the views do not read are not recorded');

select is((select count(*)::integer from pgtap_queue_diff), 0, 'queue_metrics equals its raw definition (nothing sealed)');
select is((select count(*)::integer from pgtap_api_diff), 0, 'api_metrics equals its raw definition (nothing sealed)');

-- ------------------------------------------------------------ refresh
select throws_ok($$select monitoring_internal.refresh_rollups(-1)$$, '22023', null, 'a negative hour budget is rejected');
select throws_ok($$select monitoring_internal.refresh_rollups(null)$$, '22023', null, 'a null hour budget is rejected');
select throws_ok($$select monitoring_internal.refresh_rollups(0, interval '31 seconds')$$, '22023', null,
  'a settle longer than 30 s is rejected');
select throws_ok($$select monitoring_internal.refresh_rollups(0, interval '-1 second')$$, '22023', null,
  'a negative settle is rejected');

-- Which minutes a run seals: those that ended at least the grace ago (a minute
-- by default, p_settle when given), read at the clock when the run starts. The
-- recent seals are removed first (rolled back with the test), so the run must
-- make them; t0/t1 bracket the run, so the checks hold across a minute boundary.
delete from monitoring_internal.rollup_seals where kind = 'minute' and period_start >= now() - interval '5 minutes';
create temp table pgtap_grace on commit drop as
select clock_timestamp() as t0, monitoring_internal.refresh_rollups(0) as r, clock_timestamp() as t1;
select ok(exists (select 1 from monitoring_internal.rollup_seals as s, pgtap_grace as g
                  where s.kind = 'minute'
                    and s.period_start = date_trunc('minute', g.t0 - interval '1 minute', 'UTC') - interval '1 minute'),
  'without p_settle, the minute that ended a minute ago is sealed');
select ok(not exists (select 1 from monitoring_internal.rollup_seals as s, pgtap_grace as g
                      where s.kind = 'minute'
                        and s.period_start >= date_trunc('minute', g.t1 - interval '1 minute', 'UTC')),
  'without p_settle, the minute just ended is not');
delete from monitoring_internal.rollup_seals where kind = 'minute' and period_start >= now() - interval '5 minutes';
create temp table pgtap_settle on commit drop as
select clock_timestamp() as t0, monitoring_internal.refresh_rollups(0, interval '2 seconds') as r,
       clock_timestamp() as t1;
select ok((select t1 >= date_trunc('minute', t0, 'UTC') + interval '2 seconds' from pgtap_settle),
  'with p_settle, the run waits until p_settle past the minute');
select ok(exists (select 1 from monitoring_internal.rollup_seals as s, pgtap_settle as g
                  where s.kind = 'minute'
                    and s.period_start = date_trunc('minute', g.t0 - interval '2 seconds', 'UTC') - interval '1 minute'),
  'with p_settle, the minute just ended is sealed');
select ok(not exists (select 1 from monitoring_internal.rollup_seals as s, pgtap_settle as g
                      where s.kind = 'minute'
                        and s.period_start >= date_trunc('minute', g.t1 - interval '2 seconds', 'UTC')),
  'and not the minute in progress');
select is((select command::text from cron.job where jobname = 'monitoring-rollup-refresh'),
  'select monitoring_internal.refresh_rollups(p_settle => interval ''5 seconds'')',
  'the cron job seals with a 5 s settle');
delete from monitoring_internal.rollup_seals
where kind = 'minute' and period_start >= now() - interval '5 minutes' and sealed_by = pg_current_xact_id();

-- This transaction's own writes are never covered by a seal it makes (a writer
-- sealing its own rows must not hide later ones). To see seals as a later
-- reader would, the test's writes are made to look committed before the
-- refresh: their change records go, and so do the seals they invalidated.
delete from monitoring_internal.rollup_seals as s
using monitoring_internal.rollup_changes as c
where c.xid = pg_current_xact_id()
  and ((s.kind = 'minute' and s.period_start = c.minute)
    or (s.kind = 'hour' and s.period_start = date_trunc('hour', c.minute, 'UTC')));
delete from monitoring_internal.rollup_changes where xid = pg_current_xact_id();
create temp table pgtap_r1 on commit drop as select monitoring_internal.refresh_rollups(200) as r;
select ok((select (r ->> 'hours_sealed')::integer >= 1 and (r ->> 'minutes_sealed')::integer >= 1 from pgtap_r1),
  'a refresh seals complete hours and minutes');
select ok(exists (select 1 from monitoring_internal.trusted_hours as h where h.hour = current_setting('pgtap_scale.h3')::timestamptz),
  'the complete hour with data is sealed and trusted');
select ok(exists (select 1 from monitoring_internal.trusted_minutes as m
                  where m.minute = current_setting('pgtap_scale.recent')::timestamptz + interval '2 minutes'),
  'a complete recent minute is sealed and trusted');
select ok(not exists (select 1 from monitoring_internal.rollup_seals as s
                      where s.period_start >= date_trunc('minute', now() - interval '1 minute', 'UTC')
                        and s.sealed_by = pg_current_xact_id()),
  'the minute in progress and the one just ended are not sealed by it');
select ok(exists (select 1 from monitoring_internal.trusted_minutes as m
                  where m.minute = date_trunc('minute', current_setting('pgtap_scale.edge')::timestamptz, 'UTC') + interval '3 minutes'),
  'minutes of the window''s first, partial hour are sealed');
select results_eq(
  $$select q.batches, q.success_count, q.error_count, q.messages from monitoring_internal.queue_hour_stats as q
    where q.hour = current_setting('pgtap_scale.h3')::timestamptz and q.queue_name = 'pgtap_scale_q0'$$,
  $$select count(*), sum(m.success_count)::bigint, sum(m.error_count)::bigint, sum(m.messages)::bigint
    from monitoring_internal.parsed_metrics as m
    where m.metric_name = 'queue_processing' and m.tags ->> 'queue' = 'pgtap_scale_q0'
      and m."timestamp" >= current_setting('pgtap_scale.h3')::timestamptz and m."timestamp" < current_setting('pgtap_scale.h3')::timestamptz + interval '1 hour'$$,
  'an hour rollup holds the hour''s counts');
select is((select monitoring_internal.refresh_rollups(200) ->> 'hours_sealed'), '0',
  'a second refresh finds nothing left to seal');

select is((select count(*)::integer from pgtap_queue_diff), 0, 'queue_metrics equals its raw definition (sealed)');
select is((select count(*)::integer from pgtap_api_diff), 0, 'api_metrics equals its raw definition (sealed)');

-- The views really read the rollups: a tampered rollup shows through...
update monitoring_internal.queue_hour_stats as q set batches = 999999
where q.hour = current_setting('pgtap_scale.h3')::timestamptz and q.queue_name = 'pgtap_scale_q0';
select is((select total_batches from monitoring.queue_metrics as v
           where v.queue_name = 'pgtap_scale_q0' and v.hour = current_setting('pgtap_scale.h3')::timestamptz), 999999::bigint,
  'queue_metrics takes a trusted hour from its rollup');
-- (recent minutes come from the minute rollup, or from the hour's once it is complete)
update monitoring_internal.api_minute_stats as a set calls = 888888
where a.minute = current_setting('pgtap_scale.recent')::timestamptz + interval '2 minutes' and a.api_name = 'pgtap_scale_a0';
update monitoring_internal.api_hour_stats as a set total_calls = 888888
where a.hour = date_trunc('hour', current_setting('pgtap_scale.recent')::timestamptz + interval '2 minutes', 'UTC')
  and a.api_name = 'pgtap_scale_a0';
-- (or from the span of the hour's minutes that the refresh merged)
update monitoring_internal.api_span_stats as a set calls = 888888
where a.span_start <= current_setting('pgtap_scale.recent')::timestamptz + interval '2 minutes'
  and a.span_end > current_setting('pgtap_scale.recent')::timestamptz + interval '2 minutes'
  and a.api_name = 'pgtap_scale_a0';
select ok((select total_calls >= 888888 from monitoring.api_metrics as v
           where v.api_name = 'pgtap_scale_a0' and v.hour = date_trunc('hour', current_setting('pgtap_scale.recent')::timestamptz + interval '2 minutes', 'UTC')),
  'api_metrics takes trusted periods from their rollups');

-- ... until a late write touches the period: then its raw rows are read again.
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'queue_processing', 1000, '{"queue": "pgtap_scale_q0", "success_count": 4, "batch_size": 4}',
       current_setting('pgtap_scale.h3')::timestamptz + interval '59 minutes';
insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'api_call', 5000, '{"api": "pgtap_scale_a0", "success": "false"}', current_setting('pgtap_scale.recent')::timestamptz + interval '2 minutes 30 seconds';
select is((select count(*)::integer from pgtap_queue_diff), 0, 'a late insert into a sealed hour shows at once (queue_metrics)');
select is((select count(*)::integer from pgtap_api_diff), 0, 'a late insert into a sealed minute shows at once (api_metrics)');

update monitoring.pipeline_metrics as m set metric_value = metric_value + 1
where m.metric_name = 'api_call' and m.tags ->> 'api' = 'pgtap_scale_a1'
  and m."timestamp" >= current_setting('pgtap_scale.h3')::timestamptz and m."timestamp" < current_setting('pgtap_scale.h3')::timestamptz + interval '10 minutes';
update monitoring.pipeline_metrics as m set "timestamp" = current_setting('pgtap_scale.recent')::timestamptz + interval '1 minute'
where m.metric_name = 'queue_processing' and m.tags ->> 'queue' = 'pgtap_scale_q1'
  and m."timestamp" >= current_setting('pgtap_scale.h3')::timestamptz and m."timestamp" < current_setting('pgtap_scale.h3')::timestamptz + interval '5 minutes';
select is((select count(*)::integer from pgtap_queue_diff), 0, 'an update moving rows between periods shows at once');
select is((select count(*)::integer from pgtap_api_diff), 0, 'an update of values shows at once');

delete from monitoring.pipeline_metrics as m
where m.metric_name = 'queue_processing' and m.tags ->> 'queue' = 'pgtap_scale_q1'
  and m."timestamp" >= current_setting('pgtap_scale.recent')::timestamptz and m."timestamp" < current_setting('pgtap_scale.recent')::timestamptz + interval '3 minutes';
select is((select count(*)::integer from pgtap_queue_diff), 0, 'a delete shows at once');
select ok(exists (select 1 from monitoring_internal.rollup_changes as c
                  where c.minute = current_setting('pgtap_scale.recent')::timestamptz + interval '1 minute' and c.xid = pg_current_xact_id()),
  'updates and deletes record the minutes they touched');

-- A refresh re-seals the touched periods from current data (the tampering is gone).
select is((select monitoring_internal.refresh_rollups(200) ->> 'hours_sealed')::integer >= 1, true,
  'a refresh re-seals hours a write made untrusted');
select results_eq(
  $$select q.batches from monitoring_internal.queue_hour_stats as q
    where q.hour = current_setting('pgtap_scale.h3')::timestamptz and q.queue_name = 'pgtap_scale_q0'$$,
  $$select count(*) from monitoring.pipeline_metrics as m
    where m.metric_name = 'queue_processing' and m.tags ->> 'queue' = 'pgtap_scale_q0'
      and m."timestamp" >= current_setting('pgtap_scale.h3')::timestamptz and m."timestamp" < current_setting('pgtap_scale.h3')::timestamptz + interval '1 hour'$$,
  'the re-sealed rollup counts the late row');
select is((select count(*)::integer from pgtap_queue_diff), 0, 'queue_metrics equals its raw definition (re-sealed)');
select is((select count(*)::integer from pgtap_api_diff), 0, 'api_metrics equals its raw definition (re-sealed)');

-- Rows outside the window are never counted; rows timestamped in the future are, as in the spec.
select ok(exists (select 1 from monitoring.queue_metrics where queue_name = 'pgtap_scale_q0'
                  and hour = date_trunc('hour', now() + interval '3 hours', 'UTC')),
  'a row timestamped in the future is shown, as the raw definition does');

-- ------------------------------------------------------------ health
-- The same counts as a raw computation over the window (this transaction's snapshot).
create temp table pgtap_health on commit drop as select public.get_system_health() as h;
create temp table pgtap_raw_health on commit drop as
select
  count(*) filter (where m.metric_name = 'queue_processing') as total_batches,
  coalesce(sum(m.messages) filter (where m.metric_name = 'queue_processing'), 0) as messages,
  count(*) filter (where m.metric_name = 'api_call') as api_calls
from monitoring_internal.parsed_metrics as m, monitoring.health_thresholds as th
where th.setting = 'processing_window_minutes'
  and m.metric_name in ('queue_processing', 'api_call')
  and m."timestamp" >= now() - make_interval(secs => th.value * 60)
  and m."timestamp" <= now();
select is((select (h -> 'processing_health' ->> 'total_batches')::bigint from pgtap_health),
          (select total_batches from pgtap_raw_health), 'health: total_batches as from raw rows');
select is((select (h -> 'processing_health' ->> 'messages_processed')::bigint from pgtap_health),
          (select messages from pgtap_raw_health), 'health: messages_processed as from raw rows');
select is((select (h -> 'processing_health' ->> 'api_calls')::bigint from pgtap_health),
          (select api_calls from pgtap_raw_health), 'health: api_calls as from raw rows');

-- ------------------------------------------------------------ pruning
insert into monitoring_internal.rollup_seals (kind, period_start, snap, sealed_by)
values ('hour', date_trunc('hour', now() - interval '9 days', 'UTC'), pg_current_snapshot(), pg_current_xact_id());
select ok((select (monitoring_internal.refresh_rollups(0) ->> 'seals_pruned')::integer >= 1),
  'a refresh prunes seals older than 8 days');
select ok(not exists (select 1 from monitoring_internal.rollup_seals
                      where kind in ('minute', 'hour') and period_start < now() - interval '8 days'),
  'and none of the views'' seals is left (aggregated periods keep theirs 14 days: 09_late_rows.sql)');

-- ------------------------------------------------------------ access
select ok(not has_schema_privilege('anon', 'monitoring_internal', 'usage')
          and not has_schema_privilege('authenticated', 'monitoring_internal', 'usage'),
  'anon and authenticated cannot enter monitoring_internal');
select ok(not has_function_privilege('service_role', 'monitoring_internal.track_metric_inserts()', 'execute'),
  'nobody but the owner executes the trigger functions');

select * from finish();
rollback;

-- public.queue_monitoring_view: per queue, its depth, stuck messages and last
-- check time. The spec's health check reads it but never defines it.
--
-- Owns: monitoring.queue_status() (SECURITY DEFINER, the only reader of pgmq)
-- and the view public.queue_monitoring_view over it.
--
-- Two sources, so the migration deploys and works with or without Supabase
-- Queues (pgmq):
-- * source 'pgmq': when pgmq.metrics_all() exists (pgmq 1.4: queue_name,
--   queue_length, newest_msg_age_sec, oldest_msg_age_sec, total_messages,
--   scrape_time). It is looked up at call time (to_regprocedure + dynamic
--   SQL), so nothing here depends on pgmq being installed.
-- * source 'snapshot': the latest row per queue in monitoring.queue_snapshots
--   that is fresher than queue_snapshot_max_age_minutes (default 60), for
--   queues outside pgmq; a pgmq queue of the same name wins. A queue that has
--   stopped reporting drops out instead of showing an old state forever.
--
-- "Stuck": a message is stuck when it has waited in the queue longer than
-- queue_stuck_after_seconds (monitoring.health_thresholds, default 600 s).
-- * pgmq: metrics_all() gives only the queue length and the oldest message's
--   age. When the oldest message is younger than the threshold, no message is
--   stuck (exact, no extra query). Otherwise the stuck messages are counted in
--   the queue's table (enqueued_at older than the threshold); this costs no
--   more than the count metrics_all() already did. If that table cannot be
--   found, 1 is reported: a lower bound that still flags the queue.
--   The table is named as pgmq names it (pgmq.format_table_name in pgmq 1.4
--   and 1.5): lower('q_' || queue_name), quoted as an identifier (%I), while
--   pgmq.meta and metrics_all() keep the name as created. So queue 'Fid_Mixed'
--   lives in pgmq.q_fid_mixed and queue 'orders-eu' in pgmq."q_orders-eu".
-- * snapshot: the reporter counts stuck messages with the same definition and
--   writes stuck_messages; it is taken as reported.

create or replace function monitoring.queue_status()
returns table (
  queue_name         text,
  queue_length       bigint,
  stuck_messages     bigint,
  oldest_msg_age_sec integer,
  last_check_time    timestamptz,
  source             text
)
language plpgsql
stable
-- Definer: reading pgmq needs the owner's rights; callers need only EXECUTE,
-- which service_role alone holds.
security definer
set search_path = ''
as $$
declare
  v_stuck_after   double precision;
  v_max_age       double precision;
  v_metrics_fn    regprocedure := to_regprocedure('pgmq.metrics_all()');
  v_pgmq_queues   text[] := array[]::text[];
  v_queue_table   regclass;
  v_stuck         bigint;
  v_q_name        text;
  v_q_length      bigint;
  v_q_oldest      integer;
  v_q_time        timestamptz;
begin
  select
    max(t.value) filter (where t.setting = 'queue_stuck_after_seconds'),
    max(t.value) filter (where t.setting = 'queue_snapshot_max_age_minutes')
  into v_stuck_after, v_max_age
  from monitoring.health_thresholds as t;
  if v_stuck_after is null or v_max_age is null then
    raise exception using errcode = 'P0002',
      message = 'monitoring.health_thresholds lacks queue_stuck_after_seconds or queue_snapshot_max_age_minutes';
  end if;

  if v_metrics_fn is not null then
    -- The function found above, by oid: nothing names pgmq at compile time.
    for v_q_name, v_q_length, v_q_oldest, v_q_time in execute format(
      'select m.queue_name::text as q_name, m.queue_length::bigint as q_length,
              m.oldest_msg_age_sec::integer as q_oldest, m.scrape_time::timestamptz as q_time
         from %s() as m', v_metrics_fn::oid::regproc)
    loop
      v_stuck := 0;
      if coalesce(v_q_oldest, 0) >= v_stuck_after then
        v_queue_table := to_regclass(format('pgmq.%I', lower('q_' || v_q_name)));
        if v_queue_table is null then
          v_stuck := 1;
        else
          execute format('select count(*) from %s where enqueued_at < $1', v_queue_table)
            into v_stuck
            using now() - make_interval(secs => v_stuck_after);
        end if;
      end if;
      v_pgmq_queues := v_pgmq_queues || v_q_name;
      queue_name         := v_q_name;
      queue_length       := v_q_length;
      stuck_messages     := v_stuck;
      oldest_msg_age_sec := v_q_oldest;
      last_check_time    := v_q_time;
      source             := 'pgmq';
      return next;
    end loop;
  end if;

  -- Latest fresh snapshot per queue: a range scan of queue_snapshots_captured_at_idx.
  return query
  select distinct on (s.queue_name)
    s.queue_name, s.queue_length, s.stuck_messages, s.oldest_msg_age_sec, s.captured_at, 'snapshot'::text
  from monitoring.queue_snapshots as s
  where s.captured_at >= now() - make_interval(secs => v_max_age * 60)
    and s.queue_name <> all (v_pgmq_queues)
  order by s.queue_name, s.captured_at desc;
end;
$$;

comment on function monitoring.queue_status() is
  'Per queue: length, stuck messages (waiting > queue_stuck_after_seconds), oldest age, check time, '
  'source pgmq|snapshot. Works with and without pgmq.';

create or replace view public.queue_monitoring_view
with (security_invoker = true)
as
select q.queue_name, q.queue_length, q.stuck_messages, q.oldest_msg_age_sec, q.last_check_time, q.source
from monitoring.queue_status() as q;

comment on view public.queue_monitoring_view is
  'Per queue: depth, stuck messages, oldest message age, last check time; from pgmq or queue snapshots.';

revoke all on function monitoring.queue_status() from public, anon, authenticated;
grant execute on function monitoring.queue_status() to service_role;
revoke all on public.queue_monitoring_view from public, anon, authenticated, service_role;
grant select on public.queue_monitoring_view to service_role;

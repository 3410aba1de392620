-- monitoring.queue_metrics and monitoring.api_metrics: the spec's views, same
-- columns, made robust and safe.
--
-- * A malformed tag never fails the view. The spec cast
--   (tags->>'success_count')::integer, so one row with "abc" broke the view for
--   everyone. Counts are now read by type: a JSON number that is a whole number
--   in 0..2147483647, or a string of up to 9 digits; anything else counts as
--   missing (NULL, ignored by SUM). Nested CASEs, not AND, guarantee the cast
--   runs only after its guard (SQL does not promise AND evaluation order).
--   Numbers are cast jsonb -> numeric directly (no text round trip): this
--   parsing costs about a second per 700 000 rows over the plain cast.
-- * total_messages_processed uses batch_size, falling back to
--   success_count + error_count when a writer sends no batch_size (the spec's
--   own TypeScript example does not).
-- * Hours are UTC hours, whatever the session time zone.
-- * security_invoker: the caller's privileges and RLS apply (service_role only).
-- * Both filter on (metric_name, "timestamp"): an index range scan over the last
--   7 days (pipeline_metrics_name_timestamp_idx).

create or replace view monitoring.queue_metrics
with (security_invoker = true)
as
select
  m.tags ->> 'queue'                             as queue_name,
  date_trunc('hour', m."timestamp", 'UTC')       as hour,
  count(*)                                       as total_batches,
  sum(c.success_count)                           as success_count,
  sum(c.error_count)                             as error_count,
  avg(m.metric_value)                            as avg_processing_time_ms,
  sum(coalesce(c.batch_size, c.success_count + c.error_count)) as total_messages_processed
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
) as c
where m.metric_name = 'queue_processing'
  and m."timestamp" > now() - interval '7 days'
group by m.tags ->> 'queue', date_trunc('hour', m."timestamp", 'UTC')
order by queue_name, hour desc;

comment on view monitoring.queue_metrics is
  'Per queue and UTC hour over the last 7 days: batches, successes, errors, mean batch time, messages. '
  'Malformed count tags are ignored, not fatal.';

-- api_metrics: the spec compares tags->>'success' with 'true'/'false' as text,
-- which cannot fail and accepts both the string "true" and the JSON boolean true.
create or replace view monitoring.api_metrics
with (security_invoker = true)
as
select
  m.tags ->> 'api'                               as api_name,
  date_trunc('hour', m."timestamp", 'UTC')       as hour,
  count(*)                                       as total_calls,
  sum(case when m.tags ->> 'success' = 'true'  then 1 else 0 end) as success_count,
  sum(case when m.tags ->> 'success' = 'false' then 1 else 0 end) as error_count,
  avg(case when m.tags ->> 'success' = 'true' then m.metric_value end) as avg_success_time_ms,
  percentile_cont(0.95) within group (order by m.metric_value)    as p95_time_ms
from monitoring.pipeline_metrics as m
where m.metric_name = 'api_call'
  and m."timestamp" > now() - interval '7 days'
group by m.tags ->> 'api', date_trunc('hour', m."timestamp", 'UTC')
order by api_name, hour desc;

comment on view monitoring.api_metrics is
  'Per API and UTC hour over the last 7 days: calls, successes, errors, mean success time, p95 time.';

revoke all on monitoring.queue_metrics, monitoring.api_metrics from public, anon, authenticated;
grant select on monitoring.queue_metrics, monitoring.api_metrics to service_role;

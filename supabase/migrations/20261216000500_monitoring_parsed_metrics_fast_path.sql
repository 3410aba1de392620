-- Count tags parse with a digits-only fast path before the exact rules.
--
-- Owns (replaces): the view monitoring_internal.parsed_metrics (20261201000600,
-- released, so redefined here; same columns, same values). Every reader of raw
-- rows goes through it: the views' untrusted hours and last minutes, the
-- health check's window, refresh_rollups().
--
-- Why: right after a back-fill that reaches now (one INSERT ... SELECT of 30
-- million rows over 14 days), get_system_health() reads its 15-minute window
-- raw (~22 000 rows, no rollup has them yet) and most of its time went to the
-- count-tag parsing: 56.5 ms (target 50 ms). The exact rules look each tag up
-- five times (jsonb_typeof, three numeric casts, the integer cast). A count as
-- the SDK writes it, a JSON number or string of plain digits, is now taken by
-- its text, a length and an ltrim of the digits, and the integer cast;
-- measured side by side on that window (docs/performance-sql.md): health 52.0
-- -> 34.0 ms median at load 0.4 with a regular expression for the digits test,
-- which itself cost ~0.7 us a tag (ltrim: ~0.15 us; 3 tags a queue row).
--
-- Exact: text of up to 9 digits and nothing else is what both exact rules
-- accept for it, with the same integer: a JSON number whose text is digits
-- only is a whole number in 0..999999999 (jsonb prints a number as its
-- numeric value: 2.0 stays "2.0", 1e30 is 31 digits); a JSON string of digits
-- matches the string rule's pattern. Everything else (fractions, signs,
-- exponents, spaces, 10+ digits, booleans, objects, null) falls through to the
-- rules of 20261201000600, unchanged (supabase/tests/04_views.sql).
create or replace view monitoring_internal.parsed_metrics
with (security_invoker = true)
as
select m.id, m.metric_name, m.metric_value, m.tags, m."timestamp", m.created_at,
       c.success_count, c.error_count, c.batch_size,
       coalesce(c.batch_size, c.success_count + c.error_count) as messages
from monitoring.pipeline_metrics as m
cross join lateral (
  select
    case when length(m.tags ->> 'success_count') between 1 and 9
              and ltrim(m.tags ->> 'success_count', '0123456789') = '' then (m.tags ->> 'success_count')::integer
    else case jsonb_typeof(m.tags -> 'success_count')
      when 'number' then case when (m.tags -> 'success_count')::numeric between 0 and 2147483647
                               and (m.tags -> 'success_count')::numeric = trunc((m.tags -> 'success_count')::numeric)
                              then (m.tags -> 'success_count')::integer end
      when 'string' then case when (m.tags ->> 'success_count') ~ '^\s*[0-9]{1,9}\s*$'
                              then (m.tags ->> 'success_count')::integer end
    end end as success_count,
    case when length(m.tags ->> 'error_count') between 1 and 9
              and ltrim(m.tags ->> 'error_count', '0123456789') = '' then (m.tags ->> 'error_count')::integer
    else case jsonb_typeof(m.tags -> 'error_count')
      when 'number' then case when (m.tags -> 'error_count')::numeric between 0 and 2147483647
                               and (m.tags -> 'error_count')::numeric = trunc((m.tags -> 'error_count')::numeric)
                              then (m.tags -> 'error_count')::integer end
      when 'string' then case when (m.tags ->> 'error_count') ~ '^\s*[0-9]{1,9}\s*$'
                              then (m.tags ->> 'error_count')::integer end
    end end as error_count,
    case when length(m.tags ->> 'batch_size') between 1 and 9
              and ltrim(m.tags ->> 'batch_size', '0123456789') = '' then (m.tags ->> 'batch_size')::integer
    else case jsonb_typeof(m.tags -> 'batch_size')
      when 'number' then case when (m.tags -> 'batch_size')::numeric between 0 and 2147483647
                               and (m.tags -> 'batch_size')::numeric = trunc((m.tags -> 'batch_size')::numeric)
                              then (m.tags -> 'batch_size')::integer end
      when 'string' then case when (m.tags ->> 'batch_size') ~ '^\s*[0-9]{1,9}\s*$'
                              then (m.tags ->> 'batch_size')::integer end
    end end as batch_size
) as c;

comment on view monitoring_internal.parsed_metrics is
  'pipeline_metrics with count tags parsed as the views read them (malformed values are NULL).';

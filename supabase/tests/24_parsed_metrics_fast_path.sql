-- monitoring_internal.parsed_metrics (20261216000500): the digits-only fast path
-- gives exactly what release 0.2.0's rules (20261201000600) give, for every kind
-- of count tag: numbers, digit strings, fractions, signs, exponents, spaces,
-- 10+ digits, booleans, objects, arrays, null, a missing key.
begin;
create extension if not exists pgtap with schema extensions;
select plan(3);

create temp table pgtap_counts (v jsonb) on commit drop;
insert into pgtap_counts values
  ('0'), ('7'), ('999999999'), ('1000000000'), ('2147483647'), ('2147483648'), ('-1'), ('-0'),
  ('2.0'), ('2.5'), ('1e2'), ('1e30'), ('1E-2'), ('0.0'), ('"0"'), ('"007"'), ('" 7 "'), ('"7 "'),
  ('"-1"'), ('"+1"'), ('"1e2"'), ('"2.0"'), ('"1234567890"'), ('"123456789"'), ('""'), ('"abc"'),
  ('"１２"'), ('true'), ('false'), ('null'), ('{"x": 1}'), ('[1]'), (null);

insert into monitoring.pipeline_metrics (metric_name, metric_value, tags, "timestamp")
select 'pgtap_fast_path', row_number() over (),
       jsonb_build_object('queue', 'pgtap_fast_path')
         || case when c.v is null then '{}'::jsonb  -- the keys missing
                 else jsonb_build_object('success_count', c.v, 'error_count', c.v, 'batch_size', c.v) end,
       now() - interval '1 hour'
from pgtap_counts as c;

select is((select count(*)::integer from monitoring.pipeline_metrics where metric_name = 'pgtap_fast_path'),
          (select count(*)::integer from pgtap_counts), 'one row per count value');

-- The rules of 20261201000600, written out for one key.
create function pg_temp.exact(t jsonb, k text) returns integer language sql immutable as $$
  select case jsonb_typeof(t -> k)
    when 'number' then case when (t -> k)::numeric between 0 and 2147483647
                             and (t -> k)::numeric = trunc((t -> k)::numeric)
                            then (t -> k)::integer end
    when 'string' then case when (t ->> k) ~ '^\s*[0-9]{1,9}\s*$' then (t ->> k)::integer end
  end
$$;

select is_empty($$
  select m.tags from monitoring_internal.parsed_metrics as m
  where m.metric_name = 'pgtap_fast_path'
    and (m.success_count is distinct from pg_temp.exact(m.tags, 'success_count')
         or m.error_count is distinct from pg_temp.exact(m.tags, 'error_count')
         or m.batch_size is distinct from pg_temp.exact(m.tags, 'batch_size')
         or m.messages is distinct from coalesce(pg_temp.exact(m.tags, 'batch_size'),
                                                 pg_temp.exact(m.tags, 'success_count')
                                                 + pg_temp.exact(m.tags, 'error_count')))$$,
  'fast path and exact rules agree on every count value');

select is((select count(m.success_count)::integer from monitoring_internal.parsed_metrics as m
           where m.metric_name = 'pgtap_fast_path'),
          14, 'the well-formed values are read: 0 7 999999999 1000000000 2147483647 -0 2.0 1e2 0.0 '
              '"0" "007" " 7 " "7 " "123456789"');

select * from finish();
rollback;

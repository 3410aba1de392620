-- monitoring.alert_silences: RLS on, only service_role reaches it (no DELETE:
-- silences are expired, not removed), and the constraints refuse rows the
-- alerter could not interpret: no matcher, a one-off without an end, a
-- recurrence with bad weekdays or an empty window.
begin;
create extension if not exists pgtap with schema extensions;
select plan(14);

select has_table('monitoring', 'alert_silences', 'the silences table exists');
select ok((select relrowsecurity from pg_catalog.pg_class where oid = 'monitoring.alert_silences'::regclass),
  'RLS is enabled on monitoring.alert_silences');
select table_privs_are('monitoring', 'alert_silences', r, array[]::text[], format('%s has no privilege on alert_silences', r))
from unnest(array['anon', 'authenticated']) as r;
select table_privs_are('monitoring', 'alert_silences', 'service_role', array['SELECT', 'INSERT', 'UPDATE'],
  'service_role reads, adds and expires silences but cannot delete them');
select is_empty(
  $$select 1 from pg_catalog.pg_class c, aclexplode(c.relacl) a
    where c.oid = 'monitoring.alert_silences'::regclass and a.grantee = 0$$,
  'PUBLIC has no privilege on alert_silences');

set local role service_role;

select lives_ok(
  $$insert into monitoring.alert_silences (created_by, comment, rule_name, ends_at)
    values ('ops', 'deploy', 'api_error_rate', now() + interval '1 hour')$$,
  'a one-off silence with an end is accepted');
select lives_ok(
  $$insert into monitoring.alert_silences (created_by, comment, labels, recurrence_days, window_start, window_end)
    values ('ops', 'weekly maintenance', '{"api": "stripe"}', array[7]::smallint[], '02:00', '04:00')$$,
  'a recurring Sunday 02:00-04:00 window is accepted');
select throws_ok(
  $$insert into monitoring.alert_silences (created_by, comment, ends_at)
    values ('ops', 'everything', now() + interval '1 hour')$$,
  '23514', null, 'a silence without any matcher is refused');
select throws_ok(
  $$insert into monitoring.alert_silences (created_by, comment, rule_name)
    values ('ops', 'forever', 'overall_status')$$,
  '23514', null, 'a one-off silence without an end is refused');
select throws_ok(
  $$insert into monitoring.alert_silences (created_by, comment, rule_name, recurrence_days, window_start, window_end)
    values ('ops', 'bad day', 'overall_status', array[0]::smallint[], '02:00', '04:00')$$,
  '23514', null, 'a weekday outside 1..7 is refused');
select throws_ok(
  $$insert into monitoring.alert_silences (created_by, comment, rule_name, recurrence_days, window_start, window_end)
    values ('ops', 'empty window', 'overall_status', array[1]::smallint[], '02:00', '02:00')$$,
  '23514', null, 'a window that starts where it ends is refused');
select throws_ok(
  $$insert into monitoring.alert_silences (created_by, comment, rule_name, starts_at, ends_at)
    values ('ops', 'backwards', 'overall_status', now(), now() - interval '1 minute')$$,
  '23514', null, 'an end before the start is refused');
select throws_ok(
  $$delete from monitoring.alert_silences$$,
  '42501', null, 'service_role cannot delete silences');

reset role;
select * from finish();
rollback;

-- monitoring_internal.uncovered_minutes (20261216000100): the runs of minutes
-- every raw reader reads (queue_hour_rows, api_hour_rows, health_raw_stats).
-- A pure function of its arguments: no data involved.
begin;
create extension if not exists pgtap with schema extensions;
select plan(7);

create function pg_temp.runs(p_from text, p_to text, p_covered text[])
returns text
language sql
as $$
  select coalesce(string_agg(to_char(u.lo at time zone 'UTC', 'HH24:MI') || '-'
                             || to_char(u.hi at time zone 'UTC', 'HH24:MI'), ' ' order by u.lo), '')
  from monitoring_internal.uncovered_minutes(
         ('2026-12-01 ' || p_from || '+00')::timestamptz,
         ('2026-12-01 ' || p_to || '+00')::timestamptz,
         array(select ('2026-12-01 ' || c || '+00')::timestamptz from unnest(p_covered) as c)) as u;
$$;

select is(pg_temp.runs('10:00', '11:00', '{}'), '10:00-11:00',
          'nothing covered: the whole range is one run');
select is(pg_temp.runs('10:00', '11:00', '{10:00,10:01,10:30,10:59}'), '10:02-10:30 10:31-10:59',
          'covered minutes split the range into runs; covered ends shorten it');
select is(pg_temp.runs('10:00', '10:03', '{10:00,10:01,10:02}'), '',
          'every minute covered: no run');
select is(pg_temp.runs('10:00', '10:05', '{09:59,10:05,12:00}'), '10:00-10:05',
          'covered minutes outside the range change nothing');
select is(pg_temp.runs('10:00', '10:00', '{}'), '',
          'an empty range has no run');
select is(pg_temp.runs('10:00', '10:01', '{}'), '10:00-10:01',
          'a one-minute range is one run');
select is(pg_temp.runs('10:00', '10:10', '{10:01,10:03,10:05,10:07,10:09}'),
          '10:00-10:01 10:02-10:03 10:04-10:05 10:06-10:07 10:08-10:09',
          'alternate minutes: one run each');

select * from finish();
rollback;

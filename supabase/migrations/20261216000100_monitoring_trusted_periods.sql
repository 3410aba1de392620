-- Which of the views' minute/hour rollups are trusted, for a range of periods,
-- at a cost that does not grow with the change records a back-fill leaves.
--
-- Owns: monitoring_internal.trusted_periods(text, timestamptz, timestamptz), and
-- monitoring_internal.uncovered_minutes(timestamptz, timestamptz, timestamptz[]):
-- the other side of the question, the runs of minutes a reader reads raw.
-- (The views monitoring_internal.trusted_hours / trusted_minutes of
-- 20261201000600 stay, unchanged, for ad-hoc reading; the readers use this.)
--
-- Why: the readers asked "is this period trusted?" through those views, which
-- the planner joins against rollup_changes as a whole. Once a back-fill of 14
-- days has left a change record in every minute (20,160 rows, statistics not
-- yet updated), that join can cost every reader a pass over all change records
-- per seal. Here the question is asked seal by seal within [p_from, p_to), and
-- answered by a probe of the seal's own minutes on rollup_changes' primary key
-- (minute, xid) that stops at the first change the seal did not see: a
-- subquery with OFFSET 0, which the planner keeps as a per-seal probe instead
-- of flattening it into a join. A back-filled period is answered by its first
-- change record; a trusted one by its few (steady state: none, refresh deletes
-- covered ones).
--
-- The probe is always an index range scan (enable_seqscan = off for this
-- function): once the refresh has deleted a back-fill's change records, the
-- table and its primary key keep their pages (a heap of 110 pages, an index of
-- 186, holding a handful of rows), and the planner, costing an index scan by
-- pages per index tuple, chose a sequential scan of every page per seal.
-- Measured at 30 M raw rows in the steady state (no change records left): 167
-- hour seals 1.7 ms and 18,376 buffers that way, 0.17 ms and 173 buffers
-- through the index, a tenth of each steady-state view read. Where records are
-- live the index scan stops at the first the seal did not see, so no state of
-- the table makes the sequential scan the better plan.
--
-- The rule is the one of 20261201000600: a seal is trusted when every change
-- to its minutes was visible to its snapshot and not made by the sealing
-- transaction. Kinds: 'minute' and 'hour' (the views' rollups); any other kind
-- has no periods here.

create or replace function monitoring_internal.trusted_periods(p_kind text, p_from timestamptz, p_to timestamptz)
returns table (period_start timestamptz)
language sql
stable
rows 60
set search_path = ''
set enable_seqscan = off
as $$
  select s.period_start
  from monitoring_internal.rollup_seals as s
  where s.kind = p_kind
    and p_kind in ('minute', 'hour')
    and s.period_start >= p_from
    and s.period_start < p_to
    and not exists (
      select 1
      from monitoring_internal.rollup_changes as c
      where c.minute >= s.period_start
        and c.minute < s.period_start + case p_kind when 'hour' then interval '1 hour' else interval '1 minute' end
        and (c.xid = s.sealed_by or not pg_visible_in_snapshot(c.xid, s.snap))
      offset 0);
$$;

comment on function monitoring_internal.trusted_periods(text, timestamptz, timestamptz) is
  'Starts of the trusted minute or hour rollups (p_kind) in [p_from, p_to): one probe per seal.';

revoke all on function monitoring_internal.trusted_periods(text, timestamptz, timestamptz)
  from public, anon, authenticated;
grant execute on function monitoring_internal.trusted_periods(text, timestamptz, timestamptz) to service_role;

-- The runs of minutes a reader reads raw: the minutes from p_from (a minute
-- start) to before p_to that p_covered (trusted rollups it reads instead) does
-- not hold, as [lo, hi) ranges, one index range scan of the raw table each.
-- Contiguous minutes share a run (gaps and islands: a minute minus its rank is
-- constant along a run).
create or replace function monitoring_internal.uncovered_minutes(
  p_from timestamptz, p_to timestamptz, p_covered timestamptz[])
returns table (lo timestamptz, hi timestamptz)
language sql
stable
rows 4
set search_path = ''
as $$
  select min(u.m), max(u.m) + interval '1 minute'
  from (
    select g.m, g.m - (row_number() over (order by g.m)) * interval '1 minute' as island
    from generate_series(p_from, p_to - interval '1 minute', interval '1 minute') as g(m)
    where g.m <> all (p_covered)
  ) as u
  group by u.island
  order by 1;
$$;

comment on function monitoring_internal.uncovered_minutes(timestamptz, timestamptz, timestamptz[]) is
  'Runs [lo, hi) of the minutes of [p_from, p_to) not in p_covered: what a reader reads raw.';

revoke all on function monitoring_internal.uncovered_minutes(timestamptz, timestamptz, timestamptz[])
  from public, anon, authenticated;
grant execute on function monitoring_internal.uncovered_minutes(timestamptz, timestamptz, timestamptz[])
  to service_role;

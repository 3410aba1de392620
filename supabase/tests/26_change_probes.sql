-- The readers' change-record probes (monitoring_internal.trusted_periods,
-- 20261216000100; monitoring_internal.api_span_end, 20261216000150) are index
-- range scans of rollup_changes in every state of the table, in particular the
-- one a back-fill leaves: many change records written, then deleted by the
-- refresh, so the heap and its primary key keep their pages for a few rows and
-- the planner would rather read every page once per seal.
-- Seals and spans of this test lie in the year 2100, so other data does not
-- matter; the scans are counted in this transaction's own table statistics.
begin;
create extension if not exists pgtap with schema extensions;
select plan(6);

-- 48 hour seals and 10 one-hour spans, every change before them visible.
insert into monitoring_internal.rollup_seals (kind, period_start, snap, sealed_by)
select 'hour', timestamptz '2100-01-01 00:00+00' + g * interval '1 hour', pg_current_snapshot(), '1'::xid8
from generate_series(0, 47) as g;
insert into monitoring_internal.api_spans (span_start, span_end, snap, sealed_by)
select timestamptz '2100-01-01 00:00+00' + g * interval '1 hour',
       timestamptz '2100-01-01 01:00+00' + g * interval '1 hour', pg_current_snapshot(), '1'::xid8
from generate_series(0, 9) as g;

-- What a back-fill leaves once the refresh has cleared its records: a table of
-- many pages and a few live rows (two here, a month after the seals), and
-- statistics that say so. (With no row at all the planner takes the index.)
insert into monitoring_internal.rollup_changes (minute, xid)
select timestamptz '2100-02-01 00:00+00' + g * interval '1 minute', pg_current_xact_id()
from generate_series(1, 30000) as g;
delete from monitoring_internal.rollup_changes where minute >= timestamptz '2100-02-01 00:03+00';
analyze monitoring_internal.rollup_changes;
select cmp_ok((select relpages from pg_class where oid = 'monitoring_internal.rollup_changes'::regclass),
              '>=', 100, 'the change records left their pages behind (the state a back-fill leaves)');

create temp table pgtap_scans as
select seq_scan, idx_scan from pg_stat_xact_all_tables where relid = 'monitoring_internal.rollup_changes'::regclass;

select is((select count(*)::integer from monitoring_internal.trusted_periods(
             'hour', timestamptz '2100-01-01 00:00+00', timestamptz '2100-01-03 00:00+00')),
          48, 'every hour seal without a change record is trusted');
select is((select count(*)::integer from generate_series(0, 9) as g
           where monitoring_internal.api_span_end(timestamptz '2100-01-01 00:00+00' + g * interval '1 hour',
                                                  timestamptz '2100-01-02 00:00+00')
                 = timestamptz '2100-01-01 01:00+00' + g * interval '1 hour'),
          10, 'every span without a change record is trusted');

select is((select s.seq_scan - p.seq_scan from pg_stat_xact_all_tables as s, pgtap_scans as p
           where s.relid = 'monitoring_internal.rollup_changes'::regclass),
          0::bigint, 'no probe read rollup_changes sequentially');
select cmp_ok((select s.idx_scan - p.idx_scan from pg_stat_xact_all_tables as s, pgtap_scans as p
               where s.relid = 'monitoring_internal.rollup_changes'::regclass),
              '>=', 58::bigint, 'each seal and span was one index probe');

-- And the answer still sees a change: one record in hour 5, not visible to its seal.
insert into monitoring_internal.rollup_changes (minute, xid)
values (timestamptz '2100-01-01 05:30+00', pg_current_xact_id());
select is((select count(*)::integer from monitoring_internal.trusted_periods(
             'hour', timestamptz '2100-01-01 00:00+00', timestamptz '2100-01-03 00:00+00')),
          47, 'an hour with a change its seal did not see is not trusted');

select * from finish();
rollback;

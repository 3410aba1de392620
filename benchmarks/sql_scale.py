"""The database side at production scale: health, views, aggregation and retention.

Loads (or tops up) a synthetic 14-day data set straight into Postgres
(default 10 million raw metrics, several queues and APIs, one 1-million-row
burst hour, worker issues, events, queue snapshots), then measures, with
EXPLAIN (ANALYZE, BUFFERS) / auto_explain evidence saved under --plans-dir:

  * public.get_system_health(): median and p95 of repeated calls
  * monitoring.queue_metrics / monitoring.api_metrics: 7-day window and last hour
  * hourly aggregation of the 1M-row hour, and a back-fill of a missed day
  * the cardinality bound: an hour with 50,000 distinct request_id tag values
    (rollup rows written for that metric, and time)
  * daily and weekly rollups
  * retention: dropping an expired day partition against release 0.2.0's
    DELETE of the same rows (its function, from its migration), at several
    rows per day, each with a concurrent writer's insert latency
  * a one-day retention purge while a concurrent writer inserts: the writer's
    insert latency p50/p99 during the purge against its baseline
  * --only scale (on its own): issue 11 item 5, each of --sizes as --only backfill does it,
    then hourly aggregation and dropping one expired day; one table, a column per size
  * --only backfill (on its own: it replaces the data set): --rows over --days
    loaded as one INSERT ... SELECT into hours the rollups had sealed, then at
    once health and both views (last hour, 7 days), the refresh run as pg_cron
    runs it until no hour is left untrusted (each run's time), and the steady state

It prints figures, targets and PASS/FAIL; it is a benchmark, not a test. Parts
whose functions are not deployed are skipped with a message. Aggregation and
purge measurements run in rolled-back transactions or restore what they
remove, so the data set can be measured again without reloading. The
monitoring pg_cron jobs are paused while it runs and restored afterwards.

usage:
  eval "$(scripts/local-stack.sh env)"
  .venv/bin/python benchmarks/sql_scale.py --reset            # load 10M rows, measure
  .venv/bin/python benchmarks/sql_scale.py                    # measure again (tops data up to now)
  .venv/bin/python benchmarks/sql_scale.py --reset --rows 1000000   # quick iteration
  .venv/bin/python benchmarks/sql_scale.py --only backfill --rows 3000000
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
import scale_data as data
from psycopg.types.json import Jsonb
from scale_measure import (
    WRITER_API,
    Params,
    Plans,
    Writer,
    explain,
    key_lines,
    median,
    nested_plans,
    percentile,
    timed,
)

T = TypeVar("T")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRACE = timedelta(
    minutes=3
)  # aggregate_metrics treats a period as complete 3 minutes after it ends
REFRESH_FN = "monitoring_internal.refresh_rollups(integer,interval)"
MIGRATIONS = Path(__file__).resolve().parent.parent / "supabase" / "migrations"
BENCH_TABLES = [
    "monitoring.pipeline_metrics",
    "monitoring.aggregated_metrics",
    "monitoring.worker_issues",
    "monitoring.queue_snapshots",
    "public.monitoring_events",
]


@dataclass
class Result:
    name: str
    value: float | None  # None: skipped
    unit: str = "ms"
    target: float | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "SKIP"
        if self.target is None:
            return "info"
        return "PASS" if self.value <= self.target else "FAIL"


class Bench:
    def __init__(self, args: argparse.Namespace, db_url: str) -> None:
        self.args = args
        self.db_url = db_url
        self.conn = psycopg.connect(db_url, autocommit=True)
        self.plans = Plans(Path(args.plans_dir), args.plan_lines)
        self.results: list[Result] = []

    # ------------------------------------------------------------ helpers
    def exists(self, kind: str, name: str) -> bool:
        fn = "to_regprocedure" if kind == "function" else "to_regclass"
        row = self.conn.execute(f"select {fn}(%s) is not null", (name,)).fetchone()
        return bool(row and row[0])

    def need(self, section: str, *objects: tuple[str, str]) -> bool:
        missing = [name for kind, name in objects if not self.exists(kind, name)]
        if missing:
            print(f"  SKIP {section}: not deployed yet: {', '.join(missing)}")
            self.results.append(Result(section, None, note="not deployed: " + ", ".join(missing)))
            return False
        return True

    def scalar(self, sql: str, params: Params = None) -> object:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def checkpoint(self) -> None:
        """Flush dirty pages between phases, when the role may (postgres on Supabase may not)."""
        may = self.scalar(
            "select rolsuper or pg_has_role(current_user, 'pg_checkpoint', 'member')"
            " from pg_roles where rolname = current_user"
        )
        if may:
            self.conn.execute("checkpoint")

    def count(self, sql: str, params: Params = None) -> int:
        value = self.scalar(sql, params)
        return int(value) if isinstance(value, int) else 0

    def now(self) -> datetime:
        value = self.scalar("select now()")
        assert isinstance(value, datetime)
        return value

    def backend_cpu_ms(self) -> float | None:
        """CPU time of this connection's backend so far (ns resolution, /proc/PID/schedstat):
        None unless the database runs on this machine (the local stack)."""
        host = self.conn.info.host
        if not (host.startswith("/") or host in ("127.0.0.1", "localhost", "::1")):
            return None
        try:
            with open(f"/proc/{self.conn.info.backend_pid}/schedstat") as f:
                return int(f.read().split()[0]) / 1e6
        except (OSError, ValueError, IndexError):
            return None

    def record_cpu(self, name: str, since: float | None, calls: int) -> None:
        """Mean backend CPU per call since ``since``: unlike wall time, not inflated by
        whatever else the machine runs, so sizes measured minutes apart compare."""
        now = self.backend_cpu_ms()
        if since is not None and now is not None and calls:
            self.record(Result(f"{name}, backend CPU per call (mean)", (now - since) / calls))

    def record(self, result: Result) -> None:
        self.results.append(result)
        tgt = f"  (target <= {result.target:g} {result.unit})" if result.target is not None else ""
        print(f"  => {result.name}: {result.value:,.1f} {result.unit}{tgt} {result.verdict}")

    def show_nested(self, name: str, notices: list[str]) -> None:
        """Saves every nested plan of a call in one file; prints the slowest ones' key lines."""
        path = self.plans.save(name, "\n\n".join(notices))
        print(f"    plans of the statements inside -> {path}")

        def duration(msg: str) -> float:
            try:
                return float(msg.split()[1])
            except (IndexError, ValueError):
                return 0.0

        inner = [n for n in notices if "Query Text: select public.get_system_health()" not in n]
        for msg in sorted(inner, key=duration, reverse=True)[: self.args.nested_shown]:
            first = next((ln for ln in msg.splitlines() if ln.startswith("Query Text:")), "")
            print(f"    [{duration(msg):.2f} ms] {first[12:110].strip()}")
            for line in key_lines(msg, self.args.plan_lines):
                print(f"      {line}")

    # ------------------------------------------------------------ data
    def loaded_shape(self) -> data.Shape | None:
        """The shape recorded by the last load (a monitoring_events row), if any."""
        row = self.conn.execute(
            "select details from public.monitoring_events where event_type = %s"
            " order by created_at desc limit 1",
            (data.LOAD_EVENT,),
        ).fetchone()
        return data.Shape.from_json(row[0]) if row else None

    def prepare(self) -> data.Shape:
        print("== data")
        a = self.args
        burst = a.burst_rows if a.burst_rows is not None else min(1_000_000, a.rows // 10)
        shape = data.shape_for(a.rows, a.days, burst, self.now())
        loaded = None if a.reset else self.loaded_shape()
        count = self.count("select count(*) from monitoring.pipeline_metrics")
        if loaded is None:
            if count and not a.reset:
                sys.exit(
                    f"{count:,} metrics present that this script did not load: "
                    "pass --reset to replace them"
                )
            print(f"  truncating {', '.join(BENCH_TABLES)}")
            self.conn.execute(f"truncate {', '.join(BENCH_TABLES)}")
            if self.exists("table", "monitoring.aggregation_watermarks"):
                self.conn.execute("delete from monitoring.aggregation_watermarks")
            print(
                f"  loading {shape.rows:,} metrics over {shape.days} days "
                f"({shape.base_per_second:.1f}/s "
                f"+ {shape.burst_rows:,} in the hour of {shape.burst_hour:%Y-%m-%d %H:00}Z)"
            )
            secs = data.load(self.conn, shape)
            print(
                f"  loaded in {secs:.1f} s ({shape.rows / secs:,.0f} metrics/s; "
                "issues, events and snapshots included)"
            )
            self.vacuum()
        else:
            shape = loaded
            print(
                f"  {count:,} metrics present (loaded {shape.end:%Y-%m-%d %H:%M}Z, burst hour "
                f"{shape.burst_hour:%Y-%m-%d %H:00}Z)"
            )
            self.top_up(shape)
            self.conn.execute("analyze monitoring.pipeline_metrics")
        self.catch_up_rollups()
        return shape

    def top_up(self, shape: data.Shape) -> None:
        """Metrics up to now at the base rate, so "the last hour" and the health window are full."""
        last = self.scalar(
            'select max("timestamp") from monitoring.pipeline_metrics'
            " where tags ->> 'api' is distinct from 'bench-writer'"
        )
        now = self.now()
        if not isinstance(last, datetime) or last >= now:
            return
        n = round(shape.base_per_second * (now - last).total_seconds())
        if n < 1:
            return
        print(f"  topping up {n:,} metrics since {last:%H:%M:%S}Z")
        data.insert_metrics(self.conn, last, now, n)
        minutes = int((now - last).total_seconds() // 60)
        if minutes:
            self.conn.execute(data.SNAPSHOTS_SQL, {"t1": now, "n": minutes})

    def refresh(self, label: str) -> None:
        """monitoring_internal.refresh_rollups(), as the per-minute cron job runs it."""
        if not self.exists("function", REFRESH_FN):
            return
        started = time.perf_counter()
        # A run stops after ~40 s with 'hours_left' (20261216000400): call again until none.
        for _ in range(50):
            out = self.scalar("select monitoring_internal.refresh_rollups(100000)")
            if not (isinstance(out, dict) and out.get("hours_left")):
                break
        secs = time.perf_counter() - started
        print(f"  {label}: refresh_rollups() {secs * 1000:,.0f} ms {out}")

    def steady(self, shape: data.Shape) -> None:
        """What production looks like at any moment: data up to now, the minute cron job run."""
        self.top_up(shape)
        self.refresh("catch-up")
        started = time.perf_counter()
        out = self.scalar(self.cron_refresh_sql())
        print(f"  cron job's own command: {(time.perf_counter() - started) * 1000:,.0f} ms {out}")

    def cron_refresh_sql(self) -> str:
        """The per-minute refresh exactly as pg_cron runs it (its arguments included)."""
        command = self.scalar(
            "select command from cron.job where jobname = 'monitoring-rollup-refresh'"
        )
        return str(command) if command else "select monitoring_internal.refresh_rollups()"

    def vacuum(self) -> None:
        started = time.perf_counter()
        for table in BENCH_TABLES:
            self.conn.execute(f"vacuum (analyze) {table}")
        print(f"  vacuum analyze: {time.perf_counter() - started:.1f} s")

    def catch_up_rollups(self) -> None:
        """Steady state: every complete period aggregated, as the cron jobs keep it."""
        if not self.exists("function", "monitoring.aggregate_metrics(text,timestamptz)"):
            print("  rollups: monitoring.aggregate_metrics not deployed; skipped")
            return
        for period in ("hourly", "daily", "weekly"):
            started = time.perf_counter()
            n = self.scalar("select monitoring.aggregate_metrics(%s)", (period,))
            print(f"  catch-up {period} rollups: {n} rows in {time.perf_counter() - started:.1f} s")
        self.conn.execute("analyze monitoring.aggregated_metrics")
        self.refresh("catch-up of the views' rollups")

    def leave_caught_up(self) -> None:
        """Rollups of every period over the data left behind, as the cron jobs would keep them.

        The back-fill truncated the rollups and deleted the watermarks: without this the next
        user of the database (the integration tests, a demo) faces 14 days of raw rows that no
        daily or weekly rollup covers, which one call through the API cannot aggregate.
        """
        print("\n== leaving the rollups caught up")
        self.catch_up_rollups()

    @contextmanager
    def cron_paused(self) -> Iterator[None]:
        """Monitoring cron jobs would aggregate or purge in the middle of a measurement."""
        if not self.exists("table", "cron.job"):
            yield
            return
        # cron.job is read-only to postgres on Supabase: jobs change through cron.alter_job.
        rows = self.conn.execute(
            "select jobid, jobname from cron.job where active and command ~* 'monitoring'"
        ).fetchall()
        for r in rows:
            self.conn.execute("select cron.alter_job(%s, active => false)", (r[0],))
        if rows:
            print(f"  paused cron jobs: {', '.join(r[1] for r in rows)}")
        try:
            yield
        finally:
            if rows:
                for r in rows:
                    self.conn.execute("select cron.alter_job(%s, active => true)", (r[0],))
                print("  cron jobs restored")

    # ------------------------------------------------------------ health
    def bench_health(self, shape: data.Shape) -> None:
        print("== public.get_system_health()")
        if not self.need("get_system_health", ("function", "public.get_system_health()")):
            return
        self.steady(shape)
        sql = "select public.get_system_health()"
        for _ in range(3):
            self.conn.execute(sql)
        samples = [timed(self.conn, sql)[0] for _ in range(self.args.health_calls)]
        result = self.conn.execute(sql).fetchone()
        status = result[0]["overall_status"] if result else "?"
        print(f"  {len(samples)} calls, overall_status={status}")
        with nested_plans(self.conn) as notices:
            self.conn.execute(sql)
        self.show_nested("get_system_health", notices)
        self.record(Result("get_system_health median", median(samples), target=25))
        self.record(Result("get_system_health p95", percentile(samples, 95)))

    # ------------------------------------------------------------ views
    def bench_views(self, shape: data.Shape) -> None:
        print("== views")
        self.steady(shape)
        last_hour = " where hour >= date_trunc('hour', now()) - interval '1 hour'"
        for view in ("monitoring.queue_metrics", "monitoring.api_metrics"):
            if not self.need(view, ("table", view)):
                continue
            for label, where, target in (("7 days", "", 2000.0), ("last hour", last_hour, 50.0)):
                sql = f"select * from {view}{where}"
                runs = self.args.view_runs if where else max(1, self.args.view_runs - 2)
                samples = []
                rows: list[tuple] = []  # type: ignore[type-arg]
                for _ in range(runs):
                    ms, rows = timed(self.conn, sql)
                    samples.append(ms)
                print(
                    f"  {view} {label}: {len(rows)} rows, runs "
                    f"{', '.join(f'{s:.0f}' for s in samples)} ms"
                )
                _, plan = explain(self.conn, sql)
                self.plans.show(f"{view} {label}", plan)
                self.record(Result(f"{view} {label} (median)", median(samples), target=target))
        if self.need("public.queue_monitoring_view", ("table", "public.queue_monitoring_view")):
            sql = "select * from public.queue_monitoring_view"
            samples = [timed(self.conn, sql)[0] for _ in range(20)]
            self.record(Result("public.queue_monitoring_view (median)", median(samples)))

    # ------------------------------------------------------------ back-fill (issue 11 item 4)
    BACKFILL_LAST_HOUR = " where hour >= date_trunc('hour', now()) - interval '1 hour'"
    # Hours of the views' 7-day window without a trusted hour rollup (what refresh has left).
    BACKFILL_UNTRUSTED_SQL = """
        select count(*) from generate_series(
          date_trunc('hour', now() - interval '7 days', 'UTC') + interval '1 hour',
          date_trunc('hour', now() - interval '2 minutes', 'UTC') - interval '1 hour',
          interval '1 hour') as g(h)
        where not exists (select 1 from monitoring_internal.trusted_hours as t where t.hour = g.h)
    """

    def backfill_reads(
        self, label: str, targets: tuple[float, float, float | None], week_runs: int
    ) -> None:
        """Health, then both views over the last hour and over 7 days; medians recorded.

        ``week_runs``: runs of each 7-day read (seconds each before the refresh, a few
        milliseconds in the steady state, where one run is too noisy to compare sizes)."""
        health_t, hour_t, week_t = targets
        if self.exists("table", "monitoring_internal.rollup_changes"):
            # Each trust probe walks its period's change records: how many the reads face.
            changes = self.count("select count(*) from monitoring_internal.rollup_changes")
            print(f"  {label}: {changes:,} change records in monitoring_internal.rollup_changes")
        sql = "select public.get_system_health()"
        calls = self.args.backfill_health_calls
        cpu0 = self.backend_cpu_ms()
        samples = [timed(self.conn, sql)[0] for _ in range(calls)]
        print(f"  {label}: health {calls} calls, {min(samples):.1f} to {max(samples):.1f} ms")
        self.record(Result(f"{label}: get_system_health median", median(samples), target=health_t))
        self.record_cpu(f"{label}: get_system_health", cpu0, calls)
        for where, window, runs, target in (
            (self.BACKFILL_LAST_HOUR, "last hour", self.args.view_runs, hour_t),
            ("", "7 days", week_runs, week_t),
        ):
            for view in ("monitoring.queue_metrics", "monitoring.api_metrics"):
                q = f"select * from {view}{where}"
                samples = []
                rows: list[tuple] = []  # type: ignore[type-arg]
                cpu0 = self.backend_cpu_ms()
                for _ in range(runs):
                    ms, rows = timed(self.conn, q)
                    samples.append(ms)
                self.record_cpu(f"{label}: {view} {window}", cpu0, runs)
                print(
                    f"  {label}: {view} {window}: {len(rows)} rows, runs "
                    f"{', '.join(f'{s:.0f}' for s in samples)} ms"
                )
                if window == "last hour":
                    _, plan = explain(self.conn, q)
                    self.plans.show(f"{view} {window} {label}", plan)
                self.record(Result(f"{label}: {view} {window}", median(samples), target=target))

    # Rows every steady-state read takes raw: the minute in progress (no rollup can hold it yet).
    TAIL_SQL = (
        'select count(*) from monitoring.pipeline_metrics where "timestamp" >= '
        "date_trunc('minute', now(), 'UTC') and \"timestamp\" <= now()"
    )
    STEADY_READS = (
        ("get_system_health", "select public.get_system_health()"),
        ("queue_metrics last hour", f"select * from monitoring.queue_metrics{BACKFILL_LAST_HOUR}"),
        ("api_metrics last hour", f"select * from monitoring.api_metrics{BACKFILL_LAST_HOUR}"),
        ("queue_metrics 7 days", "select * from monitoring.queue_metrics"),
        ("api_metrics 7 days", "select * from monitoring.api_metrics"),
    )

    def tail_cost(self) -> None:
        """Split each steady-state read into what the stored rows cost and what the minute in
        progress costs: the same reads with 0, +K and +2K extra rows in the minute in progress
        (a rolled-back transaction each; that minute is read raw whatever is sealed), and a
        least-squares line through the three medians. Its slope is the cost of a raw row; its
        value at no row at all is the read without the part that grows with the arrival rate."""
        extra = self.args.tail_rows
        natural = self.count(self.TAIL_SQL)
        print(
            f"  steady state: {natural:,} rows in the minute in progress; "
            f"reads again with +0, +{extra:,} and +{2 * extra:,} there"
        )
        ks = (0, extra, 2 * extra)
        samples: dict[tuple[str, int], list[float]] = {}
        tails = {k: 0 for k in ks}
        # Rounds of the three states in turn, so a slow spell of the machine hits them alike.
        for _ in range(3):
            for k in ks:
                with self.conn.transaction(force_rollback=True):
                    if k:
                        row = self.conn.execute(
                            "select date_trunc('minute', now(), 'UTC'), now()"
                        ).fetchone()
                        assert row is not None
                        self.conn.execute(data.METRICS_SQL, {"t0": row[0], "t1": row[1], "n": k})
                    tails[k] = self.count(self.TAIL_SQL)
                    for name, sql in self.STEADY_READS:
                        samples.setdefault((name, k), []).extend(
                            timed(self.conn, sql)[0] for _ in range(self.args.view_runs)
                        )
        tails_list = [tails[k] for k in ks]
        for name, _ in self.STEADY_READS:
            ys = [median(samples[name, k]) for k in ks]
            slope, at_zero = line_fit(tails_list, ys)
            shown = ", ".join(f"{y:.2f}" for y in ys)
            print(
                f"    {name}: {shown} ms at {', '.join(map(str, tails_list))} rows"
                f" -> {slope * 1000:.2f} us a row, {at_zero:.2f} ms at none"
            )
            self.record(Result(f"no minute in progress (fit): {name}", at_zero))
            self.record(Result(f"a raw row of the minute in progress: {name}", slope * 1000, "us"))
        self.record(Result("rows in the minute in progress (steady state)", natural, "rows"))

    def backfill_refresh_runs(self, shape: data.Shape) -> list[float]:
        """refresh_rollups() as pg_cron calls it, until no hour of the window is untrusted.

        Between runs (a minute apart under cron) live rows keep arriving (top-up), and
        one health call and one last-hour read of each view show what a dashboard sees."""
        runs: list[float] = []
        left = self.count(self.BACKFILL_UNTRUSTED_SQL)
        print(f"  untrusted hours in the 7-day window: {left}")
        while left and len(runs) < self.args.backfill_max_runs:
            # Without the cron job's settle: its wait is not work.
            ms, out = timed(self.conn, "select monitoring_internal.refresh_rollups()")
            runs.append(ms)
            left = self.count(self.BACKFILL_UNTRUSTED_SQL)
            print(f"  refresh run {len(runs)}: {ms / 1000:.1f} s, {left} hours left; {out[0][0]}")
            self.top_up(shape)
            health = timed(self.conn, "select public.get_system_health()")[0]
            q = timed(self.conn, f"select * from monitoring.queue_metrics{self.BACKFILL_LAST_HOUR}")
            a = timed(self.conn, f"select * from monitoring.api_metrics{self.BACKFILL_LAST_HOUR}")
            print(
                f"    then: health {health:.1f} ms, last hour queue_metrics {q[0]:.0f} ms, "
                f"api_metrics {a[0]:.0f} ms"
            )
        return runs

    def bench_backfill(self) -> None:
        """A back-fill of --rows over --days as one INSERT ... SELECT into sealed hours, then
        the reads at once, the refresh runs until caught up, and the steady state."""
        print("== reads through a back-fill (replaces the data set)")
        if not self.need(
            "backfill",
            ("function", REFRESH_FN),
            ("function", "public.get_system_health()"),
            ("table", "monitoring.queue_metrics"),
            ("table", "monitoring.api_metrics"),
        ):
            return
        a = self.args
        print(f"  truncating {', '.join(BENCH_TABLES)}")
        self.conn.execute(f"truncate {', '.join(BENCH_TABLES)}")
        if self.exists("table", "monitoring.aggregation_watermarks"):
            self.conn.execute("delete from monitoring.aggregation_watermarks")
        now = self.now()
        shape = data.shape_for(a.rows, a.days, 0, now)
        window = {"t0": shape.start, "t1": shape.end}
        self.conn.execute(data.ISSUES_SQL, {**window, "n": 3000, "open": 12})
        self.conn.execute(data.EVENTS_SQL, {"t1": now, "n": 35 * 1440})
        self.conn.execute(data.SNAPSHOTS_SQL, {"t1": now, "n": a.days * 1440})
        self.vacuum()
        # Every hour and minute of the window sealed (empty) before the back-fill lands in it.
        for _ in range(a.backfill_max_runs):
            if not self.count(self.BACKFILL_UNTRUSTED_SQL):
                break
            self.conn.execute("select monitoring_internal.refresh_rollups()")
        print(
            f"  sealed the empty window; untrusted hours: {self.count(self.BACKFILL_UNTRUSTED_SQL)}"
        )
        print(
            f"  back-fill: {a.rows:,} metrics over {a.days} days as one INSERT ... SELECT "
            f"(load average {os.getloadavg()[0]:.2f})"
        )
        started = time.perf_counter()
        self.conn.execute(data.METRICS_SQL, {**window, "n": a.rows})
        secs = time.perf_counter() - started
        print(f"  loaded in {secs:.1f} s ({a.rows / secs:,.0f} metrics/s), one transaction")
        self.record(Result("back-fill load (one INSERT ... SELECT)", secs, "s"))
        self.conn.execute(
            "insert into public.monitoring_events (event_type, details, created_at)"
            " values (%s, %s, %s)",
            (data.LOAD_EVENT, Jsonb(shape.to_json()), shape.end),
        )
        # Live writers kept writing while the load ran: the minutes since, in small batches.
        self.top_up(shape)
        self.backfill_reads("before any refresh", (50.0, 500.0, None), a.backfill_week_runs)
        runs = self.backfill_refresh_runs(shape)
        for i, ms in enumerate(runs, 1):
            self.record(Result(f"refresh run {i} after the back-fill", ms / 1000, "s"))
        self.record(Result("refresh runs until caught up", len(runs), "runs", target=2))
        self.record(Result("refresh catch-up, all runs", sum(runs) / 1000, "s"))
        # Steady state: autovacuum has analyzed the table, cron refreshed the last minute.
        self.vacuum()
        self.steady(shape)
        self.backfill_reads("steady state", (25.0, 50.0, 2000.0), a.view_runs)
        self.tail_cost()

    # ------------------------------------------------------------ cost as the work grows (item 5)
    def bench_scale(self) -> None:
        """Issue 11 item 5: for each of --sizes, the back-fill (reads before any refresh,
        the refresh's catch-up, the steady state), hourly aggregation of one hour and
        of a missed day, and dropping one expired day of that size's rows per day with
        the writer's p99 against its baseline; then one table, a column per size."""
        sizes: list[int] = self.args.sizes
        columns: list[tuple[int, dict[str, Result], str]] = []
        for n in sizes:
            print(f"\n#### {n:,} raw rows")
            self.args.rows = n
            first = len(self.results)
            loads = [os.getloadavg()[0]]
            self.bench_backfill()
            loads.append(os.getloadavg()[0])
            shape = self.loaded_shape()
            assert shape is not None
            now = self.now()
            hour = (now - 2 * DAY).replace(minute=0, second=0, microsecond=0)
            self.rerun_aggregation(
                "hourly aggregation of one hour",
                "hourly",
                hour,
                hour + HOUR,
                hour + HOUR + GRACE,
                target=3000.0,
            )
            end = (now - GRACE).replace(minute=0, second=0, microsecond=0)
            self.rerun_aggregation(
                "hourly back-fill of a missed day (24 h)", "hourly", end - DAY, end, now, None
            )
            loads.append(os.getloadavg()[0])
            self.bench_retention([round(n / shape.days)], compare=False)
            loads.append(os.getloadavg()[0])
            by_name = {r.name: r for r in self.results[first:]}
            columns.append((n, by_name, f"{min(loads):.1f}-{max(loads):.1f}"))
        self.scale_table(columns)

    def scale_table(self, columns: list[tuple[int, dict[str, Result], str]]) -> None:
        def fmt(c: Result | None, unit: str) -> str:
            return f"{c.value:,.1f} {unit}" if c is not None and c.value is not None else "-"

        print("\n== cost as the work grows (issue 11 item 5)")
        names: list[str] = []
        for _, by_name, _ in columns:
            names += [k for k in by_name if k not in names]
        head = "".join(f"{f'{n / 1e6:g} M rows':>14}" for n, _, _ in columns)
        ratio = len(columns) > 1
        print(f"{'measurement':62}{head}{f'{columns[-1][0] / columns[0][0]:g}x rows':>12}")
        print(
            f"{'load average (1 min) during the size':62}"
            + "".join(f"{load:>14}" for _, _, load in columns)
        )
        for name in names:
            cells = [by_name.get(name) for _, by_name, _ in columns]
            unit = next((c.unit for c in cells if c is not None), "")
            text = "".join(f"{fmt(c, unit):>14}" for c in cells)
            first, last = cells[0], cells[-1]
            r = ""
            if ratio and first and last and first.value and last.value is not None:
                r = f"{last.value / first.value:.2f}x"
            print(f"{name[:62]:62}{text}{r:>12}")

    # ------------------------------------------------------------ aggregation
    def released_function(
        self, migration: str, function: str, renames: dict[str, str] | None = None
    ) -> str:
        """A release 0.2.0 function, taken from its migration (never edited), as a
        temporary function of this session; `renames` retargets names in its body."""
        temp = f"pg_temp.{function.split('.')[1]}_0_2_0"
        sql = (MIGRATIONS / migration).read_text()
        start = sql.index(f"create or replace function {function}(")
        end = sql.index("\n$$;", start) + len("\n$$;")
        body = sql[start:end].replace(f"{function}(", f"{temp}(", 1)
        for old, new in (renames or {}).items():
            body = body.replace(old, new)
        self.conn.execute(body)
        return temp

    def release_function(self) -> str:
        """Release 0.2.0's aggregate_metrics as a temporary function of this session."""
        return self.released_function(
            "20261201000400_monitoring_aggregation.sql", "monitoring.aggregate_metrics"
        )

    def rerun_aggregation(
        self,
        label: str,
        period: str,
        start: datetime,
        end: datetime,
        p_now: datetime,
        target: float | None,
        extra_rows: Callable[[], None] | None = None,
    ) -> None:
        """Re-aggregates [start, end) in a rolled-back transaction (rollups deleted, watermark
        rewound, extra_rows inserted first), so the data set stays as it was."""
        raw = self.scalar(
            "select count(*) from monitoring.pipeline_metrics"
            ' where "timestamp" >= %s and "timestamp" < %s',
            (start, end),
        )
        print(f"  {label}: {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}Z, {raw:,} raw rows")

        def prepared() -> None:
            self.conn.execute(
                "delete from monitoring.aggregated_metrics"
                " where period = %s and period_start >= %s and period_start < %s",
                (period, start, end),
            )
            self.conn.execute(
                "insert into monitoring.aggregation_watermarks (period, aggregated_until)"
                " values (%s, %s) "
                "on conflict (period) do update set aggregated_until = excluded.aggregated_until",
                (period, start),
            )
            if extra_rows is not None:
                extra_rows()

        call = "select monitoring.aggregate_metrics(%s, %s)"
        old_call = f"select {self.release_function()}(%s, %s)" if self.args.vs_release else None
        samples: list[float] = []
        old_samples: list[float] = []
        written = old_written = None
        # With --vs-0.2.0: release 0.2.0's function and the current one alternate, on the same data.
        for _ in range(self.args.agg_runs):
            if old_call is not None:
                with self.conn.transaction(force_rollback=True):
                    prepared()
                    ms, rows = timed(self.conn, old_call, (period, p_now))
                    old_written = rows[0][0]
                old_samples.append(ms)
            with self.conn.transaction(force_rollback=True):
                prepared()
                ms, rows = timed(self.conn, call, (period, p_now))
                written = rows[0][0]
            samples.append(ms)
        print(f"    {written} rollup rows; runs {', '.join(f'{s:.0f}' for s in samples)} ms")
        if old_call is not None:
            print(
                f"    0.2.0 function: {old_written} rollup rows; runs"
                f" {', '.join(f'{s:.0f}' for s in old_samples)} ms; median current/0.2.0"
                f" {median(samples) / median(old_samples):.2f}"
            )
            self.record(Result(f"{label} [0.2.0 function]", median(old_samples)))
        if self.args.plans:
            with self.conn.transaction(force_rollback=True):
                prepared()
                with nested_plans(self.conn) as notices:
                    self.conn.execute(call, (period, p_now))
            self.show_nested(label, notices)
        self.record(Result(label, median(samples), target=target))

    def bench_high_cardinality(self) -> None:
        """An hour where a worker put a unique request id into a tag: the bound folds it."""
        n = self.args.distinct_tags
        hour = (self.now() - 2 * DAY).replace(minute=0, second=0, microsecond=0)
        metric = "bench_high_cardinality"

        def unique_ids() -> None:
            self.conn.execute(
                "insert into monitoring.pipeline_metrics (metric_name, metric_value, tags,"
                " \"timestamp\") select %s, g %% 1000, jsonb_build_object('api', 'bench',"
                " 'request_id', 'req-' || g), %s + (g %% 3600) * interval '1 second'"
                " from generate_series(1, %s) as g",
                (metric, hour, n),
            )

        self.rerun_aggregation(
            f"hourly aggregation, {n:,} distinct request_id values in the hour",
            "hourly",
            hour,
            hour + HOUR,
            hour + HOUR + GRACE,
            target=3000.0,
            extra_rows=unique_ids,
        )
        with self.conn.transaction(force_rollback=True):
            unique_ids()
            self.conn.execute(
                "insert into monitoring.aggregation_watermarks (period, aggregated_until)"
                " values ('hourly', %s) on conflict (period) do update"
                " set aggregated_until = excluded.aggregated_until",
                (hour,),
            )
            self.conn.execute(
                "select monitoring.aggregate_metrics('hourly', %s)", (hour + HOUR + GRACE,)
            )
            written = self.count(
                "select count(*) from monitoring.aggregated_metrics"
                " where metric_name = %s and period = 'hourly' and period_start = %s",
                (metric, hour),
            )
            bound = self.scalar(
                "select max_dimension_sets from monitoring.dimension_limits where metric_name = '*'"
            )
        print(f"    {written:,} rollup rows for {metric} ({n:,} distinct tag values)")
        target = float(bound) + 1 if isinstance(bound, int) else None
        self.record(Result(f"rollup rows for {n:,} distinct tag values", written, "rows", target))

    def bench_aggregation(self, shape: data.Shape) -> None:
        print("== aggregation (each run rolled back)")
        if not self.need(
            "aggregation",
            ("function", "monitoring.aggregate_metrics(text,timestamptz)"),
            ("table", "monitoring.aggregation_watermarks"),
        ):
            return
        now = self.now()
        b0 = shape.burst_hour
        if b0 < now - timedelta(days=13):
            print("  burst hour is past the 14-day back-fill horizon: reload with --reset")
        else:
            self.rerun_aggregation(
                f"hourly aggregation of the {shape.burst_rows:,}-row hour",
                "hourly",
                b0,
                b0 + HOUR,
                b0 + HOUR + GRACE,
                target=3000.0,
            )
        end = (now - GRACE).replace(minute=0, second=0, microsecond=0)
        self.rerun_aggregation(
            "hourly back-fill of a missed day (24 h)", "hourly", end - DAY, end, now, None
        )
        today = (now - GRACE).replace(hour=0, minute=0, second=0, microsecond=0)
        self.rerun_aggregation("daily rollup of yesterday", "daily", today - DAY, today, now, None)
        burst_day = b0.replace(hour=0)
        if burst_day < today:
            self.rerun_aggregation(
                "daily rollup of the burst day",
                "daily",
                burst_day,
                burst_day + DAY,
                burst_day + DAY + GRACE,
                None,
            )
        week = today - timedelta(days=today.weekday())
        if week - timedelta(days=7) >= now - timedelta(days=14):
            self.rerun_aggregation(
                "weekly rollup of last ISO week",
                "weekly",
                week - timedelta(days=7),
                week,
                now,
                None,
            )
        else:
            print(
                "  weekly: last ISO week starts before the 14-day raw horizon; "
                "not computable from raw data"
            )

    # ------------------------------------------------------------ retention
    def ensure_expired_day(self, shape: data.Shape) -> int:
        """One day of rows older than the 14-day retention, as after a missed day of purging."""
        now = self.now()
        t0, t1 = now - timedelta(days=15), now - timedelta(days=14, minutes=1)
        have = self.count(
            'select count(*) from monitoring.pipeline_metrics where "timestamp" < %s',
            (now - timedelta(days=14),),
        )
        want = round(shape.base_per_second * 86400)
        if have < 0.9 * want:
            print(
                f"  inserting {want - have:,} rows dated "
                f"{t0:%m-%d %H:%M} .. {t1:%m-%d %H:%M}Z (expired)"
            )
            data.insert_metrics(self.conn, t0, t1, want - have)
            self.conn.execute("vacuum (analyze) monitoring.pipeline_metrics")
        return self.count(
            "select count(*) from monitoring.pipeline_metrics"
            " where \"timestamp\" < now() - interval '14 days'"
        )

    def run_writer(self, during: Callable[[], T]) -> tuple[list[float], T]:
        """Runs `during` while the writer inserts; returns the writer's latencies and its result."""
        writer = Writer(
            self.db_url,
            interval_s=self.args.writer_interval_ms / 1000,
            batch=self.args.writer_batch,
        )
        writer.start()
        time.sleep(1.0)  # connected and in its rhythm before the clock starts
        writer.latencies_ms.clear()
        outcome = during()
        lat = writer.stop()
        if writer.errors:
            print(f"    writer errors: {len(writer.errors)}, first: {writer.errors[0]}")
        return lat, outcome

    def bench_purge(self, shape: data.Shape) -> None:
        print("== retention purge of one expired day, with a concurrent writer")
        if not self.need(
            "purge", ("function", "monitoring.purge_expired_metrics(timestamptz,integer)")
        ):
            return
        expired = self.ensure_expired_day(shape)
        print(
            f"  {expired:,} expired rows; writer: {self.args.writer_batch} api_call rows "
            f"every {self.args.writer_interval_ms:g} ms"
        )
        started_at = self.now()
        self.checkpoint()
        base, _ = self.run_writer(lambda: time.sleep(self.args.baseline_seconds))
        self.report_latency("baseline", base)
        self.checkpoint()

        def purge() -> tuple[int, int, float]:
            calls = deleted = 0
            started = time.perf_counter()
            while True:
                if self.args.purge_call:
                    out = self.scalar(self.args.purge_call)
                elif self.args.purge_batch:
                    out = self.scalar(
                        "select monitoring.purge_expired_metrics(now(), %s)",
                        (self.args.purge_batch,),
                    )
                else:
                    out = self.scalar("select monitoring.purge_expired_metrics()")
                calls += 1
                if isinstance(out, dict):
                    n = int(out["pipeline_metrics"])
                else:
                    n = int(out) if isinstance(out, int) else 0
                deleted += n
                # A call that is not full has caught up (rows keep expiring meanwhile).
                if n < (self.args.purge_batch or 50_000) or calls > 10_000:
                    break
                if self.args.purge_pause_ms:
                    time.sleep(self.args.purge_pause_ms / 1000)
            return calls, deleted, time.perf_counter() - started

        during, (calls, deleted, secs) = self.run_writer(purge)
        pause = (
            f"{self.args.purge_pause_ms:g} ms apart" if self.args.purge_pause_ms else "back to back"
        )
        print(f"  purge: {deleted:,} rows in {calls} calls, {secs:.1f} s ({pause})")
        self.report_latency("during the purge", during)

        # What must follow a DELETE-based purge: vacuum of the dead rows and of all
        # three indexes. Throttled as autovacuum is (cost delay 2 ms, limit 200).
        def vacuum() -> float:
            self.conn.execute("set vacuum_cost_delay = '2ms'")
            self.conn.execute("set vacuum_cost_limit = 200")
            started = time.perf_counter()
            self.conn.execute("vacuum monitoring.pipeline_metrics")
            self.conn.execute("reset vacuum_cost_delay")
            self.conn.execute("reset vacuum_cost_limit")
            return time.perf_counter() - started

        vac, vac_secs = self.run_writer(vacuum)
        print(f"  vacuum afterwards (autovacuum's throttle): {vac_secs:.1f} s")
        self.report_latency("during the vacuum", vac)
        self.conn.execute(
            "delete from monitoring.pipeline_metrics where metric_name = 'api_call'"
            " and tags ->> 'api' = %s and \"timestamp\" >= %s",
            (WRITER_API, started_at),
        )
        b99 = percentile(base, 99)
        self.record(Result("writer insert p50 baseline", percentile(base, 50)))
        self.record(Result("writer insert p99 baseline", b99))
        self.record(Result("writer insert p50 during purge", percentile(during, 50)))
        self.record(
            Result(
                "writer insert p99 during purge", percentile(during, 99), target=round(5 * b99, 2)
            )
        )
        self.record(Result("one-day purge duration", secs * 1000))
        self.record(Result("writer insert p99 during the vacuum after it", percentile(vac, 99)))
        self.record(Result("vacuum after the purge", vac_secs * 1000))

    # ------------------------------------------------------------ retention by partition
    def released_purge(self, table: str) -> str:
        """Release 0.2.0's purge function, as a temporary function deleting from `table`.

        Taken from its released migration (never edited). It selects rows by
        ctid, which is unique only within one table, so it must not run against
        the partitioned parent: it deletes from the expired day's partition, a
        heap as 0.2.0's table was (smaller, so if anything it flatters 0.2.0).
        """
        return self.released_function(
            "20261201000500_monitoring_retention.sql",
            "monitoring.purge_expired_metrics",
            {"monitoring.pipeline_metrics": table},
        )

    def fill_expired_day(self, day: datetime, n: int) -> None:
        """n rows in one UTC day long past retention, in that day's own partition."""
        for attempt in range(1, 6):
            try:
                self.conn.execute(
                    "select monitoring_internal.create_metric_partition(%s::date)", (day,)
                )
                break
            except psycopg.errors.LockNotAvailable:
                # As the hourly job would: try again (and say who held the lock).
                who = self.conn.execute(
                    "select string_agg(distinct a.backend_type || ': ' || left(a.query, 80), '; ')"
                    " from pg_locks as l join pg_stat_activity as a using (pid)"
                    " where l.granted and a.pid <> pg_backend_pid()"
                    " and l.relation in (select partition"
                    " from monitoring_internal.metric_partitions()"
                    " union select 'monitoring.pipeline_metrics'::regclass)"
                ).fetchone()
                print(f"    partition creation waited 5 s (attempt {attempt}); lock holders: {who}")
        data.insert_metrics(self.conn, day, day + DAY - timedelta(seconds=1), n)
        # A day 14 days old has long been vacuumed (autovacuum working on it
        # would hold its lock when retention comes).
        self.conn.execute(f"vacuum (analyze) monitoring_internal.pipeline_metrics_p{day:%Y%m%d}")

    def bench_retention(self, rows: list[int] | None = None, compare: bool = True) -> None:
        """Dropping an expired day of each size in `rows` (default --retention-rows), writer
        running; with `compare`, release 0.2.0's DELETE of the same day too. Without it
        (--only scale) the figures are labelled "one day", the same name at every size."""
        print("== retention: dropping an expired day vs 0.2.0's DELETE of its rows, writer running")
        if not self.need(
            "retention",
            ("function", "monitoring_internal.drop_expired_metric_partitions(timestamptz)"),
        ):
            return
        now = self.now()
        day = datetime.combine((now - timedelta(days=16)).date(), datetime.min.time(), now.tzinfo)
        released = self.released_purge(f"monitoring_internal.pipeline_metrics_p{day:%Y%m%d}")
        window = self.args.retention_window
        print(
            f"  expired day {day:%Y-%m-%d}; writer: {self.args.writer_batch} api_call rows "
            f"every {self.args.writer_interval_ms:g} ms"
        )
        base, _ = self.run_writer(lambda: time.sleep(self.args.baseline_seconds))
        self.report_latency("baseline", base)
        b99 = percentile(base, 99)
        self.record(Result("retention: writer insert p99 baseline", b99))

        def purge(key: str) -> float:
            for _ in range(20):
                started = time.perf_counter()
                out = self.scalar("select monitoring.purge_expired_metrics()")
                secs = time.perf_counter() - started
                if isinstance(out, dict) and int(out[key]) >= 1:
                    return secs
                # Skipped: the lock was busy for 100 ms; cron would try again in 15 min.
                print(f"    retention run skipped the day ({secs * 1000:.0f} ms): {out}")
            raise RuntimeError(f"the expired day was not {key} in 20 runs")

        def drop() -> tuple[float, float]:
            # As two cron runs do it: the first detaches the day (its rows are
            # gone), the next drops the detached table (its files).
            started = time.perf_counter()
            detach = purge("pipeline_metrics_partitions")
            free = purge("pipeline_metrics_partitions_freed")
            # The writer is measured for at least `window` s with either strategy: a
            # 100 ms drop alone would leave a handful of inserts to take a p99 of.
            time.sleep(max(0.0, window - (time.perf_counter() - started)))
            return detach, free

        def delete() -> tuple[float, int]:
            started, deleted = time.perf_counter(), 0
            while True:  # as cron runs it: 50,000 rows per call, back to back here
                out = self.scalar(f"select {released}()")
                n = int(out["pipeline_metrics"]) if isinstance(out, dict) else 0
                deleted += n
                if n < 50_000:
                    return time.perf_counter() - started, deleted

        for _ in range(2):  # whatever an earlier run left: detached, then freed
            self.conn.execute("select monitoring.purge_expired_metrics()")
        for n in rows if rows is not None else self.args.retention_rows:
            label = f"{n / 1e6:g}M rows/day" if compare else "one day"
            self.fill_expired_day(day, n)
            lat_drop, (detach, free) = self.run_writer(drop)
            self.report_latency(
                f"in the {window:g} s from the detach ({n:,} rows: detach {detach * 1000:.0f} ms,"
                f" drop of the detached table {free * 1000:.0f} ms)",
                lat_drop,
            )
            self.record(Result(f"retention run detaching the day ({label})", detach * 1000))
            self.record(Result(f"next run dropping the detached table ({label})", free * 1000))
            if compare:
                self.fill_expired_day(day, n)
                lat_del, (secs_del, deleted) = self.run_writer(delete)
                self.report_latency(
                    f"while 0.2.0 deletes it ({deleted:,} rows, {secs_del:.1f} s)", lat_del
                )
                for _ in range(2):  # the emptied partition: detached, then dropped
                    self.conn.execute("select monitoring.purge_expired_metrics()")
                self.record(Result(f"0.2.0 DELETE of the same day ({label})", secs_del * 1000))
            self.record(
                Result(
                    f"writer p99, {window:g} s from the detach ({label})",
                    percentile(lat_drop, 99),
                    target=round(5 * b99, 2),
                )
            )
            self.record(
                Result(f"writer max, {window:g} s from the detach ({label})", max(lat_drop))
            )
            if compare:
                self.record(
                    Result(f"writer p99 while 0.2.0 deletes ({label})", percentile(lat_del, 99))
                )

    def report_latency(self, label: str, samples: list[float]) -> None:
        print(
            f"  writer {label}: {len(samples)} inserts, p50 {percentile(samples, 50):.2f} ms, "
            f"p99 {percentile(samples, 99):.2f} ms, max {max(samples):.1f} ms"
        )

    # ------------------------------------------------------------ report
    def summary(self) -> None:
        print("\n== summary")
        print(f"{'measurement':58} {'figure':>12} {'target':>12}  verdict")
        for r in self.results:
            fig = f"{r.value:,.1f} {r.unit}" if r.value is not None else "-"
            tgt = f"<= {r.target:,.1f}" if r.target is not None else ""
            print(f"{r.name[:58]:58} {fig:>12} {tgt:>12}  {r.verdict}")
        print(f"plans: {self.plans.dir}")


def line_fit(xs: list[int], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and value at x = 0 of ys against xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return slope, my - slope * mx


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--rows", type=int, default=10_000_000, help="raw metrics to load (default 10,000,000)"
    )
    p.add_argument(
        "--days", type=int, default=14, help="days the rows span, ending now (default 14)"
    )
    p.add_argument(
        "--burst-rows",
        type=int,
        default=None,
        help="extra rows in one hour 3 days back (default min(1M, rows/10))",
    )
    p.add_argument(
        "--reset", action="store_true", help="truncate the monitoring tables and load afresh"
    )
    p.add_argument(
        "--only",
        default="health,views,aggregation,purge,retention",
        help="comma-separated parts to measure (default all but backfill, which runs alone)",
    )
    p.add_argument("--health-calls", type=int, default=200)
    p.add_argument("--view-runs", type=int, default=5)
    p.add_argument("--agg-runs", type=int, default=3)
    p.add_argument(
        "--vs-0.2.0",
        dest="vs_release",
        action="store_true",
        help="alternate each aggregation run with release 0.2.0's function (from its migration)",
    )
    p.add_argument(
        "--distinct-tags",
        type=int,
        default=50_000,
        help="rows with a request_id tag each in the high-cardinality hour (default 50,000)",
    )
    p.add_argument(
        "--no-plans",
        dest="plans",
        action="store_false",
        help="skip the auto_explain runs of aggregation (they repeat the work)",
    )
    p.add_argument("--baseline-seconds", type=float, default=20.0)
    p.add_argument("--writer-interval-ms", type=float, default=20.0)
    p.add_argument("--writer-batch", type=int, default=10)
    p.add_argument(
        "--purge-pause-ms",
        type=float,
        default=0.0,
        help="pause between purge calls (default 0: back to back, the worst case)",
    )
    p.add_argument(
        "--purge-batch",
        type=int,
        default=None,
        help="p_batch_size for each purge call (default: the function's default, as cron calls it)",
    )
    p.add_argument(
        "--purge-call",
        default=None,
        help="SQL run instead of purge_expired_metrics(), returning rows deleted (experiments)",
    )
    p.add_argument(
        "--retention-rows",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[200_000, 700_000, 2_100_000],
        help="rows in the expired day, one measurement each (default 200000,700000,2100000)",
    )
    p.add_argument(
        "--retention-window",
        type=float,
        default=10.0,
        help="seconds of writer latencies counted from the start of a drop (default 10)",
    )
    p.add_argument(
        "--backfill-health-calls", type=int, default=50, help="health calls per back-fill phase"
    )
    p.add_argument(
        "--backfill-week-runs",
        type=int,
        default=3,
        help="7-day view runs before any refresh (the steady state: --view-runs)",
    )
    p.add_argument(
        "--tail-rows",
        type=int,
        default=1500,
        help="extra rows in the minute in progress for the steady state's split (default 1500)",
    )
    p.add_argument(
        "--backfill-max-runs", type=int, default=20, help="refresh runs before giving up"
    )
    p.add_argument(
        "--sizes",
        type=lambda v: [int(float(x)) for x in v.split(",")],
        default=[3_000_000, 10_000_000, 30_000_000],
        help="raw rows per size for --only scale (default 3e6,10e6,30e6)",
    )
    p.add_argument("--plans-dir", default="/tmp/sql_scale_plans")
    p.add_argument("--plan-lines", type=int, default=12)
    p.add_argument("--nested-shown", type=int, default=3)
    args = p.parse_args()

    # Ctrl-C or kill: unwind, so the paused cron jobs are restored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    db_url = os.environ.get("SUPABASE_DB_URL")
    if not db_url:
        sys.exit('SUPABASE_DB_URL is not set: run `eval "$(scripts/local-stack.sh env)"` first')
    bench = Bench(args, db_url)
    settings = bench.conn.execute(
        "select string_agg(name || '=' || current_setting(name), ' ' order by name)"
        " from pg_settings where name in ('shared_buffers', 'work_mem', 'jit',"
        " 'max_parallel_workers_per_gather', 'server_version')"
    ).fetchone()
    print(
        f"target: {bench.conn.info.host}:{bench.conn.info.port} {settings[0] if settings else ''}"
    )
    parts = {s.strip() for s in args.only.split(",")}
    if "scale" in parts:
        if parts != {"scale"}:
            sys.exit("--only scale replaces the data set (once per size): run it on its own")
        with bench.cron_paused():
            bench.bench_scale()
        bench.leave_caught_up()
        bench.summary()
        return
    if "backfill" in parts:
        if parts != {"backfill"}:
            sys.exit("--only backfill replaces the data set: run it on its own")
        with bench.cron_paused():
            bench.bench_backfill()
        bench.leave_caught_up()
        bench.summary()
        return
    with bench.cron_paused():
        shape = bench.prepare()
        if "health" in parts:
            bench.bench_health(shape)
        if "views" in parts:
            bench.bench_views(shape)
        if "aggregation" in parts:
            bench.bench_aggregation(shape)
            if bench.exists("table", "monitoring.dimension_limits"):
                bench.bench_high_cardinality()
        if "purge" in parts:
            bench.bench_purge(shape)
        if "retention" in parts:
            bench.bench_retention()
    bench.summary()


if __name__ == "__main__":
    main()

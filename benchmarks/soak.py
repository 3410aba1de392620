"""Sustained-ingestion soak: SDK writers at a steady rate against the stack with every cron job on.

N writer threads share one MonitoringClient.from_env() (default BatchingConfig, as a worker
has it) and call record_api_call, record_processing_metric and record_metric in turn, paced on
absolute deadlines (call j of the run is due at start + j / rate, so a late call never shifts
the later ones), each row tagged {"soak_run": <run id>}. Every 10 s a line shows the client's
SinkStats and how far the views' minute rollups lag behind now.

Verdicts (exit status 1 if any is FAIL):
  * rate: the writers kept up with the schedule (>= 99% of the target rate);
  * exactly once: after close(), rows with the run id in monitoring.pipeline_metrics ==
    stats.written == enqueued - dropped - rejected, with dropped == rejected == 0;
  * buffer: pending stays bounded (max over the last two-thirds <= 2 batches) and does not
    trend upward (mean of the last third <= mean of the first third + half a batch);
  * cron: every job the migrations schedule exists and is active, pg_cron runs them
    (precondition); during the soak no run of a project job failed and none was missed;
  * rollups keep up: the latest sealed minute ends within 3 minutes of now at every probe
    (every 10 s), and each hourly aggregation run started inside the soak (any status) moved
    monitoring.aggregation_watermarks past its hour (a run still going at the end is waited for).
Figures: record_* latency (mean = time in calls / calls, p50, p99, max), process CPU per
metric, load average at start, middle and end, peak RSS, per-job run counts and longest run;
per hourly aggregation run its duration, the hour it aggregated (whether the soak covered all
of it), the raw rows its rollups count, the seal lag and the rollup refreshes while it ran.

usage: make soak [SOAK_ARGS="--minutes 3"]
       eval "$(scripts/local-stack.sh env)"; .venv/bin/python benchmarks/soak.py [--minutes 30]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "supabase" / "migrations"
SAMPLE_EVERY = 10.0  # seconds between SinkStats and rollup-lag samples
SEAL_LAG_LIMIT = timedelta(minutes=3)
AGGREGATION_GRACE = timedelta(minutes=3)  # aggregate_metrics' c_grace
RATE_FLOOR = 0.99  # share of the target rate the writers must reach
PENDING_BATCHES = 2  # max pending over the last two-thirds, in batches
TREND_BATCHES = 0.5  # allowed rise of mean pending, first third -> last third, in batches
EVERY_MINUTE_JOB = "monitoring-rollup-refresh"
HOURLY_JOB = "hourly-metrics-aggregation"
RETENTION_JOB = "metrics-retention"
#: What monitoring_internal.cron_project_jobs() counts as this project's job.
PROJECT_COMMAND = re.compile(
    r"\b(monitoring|monitoring_internal)\.|\bpurge_old_monitoring_events\b"
)
_SCHEDULE = re.compile(r"cron\.schedule\(\s*'([^']+)'")


# ----------------------------------------------------------------- pure helpers
def scheduled_jobs(sql_texts: Iterable[str]) -> list[str]:
    """Job names the migrations pass to cron.schedule(name, ...), sorted, once each."""
    names: set[str] = set()
    for text in sql_texts:
        # Comments mention cron.schedule(name, ...) too; only code counts.
        code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
        names.update(_SCHEDULE.findall(code))
    return sorted(names)


def due(start: float, index: int, rate: float) -> float:
    """When call ``index`` of the whole run is due: absolute, so lateness never accumulates."""
    return start + index / rate


def writer_indices(writer: int, writers: int, total: int) -> range:
    """The run's call indices writer ``writer`` of ``writers`` makes: interleaved, all covered."""
    return range(writer, total, writers)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, interpolated linearly between closest ranks."""
    if not ordered:
        return float("nan")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Latency:
    calls: int
    mean: float
    p50: float
    p99: float
    max: float


def summarize(samples: Iterable[Sequence[float]]) -> Latency:
    """Latency figures over every writer's samples (any unit; mean = total / calls)."""
    ordered = sorted(v for s in samples for v in s)
    if not ordered:
        nan = float("nan")
        return Latency(0, nan, nan, nan, nan)
    return Latency(
        len(ordered),
        sum(ordered) / len(ordered),
        percentile(ordered, 0.5),
        percentile(ordered, 0.99),
        ordered[-1],
    )


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool
    detail: str


def buffer_verdict(pending: Sequence[int], batch: int) -> Verdict:
    """Pending rows sampled at even intervals: bounded after warm-up, and not trending up."""
    n = len(pending)
    if n < 3:
        return Verdict("buffer", False, f"{n} samples: too few to judge (run longer)")
    third = n // 3
    tail_max = max(pending[third:])
    first = sum(pending[:third]) / third
    last = sum(pending[n - third :]) / third
    bound = PENDING_BATCHES * batch
    rise = TREND_BATCHES * batch
    problems = []
    if tail_max > bound:
        problems.append(f"max pending {tail_max} after the first third > {bound}")
    if last > first + rise:
        problems.append(f"mean pending rose {first:.0f} -> {last:.0f} (> +{rise:.0f})")
    detail = (
        f"max pending {max(pending)} (after the first third {tail_max}, bound {bound}); "
        f"mean first third {first:.0f}, last third {last:.0f}"
    )
    return Verdict("buffer", not problems, "; ".join(problems) or detail)


def exactly_once_verdict(
    enqueued: int, written: int, dropped: int, rejected: int, pending: int, in_db: int
) -> Verdict:
    """After close(): every enqueued row written once, none lost, none extra."""
    problems = []
    if dropped or rejected:
        problems.append(f"dropped {dropped}, rejected {rejected}")
    if pending:
        problems.append(f"{pending} still pending after close()")
    if written != enqueued - dropped - rejected:
        problems.append(f"written {written} != enqueued {enqueued} - dropped - rejected")
    if in_db != written:
        problems.append(f"{in_db} rows in the database != written {written}")
    detail = f"enqueued {enqueued} = written {written} = rows in the database {in_db}"
    return Verdict("exactly once", not problems, "; ".join(problems) or detail)


def rate_verdict(calls: int, seconds: float, target: float) -> Verdict:
    achieved = calls / seconds if seconds > 0 else 0.0
    ok = achieved >= RATE_FLOOR * target
    return Verdict(
        "rate", ok, f"{achieved:.1f} metrics/s achieved of {target:g} (floor {RATE_FLOOR:.0%})"
    )


@dataclass(frozen=True)
class JobRuns:
    jobname: str
    runs: int
    succeeded: int
    failed: int
    expected: int  # fires of its schedule due early enough to have finished before the end
    longest: timedelta | None
    messages: tuple[str, ...] = ()


def cron_verdict(jobs: Sequence[JobRuns]) -> Verdict:
    """No run of a project job failed during the soak, and none was missed."""
    problems = []
    for j in jobs:
        if j.failed:
            problems.append(f"{j.jobname}: {j.failed} failed ({'; '.join(j.messages)[:200]})")
        # A run still going at the end (starting, running) is late, not missed.
        if j.runs - j.failed < j.expected:
            problems.append(f"{j.jobname}: {j.runs - j.failed} runs of {j.expected} due")
    runs = sum(j.runs for j in jobs)
    return Verdict("cron", not problems, "; ".join(problems) or f"{runs} runs, none failed")


def retention_verdict(jobs: Sequence[JobRuns]) -> Verdict:
    """Raw retention (metrics-retention) ran as often as its schedule said, without failing."""
    runs = [j for j in jobs if j.jobname == RETENTION_JOB]
    if not runs:
        return Verdict("retention", False, f"no job {RETENTION_JOB}")
    j = runs[0]
    ok = j.failed == 0 and j.runs >= j.expected
    detail = f"{j.succeeded} runs succeeded of {j.expected} due, {j.failed} failed"
    if j.runs > j.succeeded + j.failed:
        detail += f", {j.runs - j.succeeded - j.failed} still running"
    if j.longest is not None:
        detail += f", longest {j.longest.total_seconds():.2f}s"
    return Verdict("retention", ok, detail)


def aggregated_until(start: datetime) -> datetime:
    """The watermark an hourly run started at ``start`` must leave: the end of its last hour."""
    return (start - AGGREGATION_GRACE).replace(minute=0, second=0, microsecond=0)


def aggregated_hour(start: datetime) -> datetime:
    """The start of the hour an hourly run started at ``start`` aggregates (after the watermark)."""
    return aggregated_until(start) - timedelta(hours=1)


def watermark_verdict(
    before: datetime | None, after: datetime | None, hourly_runs: Sequence[datetime]
) -> Verdict:
    """Each hourly aggregation started in the soak (any status) aggregated up to its hour."""
    if not hourly_runs:
        return Verdict("hourly aggregation", True, "no run fell inside the soak")
    need = aggregated_until(max(hourly_runs))
    ok = after is not None and after >= need and (before is None or after > before)
    return Verdict(
        "hourly aggregation",
        ok,
        f"{len(hourly_runs)} runs; watermark {before} -> {after} (needed >= {need}, advanced)",
    )


@dataclass(frozen=True)
class HourlyRun:
    """One run of the hourly aggregation started in the soak, and what it did."""

    start: datetime
    end: datetime | None  # None: still going when judged
    status: str
    rows: int  # raw rows the hourly rollups of its hour count (sum of count_value)
    rollups: int  # hourly rollup rows of its hour
    soak_rows: int  # of those raw rows, this soak's
    seal_lags: tuple[timedelta, ...]  # probes from its start to a minute after its end
    refreshes: int  # monitoring-rollup-refresh runs started while it ran
    refresh_longest: timedelta | None

    @property
    def hour(self) -> datetime:
        return aggregated_hour(self.start)


def covers(writes_from: datetime, writes_to: datetime, hour: datetime) -> bool:
    """Whether the writers ran for the whole of ``hour`` (so the run had a full hour of them)."""
    return writes_from <= hour and hour + timedelta(hours=1) <= writes_to


def lags_during(
    probes: Sequence[tuple[datetime, timedelta]], start: datetime, end: datetime | None
) -> tuple[timedelta, ...]:
    """Seal lags probed from ``start`` to a minute after ``end`` (to the last probe if None)."""
    stop = end + timedelta(minutes=1) if end is not None else None
    return tuple(lag for at, lag in probes if at >= start and (stop is None or at <= stop))


def describe_hourly_run(r: HourlyRun, writes_from: datetime, writes_to: datetime) -> str:
    """One line of figures for an hourly aggregation run."""
    took = f"{(r.end - r.start).total_seconds():.2f}s" if r.end is not None else "still going"
    full = "the soak wrote all of it" if covers(writes_from, writes_to, r.hour) else "partly"
    worst = f"{max(r.seal_lags).total_seconds():.0f}s" if r.seal_lags else "-"
    longest = f"{r.refresh_longest.total_seconds():.2f}s" if r.refresh_longest else "-"
    return (
        f"{r.start:%H:%M:%S}-{f'{r.end:%H:%M:%S}' if r.end else '?'} {r.status} in {took}: "
        f"hour {r.hour:%H:%M} ({full}), {r.rows} raw rows in {r.rollups} rollups "
        f"({r.soak_rows} of this soak); seal_lag at most {worst} over {len(r.seal_lags)} probes "
        f"to a minute after its end; {r.refreshes} refreshes started while it ran, "
        f"longest {longest}"
    )


def seal_verdict(lags: Sequence[timedelta]) -> Verdict:
    """The views' minute rollups: the latest sealed minute's end never too far behind now."""
    if not lags:
        return Verdict("minute rollups", False, "never probed")
    worst = max(lags)
    ok = worst <= SEAL_LAG_LIMIT
    return Verdict(
        "minute rollups",
        ok,
        f"latest sealed minute ended at most {worst.total_seconds():.0f}s before now "
        f"over {len(lags)} probes (limit {SEAL_LAG_LIMIT.total_seconds():.0f}s)",
    )


# ----------------------------------------------------------------- database
def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f'{name} is not set: run `eval "$(scripts/local-stack.sh env)"` first')
    return value


def scalar(conn: Any, sql: str, params: Any = None) -> Any:
    """The first column of the first row."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {sql!r}")
    return row[0]


def check_cron(conn: Any, expected: Sequence[str], wait: float) -> list[str]:
    """Problems with pg_cron: a job missing or inactive, or no sign it really runs jobs."""
    jobs = {
        name: active
        for name, active in conn.execute(
            "select jobname, active from cron.job where database = current_database()"
        ).fetchall()
    }
    problems = [f"job {n} missing" for n in expected if n not in jobs]
    problems += [f"job {n} inactive" for n in expected if jobs.get(n) is False]
    launcher = scalar(
        conn, "select count(*) from pg_stat_activity where backend_type = 'pg_cron launcher'"
    )
    if not launcher:
        problems.append("no pg_cron launcher process")
    # The every-minute job must have started lately: cron is really scheduling here.
    deadline = time.monotonic() + wait
    while True:
        recent = scalar(
            conn,
            "select count(*) from cron.job_run_details as d join cron.job as j using (jobid) "
            "where j.jobname = %s and d.start_time > now() - interval '2 minutes'",
            (EVERY_MINUTE_JOB,),
        )
        if recent or time.monotonic() > deadline:
            break
        time.sleep(5)
    if not recent:
        problems.append(f"{EVERY_MINUTE_JOB} has not run in the last 2 minutes")
    return problems


def seal_lag(conn: Any) -> tuple[datetime, timedelta]:
    """now(), and now() minus the end of the latest minute the views' rollups sealed."""
    row = conn.execute(
        "select now(), now() - (max(period_start) + interval '1 minute') "
        "from monitoring_internal.rollup_seals where kind = 'minute'"
    ).fetchone()
    if row is None:
        raise RuntimeError("no row from the seal-lag probe")
    return row[0], row[1] if row[1] is not None else timedelta.max


def hourly_watermark(conn: Any) -> datetime | None:
    row = conn.execute(
        "select aggregated_until from monitoring.aggregation_watermarks where period = 'hourly'"
    ).fetchone()
    return row[0] if row else None


def job_runs(conn: Any, since: datetime, until: datetime) -> list[JobRuns]:
    """This project's jobs' runs that started in [since, until), and the fires they owed."""
    rows = conn.execute(
        """
        select j.jobname, j.command,
               count(d.runid),
               count(*) filter (where d.status = 'succeeded'),
               count(*) filter (where d.status = 'failed'),
               (select count(*)
                from unnest(monitoring_internal.cron_recent_runs(
                       j.schedule, %(until)s - interval '1 minute', 'GMT',
                       (extract(epoch from %(until)s - %(since)s) / 60)::integer + 2)) as f(t)
                where f.t >= %(since)s),
               max(d.end_time - d.start_time),
               coalesce(array_agg(d.return_message) filter (where d.status = 'failed'), '{}')
        from cron.job as j
        left join cron.job_run_details as d
          on d.jobid = j.jobid and d.start_time >= %(since)s and d.start_time < %(until)s
        where j.database = current_database()
        group by j.jobid, j.jobname, j.command, j.schedule
        order by j.jobname
        """,
        {"since": since, "until": until},
    ).fetchall()
    return [
        JobRuns(name, runs, ok, failed, expected, longest, tuple(messages))
        for name, command, runs, ok, failed, expected, longest, messages in rows
        if PROJECT_COMMAND.search(command)
    ]


def wait_hourly(conn: Any, since: datetime, until: datetime, timeout: float) -> float:
    """Wait (at most ``timeout`` s) for hourly runs started in [since, until) to end; seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        going = scalar(
            conn,
            "select count(*) from cron.job_run_details as d join cron.job as j using (jobid) "
            "where j.jobname = %s and d.start_time >= %s and d.start_time < %s "
            "and d.status not in ('succeeded', 'failed')",
            (HOURLY_JOB, since, until),
        )
        if not going:
            break
        time.sleep(5)
    return time.monotonic() - t0


def hourly_runs(
    conn: Any,
    run: str,
    since: datetime,
    until: datetime,
    probes: Sequence[tuple[datetime, timedelta]],
) -> list[HourlyRun]:
    """The hourly aggregation's runs started in [since, until), whatever their status."""
    rows = conn.execute(
        """
        select d.start_time, d.end_time, d.status,
               coalesce(a.rows, 0), coalesce(a.rollups, 0),
               (select count(*) from monitoring.pipeline_metrics as m
                where m."timestamp" >= h.hour and m."timestamp" < h.hour + interval '1 hour'
                  and m.tags->>'soak_run' = %(run)s),
               r.runs, r.longest
        from cron.job_run_details as d
        join cron.job as j using (jobid)
        cross join lateral (
          select date_trunc('hour', d.start_time - interval '3 minutes', 'UTC')
                 - interval '1 hour' as hour) as h
        left join lateral (
          select sum(x.count_value)::bigint as rows, count(*) as rollups
          from monitoring.aggregated_metrics as x
          where x.period = 'hourly' and x.period_start = h.hour) as a on true
        cross join lateral (
          select count(*) as runs, max(f.end_time - f.start_time) as longest
          from cron.job_run_details as f join cron.job as g using (jobid)
          where g.jobname = %(refresh)s and f.start_time >= d.start_time
            and f.start_time <= coalesce(d.end_time, now())) as r
        where j.jobname = %(hourly)s and d.start_time >= %(since)s and d.start_time < %(until)s
        order by d.start_time
        """,
        {
            "run": run,
            "refresh": EVERY_MINUTE_JOB,
            "hourly": HOURLY_JOB,
            "since": since,
            "until": until,
        },
    ).fetchall()
    return [
        HourlyRun(
            start,
            end,
            status,
            int(n),
            int(rollups),
            int(mine),
            lags_during(probes, start, end),
            int(refreshes),
            longest,
        )
        for start, end, status, n, rollups, mine, refreshes, longest in rows
    ]


def count_rows(conn: Any, run: str, since: datetime) -> int:
    # The time bound lets the planner skip every other day's partition.
    return int(
        scalar(
            conn,
            "select count(*) from monitoring.pipeline_metrics "
            "where \"timestamp\" >= %s and tags->>'soak_run' = %s",
            (since - timedelta(minutes=1), run),
        )
    )


def delete_rows(conn: Any, run: str, since: datetime) -> None:
    conn.execute(
        "delete from monitoring.pipeline_metrics "
        "where \"timestamp\" >= %s and tags->>'soak_run' = %s",
        (since - timedelta(minutes=1), run),
    )


# ----------------------------------------------------------------- writers
@dataclass
class Writer:
    """One writer thread's share of the run: its latencies (us) and how late it ran."""

    index: int
    latencies: array[float] = field(default_factory=lambda: array("d"))
    refused: int = 0  # record_* returned False (dropped or invalid)
    max_late: float = 0.0  # seconds behind its schedule, at worst
    done: int = 0
    cpu: float = 0.0  # this thread's CPU time (s)


def make_calls(client: Any, run: str) -> list[Callable[[int], bool]]:
    """The three record_* calls a pipeline worker makes, in turn; call j picks j % 3."""
    tags = {"soak_run": run}
    apis = ["spotify", "musicbrainz", "discogs", "lastfm"]

    def api_call(j: int) -> bool:
        ok = j % 50 != 0
        return bool(
            client.record_api_call(
                apis[j % 4], 40.0 + j % 97, ok, status_code=200 if ok else 503, tags=tags
            )
        )

    def processing(j: int) -> bool:
        return bool(
            client.record_processing_metric("soak_queue", 120.0 + j % 31, 10, j % 2, tags=tags)
        )

    def metric(j: int) -> bool:
        return bool(client.record_metric("soak_queue_lag", float(j % 1000), tags))

    return [api_call, processing, metric]


def run_writer(
    w: Writer,
    writers: int,
    total: int,
    start: float,
    rate: float,
    calls: Sequence[Callable[[int], bool]],
    stop: threading.Event,
) -> None:
    perf = time.perf_counter
    perf_ns = time.perf_counter_ns
    sleep = time.sleep
    lat = w.latencies
    append = lat.append
    n = len(calls)
    cpu0 = time.thread_time()
    for j in writer_indices(w.index, writers, total):
        when = due(start, j, rate)
        now = perf()
        if when > now:
            sleep(when - now)
        elif now - when > w.max_late:
            w.max_late = now - when
        if stop.is_set():
            break
        t0 = perf_ns()
        ok = calls[j % n](j)
        append((perf_ns() - t0) / 1000)
        if not ok:
            w.refused += 1
        w.done += 1
    w.cpu = time.thread_time() - cpu0


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ----------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="metrics/s, all writers")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--writers", type=int, default=2, help="writer threads")
    parser.add_argument("--keep", action="store_true", help="leave the run's rows in the table")
    parser.add_argument(
        "--cron-wait", type=float, default=90.0, help="seconds to wait for pg_cron's first run"
    )
    parser.add_argument(
        "--hourly-wait",
        type=float,
        default=600.0,
        help="seconds to wait at the end for an hourly aggregation run still going",
    )
    args = parser.parse_args()
    if args.rate <= 0 or args.minutes <= 0 or args.writers < 1:
        parser.error("--rate and --minutes must be > 0, --writers >= 1")

    import psycopg

    from supabase_monitoring import BatchingConfig, MonitoringClient

    db_url = env("SUPABASE_DB_URL")
    expected = scheduled_jobs(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))
    conn = psycopg.connect(db_url, autocommit=True)
    problems = check_cron(conn, expected, args.cron_wait)
    if problems:
        print("precondition FAIL: " + "; ".join(problems))
        return 1
    print(f"precondition: {len(expected)} pg_cron jobs active and running ({', '.join(expected)})")

    run = uuid.uuid4().hex
    total = int(args.rate * args.minutes * 60)
    batch = BatchingConfig().max_batch_size
    client = MonitoringClient.from_env()
    calls = make_calls(client, run)
    writers = [Writer(k) for k in range(args.writers)]
    stop = threading.Event()
    wm_before = hourly_watermark(conn)
    since = scalar(conn, "select now()")
    load_start = loadavg()
    print(
        f"soak {run}: {args.rate:g} metrics/s x {args.minutes:g} min = {total} calls, "
        f"{args.writers} writers, batch {batch}; load average {load_start}; "
        f"{os.cpu_count()} CPUs"
    )
    cpu0 = time.process_time()
    start = time.perf_counter() + 0.1
    threads = [
        threading.Thread(
            target=run_writer,
            args=(w, args.writers, total, start, args.rate, calls, stop),
            name=f"soak-writer-{w.index}",
        )
        for w in writers
    ]
    for t in threads:
        t.start()
    pending: list[int] = []
    probes: list[tuple[datetime, timedelta]] = []  # (now(), seal lag), every sample
    load_middle = ""
    peak_rss = rss_mib()
    sample = 0
    try:
        while any(t.is_alive() for t in threads):
            sample += 1
            wake = start + sample * SAMPLE_EVERY
            for t in threads:
                t.join(max(0.0, wake - time.perf_counter()))
            if not any(t.is_alive() for t in threads):
                break
            s = client.stats
            pending.append(s.pending)
            peak_rss = max(peak_rss, rss_mib())
            done = sum(w.done for w in writers)
            line = (
                f"  t={sample * SAMPLE_EVERY:5.0f}s calls={done} enqueued={s.enqueued} "
                f"written={s.written} pending={s.pending} dropped={s.dropped} "
                f"rejected={s.rejected} batches={s.batches_written} retries={s.retries} "
                f"late={max(w.max_late for w in writers):.3f}s rss={peak_rss:.0f}MiB"
            )
            probes.append(seal_lag(conn))
            line += f" seal_lag={probes[-1][1].total_seconds():.0f}s"
            if not load_middle and sample * SAMPLE_EVERY >= args.minutes * 30:
                load_middle = loadavg()
                line += f" load={load_middle}"
            print(line, flush=True)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join()
        print("interrupted: judging what ran")
    elapsed = max(time.perf_counter() - start, 1e-9)
    writes_to = scalar(conn, "select now()")
    close_started = time.perf_counter()
    client.close(timeout=120)
    close_s = time.perf_counter() - close_started
    cpu = time.process_time() - cpu0
    until = scalar(conn, "select now()")
    final = client.stats
    load_end = loadavg()

    calls_made = sum(w.done for w in writers)
    lat = summarize(w.latencies for w in writers)
    in_db = count_rows(conn, run, since)
    probes.append(seal_lag(conn))
    jobs = job_runs(conn, since, until)
    waited = wait_hourly(conn, since, until, args.hourly_wait)
    hourly = hourly_runs(conn, run, since, until, probes)
    verdicts = [
        rate_verdict(calls_made, elapsed, args.rate),
        exactly_once_verdict(
            final.enqueued, final.written, final.dropped, final.rejected, final.pending, in_db
        ),
        buffer_verdict(pending, batch),
        cron_verdict(jobs),
        retention_verdict(jobs),
        seal_verdict([lag for _, lag in probes]),
        watermark_verdict(wm_before, hourly_watermark(conn), [r.start for r in hourly]),
    ]
    if not args.keep:
        delete_rows(conn, run, since)
    conn.close()

    print(f"\nsoak {run} finished at {until:%Y-%m-%d %H:%M:%S} UTC")
    print(
        f"  {calls_made} calls in {elapsed:.1f}s ({calls_made / elapsed:.1f}/s), "
        f"refused {sum(w.refused for w in writers)}, worst lateness "
        f"{max(w.max_late for w in writers) * 1000:.1f} ms; close() took {close_s:.2f}s"
    )
    print(
        f"  record_* latency (us): mean {lat.mean:.1f}  p50 {lat.p50:.1f}  p99 {lat.p99:.1f}  "
        f"max {lat.max:.0f}"
    )
    per = 1e6 / max(calls_made, 1)
    callers = sum(w.cpu for w in writers)
    print(
        f"  process CPU {cpu:.1f}s = {cpu * per:.1f} us per metric: writer threads "
        f"{callers * per:.1f} us (record_* and pacing), the rest {(cpu - callers) * per:.1f} us "
        f"(background writer, heartbeats, sampler); {cpu / elapsed:.0%} of one core; "
        f"peak RSS {peak_rss:.0f} MiB"
    )
    print(
        f"  SinkStats: enqueued {final.enqueued} written {final.written} dropped {final.dropped} "
        f"rejected {final.rejected} pending {final.pending} batches {final.batches_written} "
        f"failed batches {final.failed_batches} retries {final.retries} invalid {final.invalid}"
    )
    print(
        f"  max pending {max(pending, default=0)} (samples every {SAMPLE_EVERY:g}s); "
        f"{final.written / max(final.batches_written, 1):.1f} rows per batch, "
        f"{final.batches_written / elapsed:.1f} batches/s"
    )
    print(f"  load average start {load_start}, middle {load_middle or '-'}, end {load_end}")
    print("  cron runs during the soak (job: runs / succeeded / failed / due, longest):")
    for j in jobs:
        longest = f"{j.longest.total_seconds():.2f}s" if j.longest is not None else "-"
        print(
            f"    {j.jobname:30} {j.runs:3} / {j.succeeded:3} / {j.failed} / {j.expected:3}  "
            f"{longest}"
        )
    print(
        f"  hourly aggregation runs during the soak (writers {since:%H:%M:%S}-{writes_to:%H:%M:%S}"
        f"{f'; waited {waited:.0f}s for one to end' if waited >= 1 else ''}):"
    )
    for r in hourly:
        print(f"    {describe_hourly_run(r, since, writes_to)}")
    if not hourly:
        print("    none")
    print()
    for v in verdicts:
        print(f"{'PASS' if v.ok else 'FAIL'} {v.name}: {v.detail}")
    return 0 if all(v.ok for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Ingestion benchmark: what a metric costs the worker, and how fast rows reach Postgres.

Everything below runs in one process and one run, so the ratios compare like with like
on a noisy machine (absolute figures are not comparable between runs).

Hot path: record_api_call (MonitoringClient, and AsyncMonitoringClient called on its
event loop) beside prometheus_client's labelled Counter.labels(...).inc(), in
interleaved rounds. The SDK's background writer runs as in a real worker (default
BatchingConfig) and is flushed at the end of each SDK round, so its work is counted:
  * mean per call = wall time of the round / calls (what the worker's loop really pays,
    including the moments the writer thread holds the GIL),
  * median and p99 of 100-call blocks (the median alone hides the writer's share),
  * CPU of the caller's thread per call, of the writer per row (process CPU minus the
    caller's thread: nothing else runs in this process), and the process CPU per metric
    end to end (until the round's rows are written).
End to end: rows/s from the first record_* call until flush() returns, rows counted in
the database, for the SDK, the writer paths being compared (bulk table insert and the
columnar RPC monitoring.ingest_metrics, each with a body encoded once), psycopg COPY
(the ceiling) and the spec's one insert per metric; median of interleaved rounds.

usage: eval "$(scripts/local-stack.sh env)"; .venv/bin/python benchmarks/ingest.py [-n 100000]
       .venv/bin/python benchmarks/ingest.py --outage 60   (memory while the API is down)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from prometheus_client import CollectorRegistry, Counter

from supabase import ClientOptions, create_client
from supabase_monitoring import AsyncMonitoringClient, BatchingConfig, MonitoringClient
from supabase_monitoring._batching import BatchingSink
from supabase_monitoring._columns import MetricBatch
from supabase_monitoring._sink import SinkContext
from supabase_monitoring._tables import PIPELINE_METRICS
from supabase_monitoring._transport import _bulk_rows
from supabase_monitoring._wire import (
    ENCODER,
    dumps,
    ingest_metrics_body,
)
from supabase_monitoring.errors import is_transient

APIS = ["spotify", "musicbrainz", "discogs", "lastfm"]
BLOCK = 100  # calls per timed block (perf_counter_ns per block, not per call)
E2E_BATCH = 5000
BULK_COLUMNS = 'id,metric_name,metric_value,tags,"timestamp"'  # as supabase-py sends them


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f'{name} is not set: run `eval "$(scripts/local-stack.sh env)"` first')
    return value


def run_apis(run_tag: str) -> list[str]:
    """API names unique to one run: rows are found by them, with no extra tags on the calls."""
    return [f"{api}.{run_tag}" for api in APIS]


def count_rows(db_url: str, run_tag: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "select count(*) from monitoring.pipeline_metrics "
            "where metric_name = 'api_call' and tags->>'api' = any(%s)",
            (run_apis(run_tag),),
        ).fetchone()
    return int(row[0]) if row else 0


def cleanup(db_url: str, run_tag: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "delete from monitoring.pipeline_metrics "
            "where metric_name = 'api_call' and tags->>'api' = any(%s)",
            (run_apis(run_tag),),
        )


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


# ----------------------------------------------------------------- hot path
@dataclass
class HotSide:
    """Totals over the rounds of one side of the hot-path comparison."""

    calls: int = 0
    wall: float = 0.0
    caller_cpu: float = 0.0  # the caller's thread, during the calls
    gc_cpu: float = 0.0  # in the cyclic garbage collector (any thread), until rows are written
    process_cpu: float = 0.0  # the whole process, until the round's rows are written
    blocks: list[float] = field(default_factory=list)  # us per call, per block
    pacing_cpu: float = 0.0  # paced rounds: process CPU of the pauses alone, already subtracted

    @property
    def writer_cpu(self) -> float:
        return self.process_cpu - self.caller_cpu

    def per_call_us(self, seconds: float) -> float:
        return seconds / self.calls * 1e6


class GcClock:
    """CPU time spent in the cyclic garbage collector, from gc.callbacks.

    A collection runs on the thread whose allocation triggered it, and its two
    callbacks run there too, so that thread's CPU clock times it.
    """

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.total += time.thread_time() - self._started


GC = GcClock()


def timed_round(
    side: HotSide,
    fn: Callable[[int], None],
    calls: int,
    settle: Callable[[], None] | None = None,
    rate: float | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """``calls`` calls of ``fn`` in blocks, then ``settle`` (the SDK's flush), added to ``side``.

    With ``rate`` (calls/s) the blocks are paced, ``pause`` between them outside the
    timed region, as a worker recording at that rate would; ``wall`` then sums the
    blocks only.
    """
    blocks = side.blocks
    perf_ns = time.perf_counter_ns
    cpu0, caller0, gc0 = time.process_time(), time.thread_time(), GC.total
    started = time.perf_counter()
    paced_wall = 0
    for b in range(calls // BLOCK):
        base = b * BLOCK
        t0 = perf_ns()
        for i in range(base, base + BLOCK):
            fn(i)
        spent = perf_ns() - t0
        blocks.append(spent / BLOCK / 1000)
        if rate is not None:
            paced_wall += spent
            ahead = started + (base + BLOCK) / rate - time.perf_counter()
            if ahead > 0:
                pause(ahead)
    wall = time.perf_counter() - started if rate is None else paced_wall / 1e9
    caller = time.thread_time() - caller0
    if settle is not None:
        settle()
    side.calls += calls // BLOCK * BLOCK
    side.wall += wall
    side.caller_cpu += caller
    side.process_cpu += time.process_time() - cpu0
    side.gc_cpu += GC.total - gc0


def bench_hot_path(
    calls: int, rounds: int, run_tag: str, rate: float | None = None
) -> tuple[HotSide, HotSide, HotSide, int]:
    """(SDK, async SDK, prometheus_client) over interleaved rounds, and rows the SDKs did not write.

    The async client records from code running on its event loop, as a worker's
    coroutine would. Flat out, its writer tasks run when the round awaits flush();
    paced, the pauses run the loop (``asyncio.sleep``), so its flushers wake on their
    own timers as in a service. Paced rounds subtract each side's pauses alone (the
    same round with a no-op call), so a loop's sleep, dearer than ``time.sleep``, is
    not counted as the SDK's work.
    """
    registry = CollectorRegistry()
    counter = Counter("api_calls", "API calls", ["api", "success"], registry=registry)
    apis = run_apis(run_tag)

    def prom(i: int) -> None:
        counter.labels(apis[i % 4], "true").inc()

    client = MonitoringClient.from_env()

    def record(i: int) -> None:
        client.record_api_call(apis[i % 4], 12.5, True)

    def flush() -> None:
        if not client.flush(timeout=300):
            sys.exit("flush did not complete")

    loop = asyncio.new_event_loop()

    async def open_async() -> AsyncMonitoringClient:
        return AsyncMonitoringClient.from_env()

    aclient = loop.run_until_complete(open_async())

    def record_async(i: int) -> None:
        aclient.record_api_call(apis[i % 4], 12.5, True)

    def flush_async() -> None:
        if not loop.run_until_complete(aclient.flush(timeout=300)):
            sys.exit("async flush did not complete")

    def pause_async(seconds: float) -> None:
        loop.run_until_complete(asyncio.sleep(seconds))

    def nothing(_i: int) -> None:
        pass

    sdk, asdk, prometheus = HotSide(), HotSide(), HotSide()
    sides: list[tuple[HotSide, Callable[[int], None], Callable[[], None] | None, Any]] = [
        (prometheus, prom, None, time.sleep),
        (sdk, record, flush, time.sleep),
        (asdk, record_async, flush_async, pause_async if rate is not None else time.sleep),
    ]
    for _ in range(rounds):
        for side, fn, settle, pause in sides:
            timed_round(side, fn, calls // rounds, settle, rate=rate, pause=pause)
            if rate is not None:
                alone = HotSide()
                timed_round(alone, nothing, calls // rounds, rate=rate, pause=pause)
                side.process_cpu -= alone.process_cpu
                side.caller_cpu -= alone.caller_cpu
                side.pacing_cpu += alone.process_cpu
    stats, astats = client.stats, aclient.stats
    client.close()
    loop.run_until_complete(aclient.close())
    loop.close()
    return sdk, asdk, prometheus, stats.dropped + stats.rejected + astats.dropped + astats.rejected


def print_hot(title: str, sdk: HotSide, asdk: HotSide, prom: HotSide, lost: int) -> None:
    print(title)
    print(
        f"  {'':36s} {'record_api_call':>15s} {'async client':>13s} {'Counter.inc()':>14s}"
        f" {'ratio':>6s} {'async':>6s}"
    )

    def line(label: str, a: float, b: float, c: float, note: str = "") -> None:
        ratios = f"{a / c:6.2f} {b / c:6.2f}" if c else f"{'-':>6s} {'-':>6s}"
        print(f"  {label:36s} {a:12.2f} us {b:10.2f} us {c:11.2f} us {ratios}{note}")

    def per_call(pick: Callable[[HotSide], float]) -> tuple[float, float, float]:
        return (
            sdk.per_call_us(pick(sdk)),
            asdk.per_call_us(pick(asdk)),
            prom.per_call_us(pick(prom)),
        )

    line("mean per call (wall / calls)", *per_call(lambda s: s.wall))
    line(
        "median of 100-call blocks",
        *(statistics.median(s.blocks) for s in (sdk, asdk, prom)),  # type: ignore[arg-type]
    )
    line("p99 of 100-call blocks", *(p99(s.blocks) for s in (sdk, asdk, prom)))  # type: ignore[arg-type]
    line("caller's thread CPU per call", *per_call(lambda s: s.caller_cpu))
    print(
        f"  {'writer CPU per row':36s} {sdk.per_call_us(sdk.writer_cpu):12.2f} us"
        f" {asdk.per_call_us(asdk.writer_cpu):10.2f} us"
    )
    line("garbage collector CPU per call", *per_call(lambda s: s.gc_cpu))
    line(
        "process CPU per metric, end to end",
        *per_call(lambda s: s.process_cpu),
        "  (target <= 1.0)",
    )
    if prom.pacing_cpu:
        line("pauses alone, subtracted above", *per_call(lambda s: s.pacing_cpu))
    print(f"  ({sdk.calls} calls each side, {lost} SDK rows dropped or rejected)")


# ----------------------------------------------------------------- end to end
@dataclass
class E2E:
    rates: list[float] = field(default_factory=list)  # rows/s per round
    cpu_per_row: list[float] = field(default_factory=list)  # process CPU, us
    writer_per_row: list[float] = field(default_factory=list)  # non-caller CPU, us
    rows_found: list[int] = field(default_factory=list)


class RestWriter:
    """A writer path under comparison: raw httpx, body encoded once, one attempt per call.

    ``bulk`` is the table insert the SDK sends through supabase-py (ids and ISO
    timestamps from ``_rows.finalize``), ``rpc`` the columnar monitoring.ingest_metrics.
    """

    def __init__(self) -> None:
        key = env("SUPABASE_SERVICE_ROLE_KEY")
        self.http = httpx.Client(
            base_url=env("SUPABASE_URL").rstrip("/") + "/rest/v1",
            headers={
                "apikey": key,
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Content-Profile": "monitoring",
            },
            timeout=60,
        )

    def bulk(self, _table: Any, batch: MetricBatch) -> None:
        rows = _bulk_rows(batch)  # the SDK's fallback: the batch's ids, ISO timestamps
        self.http.post(
            "/pipeline_metrics",
            params={"on_conflict": PIPELINE_METRICS.conflict, "columns": BULK_COLUMNS},
            content=dumps(rows),
            headers={"Prefer": "resolution=ignore-duplicates,return=minimal"},
        ).raise_for_status()

    def rpc(self, _table: Any, batch: MetricBatch) -> None:
        content, columns = ingest_metrics_body(batch)
        response = self.http.post(
            "/rpc/ingest_metrics", params={"columns": columns}, content=content
        )
        response.raise_for_status()
        if not isinstance(response.json(), int):
            raise RuntimeError(f"ingest_metrics answered {response.text[:80]!r}")

    def close(self) -> None:
        self.http.close()


def writer_client(write: Callable[[Any, MetricBatch], None]) -> MonitoringClient:
    """A client whose batching sink writes through ``write`` (same call site, same sink)."""

    def build(_context: SinkContext) -> BatchingSink[Any]:
        return BatchingSink(
            write,  # type: ignore[arg-type]  # only metrics are recorded here
            is_transient=is_transient,
            config=BatchingConfig(max_batch_size=E2E_BATCH),
            metrics_table=PIPELINE_METRICS,
        )

    return MonitoringClient.from_env(sink=build)


def run_e2e(result: E2E, n: int, db_url: str, run_tag: str, make: Callable[[], Any]) -> None:
    client = make()
    apis = run_apis(run_tag)
    cpu0, caller0 = time.process_time(), time.thread_time()
    started = time.perf_counter()
    for i in range(n):
        client.record_api_call(apis[i % 4], 10.0 + i % 50, True)
    if not client.flush(timeout=300):
        sys.exit("flush did not complete")
    elapsed = time.perf_counter() - started
    cpu, caller = time.process_time() - cpu0, time.thread_time() - caller0
    client.close()
    result.rates.append(n / elapsed)
    result.cpu_per_row.append(cpu / n * 1e6)
    result.writer_per_row.append((cpu - caller) / n * 1e6)
    result.rows_found.append(count_rows(db_url, run_tag))
    cleanup(db_url, run_tag)


def run_copy(result: E2E, n: int, db_url: str, run_tag: str) -> None:
    now = datetime.now(UTC)
    apis = run_apis(run_tag)
    with psycopg.connect(db_url) as conn:
        cpu0 = time.process_time()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "copy monitoring.pipeline_metrics "
                '(id, metric_name, metric_value, tags, "timestamp") from stdin'
            ) as copy,
        ):
            for i in range(n):
                copy.write_row(
                    (
                        uuid.uuid4(),
                        "api_call",
                        10.0 + i % 50,
                        f'{{"api": "{apis[i % 4]}", "success": "true"}}',
                        now,
                    )
                )
        conn.commit()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    result.rates.append(n / elapsed)
    result.cpu_per_row.append(cpu / n * 1e6)
    result.writer_per_row.append(0.0)
    result.rows_found.append(count_rows(db_url, run_tag))
    cleanup(db_url, run_tag)


def bench_spec_pattern(n: int, run_tag: str) -> float:
    """One insert per metric, as the spec's recordApiCall does (service_role, supabase-py)."""
    client = create_client(
        env("SUPABASE_URL"),
        env("SUPABASE_SERVICE_ROLE_KEY"),
        options=ClientOptions(httpx_client=httpx.Client(timeout=10)),
    )
    table = client.schema("monitoring").table("pipeline_metrics")
    apis = run_apis(run_tag)
    started = time.perf_counter()
    for i in range(n):
        table.insert(
            {
                "metric_name": "api_call",
                "metric_value": 10.0 + i % 50,
                "tags": {"api": apis[i % 4], "success": "true"},
            },
            returning="minimal",  # type: ignore[arg-type]
        ).execute()
    return n / (time.perf_counter() - started)


# ----------------------------------------------------------------- outage
def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_outage(seconds: float, rate: int) -> None:
    """Record `rate` metrics/s against an unreachable API; memory must stay bounded."""
    config = BatchingConfig(max_buffer=100_000)
    client = MonitoringClient(
        "http://127.0.0.1:9", env("SUPABASE_SERVICE_ROLE_KEY"), batching=config
    )
    print(
        f"outage: {rate}/s for {seconds:.0f}s against a dead API, buffer bound {config.max_buffer}"
    )
    start = time.monotonic()
    sent = 0
    peak = rss_mib()
    print(f"  t=0s rss={peak:.1f} MiB")
    while (elapsed := time.monotonic() - start) < seconds:
        target = int(elapsed * rate)
        while sent < target:
            client.record_api_call("spotify", 12.5, True)
            sent += 1
        time.sleep(0.01)
        if int(elapsed) % 10 == 0 and elapsed - int(elapsed) < 0.011:
            stats = client.stats
            peak = max(peak, rss_mib())
            print(
                f"  t={elapsed:.0f}s rss={rss_mib():.1f} MiB pending={stats.pending} "
                f"dropped={stats.dropped} retries={stats.retries}"
            )
        peak = max(peak, rss_mib())
    stats = client.stats
    print(
        f"  recorded={sent} pending={stats.pending} dropped={stats.dropped} peak rss={peak:.1f} MiB"
    )
    client.close(timeout=1)


# ----------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100_000, help="rows per end-to-end round")
    parser.add_argument("--rounds", type=int, default=3, help="end-to-end rounds per method")
    parser.add_argument(
        "--spec-sample",
        type=int,
        default=1000,
        help="metrics sent with the one-insert-per-metric pattern (it is slow)",
    )
    parser.add_argument("--hot-calls", type=int, default=250_000, help="hot-path calls per side")
    parser.add_argument("--hot-rounds", type=int, default=5)
    parser.add_argument("--paced-calls", type=int, default=20_000, help="0: skip the paced run")
    parser.add_argument(
        "--outage",
        type=float,
        default=0,
        metavar="SECONDS",
        help="instead: record 10k metrics/s for SECONDS against a dead API",
    )
    args = parser.parse_args()
    if args.outage:
        bench_outage(args.outage, 10_000)
        return

    db_url = env("SUPABASE_DB_URL")
    run = f"bench-{uuid.uuid4().hex[:8]}"
    n = args.n
    writer = RestWriter()
    methods: dict[str, Callable[[E2E, str], None]] = {
        "SDK (record_* -> flush)": lambda r, tag: run_e2e(
            r,
            n,
            db_url,
            tag,
            lambda: MonitoringClient.from_env(batching=BatchingConfig(max_batch_size=E2E_BATCH)),
        ),
        "bulk table insert, pre-encoded": lambda r, tag: run_e2e(
            r, n, db_url, tag, lambda: writer_client(writer.bulk)
        ),
        "columnar RPC ingest_metrics": lambda r, tag: run_e2e(
            r, n, db_url, tag, lambda: writer_client(writer.rpc)
        ),
        "psycopg COPY (ceiling)": lambda r, tag: run_copy(r, n, db_url, tag),
    }
    results = {name: E2E() for name in methods}
    tags = [run + "-spec", run + "-hot", run + "-paced"]
    try:
        spec_n = min(n, args.spec_sample)
        spec_rate = bench_spec_pattern(spec_n, run + "-spec")
        for r in range(args.rounds):
            for k, (name, method) in enumerate(methods.items()):
                tag = f"{run}-e{r}{k}"
                tags.append(tag)
                method(results[name], tag)
        hot = bench_hot_path(args.hot_calls, args.hot_rounds, run + "-hot")
        paced = None
        if args.paced_calls:
            paced = bench_hot_path(args.paced_calls, 2, run + "-paced", rate=10_000)
    finally:
        writer.close()
        for tag in tags:
            cleanup(db_url, tag)

    print(f"encoder for pre-encoded bodies: {ENCODER}; machine load: {os.getloadavg()[0]:.2f}")
    print_hot(
        f"hot path, flat out ({args.hot_rounds} interleaved rounds, SDK writer running)", *hot
    )
    if paced is not None:
        print_hot("hot path, paced at 10k calls/s (wall = timed blocks only)", *paced)

    copy_rate = statistics.median(results["psycopg COPY (ceiling)"].rates)
    print(f"end to end, {n} rows per round, median of {args.rounds} interleaved rounds")
    print(f"  {'':32s} {'rows/s':>9s} {'x COPY':>7s} {'CPU/row':>9s} {'writer/row':>11s}  rounds")
    print(f"  {'spec: one insert per metric':32s} {spec_rate:9,.0f} {spec_rate / copy_rate:7.3f}")
    lost = []
    for name, res in results.items():
        rate = statistics.median(res.rates)
        rounds = " ".join(f"{x:,.0f}" for x in res.rates)
        cpu, writer_cpu = statistics.median(res.cpu_per_row), statistics.median(res.writer_per_row)
        print(
            f"  {name:32s} {rate:9,.0f} {rate / copy_rate:7.2f} "
            f"{cpu:6.2f} us {writer_cpu:8.2f} us  {rounds}"
        )
        if any(found != n for found in res.rows_found):
            lost.append(f"{name}: {res.rows_found}")
    print("  (targets: SDK >= 0.8 x COPY; SDK >= 100 x the spec pattern)")
    if lost:
        sys.exit(f"expected {n} rows per round, found: {'; '.join(lost)}")


if __name__ == "__main__":
    main()

"""Ingestion benchmark: how fast metrics get from a worker's call into Postgres.

Prints, for N metrics on the local stack, in one process and one run:
  * the spec's pattern (one awaited insert per metric, supabase-py),
  * this SDK end to end (first record_* call until flush() returns; rows counted in the DB),
  * psycopg COPY straight into the table (the ceiling),
  * the per-call cost of record_* on the caller's thread beside prometheus_client's
    labelled Counter.inc(),
and the ratios. `--outage` instead measures memory while the API is unreachable.

usage: eval "$(scripts/local-stack.sh env)"; .venv/bin/python benchmarks/ingest.py [-n 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from prometheus_client import CollectorRegistry, Counter

from supabase import ClientOptions, create_client
from supabase_monitoring import BatchingConfig, MonitoringClient

APIS = ["spotify", "musicbrainz", "discogs", "lastfm"]


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


def bench_spec_pattern(n: int, run_tag: str) -> float:
    """One insert per metric, as the spec's recordApiCall does (service_role, supabase-py)."""
    import httpx

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
    return time.perf_counter() - started


def bench_sdk(n: int, run_tag: str) -> tuple[float, MonitoringClient]:
    client = MonitoringClient.from_env(batching=BatchingConfig(max_batch_size=5000))
    apis = run_apis(run_tag)
    started = time.perf_counter()
    for i in range(n):
        client.record_api_call(apis[i % 4], 10.0 + i % 50, True)
    if not client.flush(timeout=300):
        sys.exit("flush did not complete")
    return time.perf_counter() - started, client


def bench_copy(n: int, db_url: str, run_tag: str) -> float:
    now = datetime.now(UTC)
    apis = run_apis(run_tag)
    with psycopg.connect(db_url) as conn:
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
        return time.perf_counter() - started


def per_call_us(
    fn: Callable[[int], None], calls: int, block: int = 100, rate: float | None = None
) -> list[float]:
    """Cost of one call in microseconds per block of calls (blocks hide the clock's cost).

    With ``rate`` (calls/s) the blocks are paced, sleeping between them outside the
    timed region, as a worker recording at that rate would.
    """
    samples = []
    started = time.perf_counter()
    for b in range(calls // block):
        base = b * block
        t0 = time.perf_counter_ns()
        for i in range(base, base + block):
            fn(i)
        samples.append((time.perf_counter_ns() - t0) / block / 1000)
        if rate is not None:
            ahead = started + (base + block) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    return samples


def bench_hot_path(calls: int, run_tag: str, rate: float | None = None) -> tuple[float, float, int]:
    """Medians (SDK us, prometheus us) and the rows the SDK's buffer dropped."""
    registry = CollectorRegistry()
    counter = Counter("api_calls", "API calls", ["api", "success"], registry=registry)

    apis = run_apis(run_tag)

    def prom(i: int) -> None:
        counter.labels(apis[i % 4], "true").inc()

    client = MonitoringClient.from_env()

    def record(i: int) -> None:
        client.record_api_call(apis[i % 4], 12.5, True)

    # Interleave rounds so both see the same machine state.
    prom_s: list[float] = []
    sdk_s: list[float] = []
    for _ in range(5):
        prom_s += per_call_us(prom, calls // 5, rate=rate)
        sdk_s += per_call_us(record, calls // 5, rate=rate)
    client.flush(timeout=120)
    client.close()
    # Recording faster than the writer drains can fill the bounded buffer: counted, not hidden.
    return statistics.median(sdk_s), statistics.median(prom_s), client.stats.dropped


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100_000, help="metrics per method (default 100000)")
    parser.add_argument(
        "--spec-sample",
        type=int,
        default=1000,
        help="metrics sent with the one-insert-per-metric pattern (it is slow); "
        "its rate is what is compared",
    )
    parser.add_argument("--hot-calls", type=int, default=200_000)
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
    try:
        spec_n = min(n, args.spec_sample)
        spec_s = bench_spec_pattern(spec_n, run + "-spec")
        sdk_s, client = bench_sdk(n, run + "-sdk")
        sdk_rows = count_rows(db_url, run + "-sdk")
        stats = client.stats
        client.close()
        copy_s = bench_copy(n, db_url, run + "-copy")
        sdk_us, prom_us, hot_dropped = bench_hot_path(args.hot_calls, run + "-hot")
        paced_sdk_us, paced_prom_us, _ = bench_hot_path(50_000, run + "-paced", rate=10_000)
    finally:
        for suffix in ("-spec", "-sdk", "-copy", "-hot", "-paced"):
            cleanup(db_url, run + suffix)

    spec_rate, sdk_rate, copy_rate = spec_n / spec_s, n / sdk_s, n / copy_s
    print(f"N = {n} metrics (spec pattern measured on {spec_n})")
    print(f"  spec pattern, one insert per metric : {spec_rate:10,.0f} rows/s")
    print(
        f"  supabase-monitoring, end to end     : {sdk_rate:10,.0f} rows/s "
        f"({sdk_rows} rows found, {stats.batches_written} batches, {stats.retries} retries, "
        f"{stats.dropped} dropped)"
    )
    print(f"  psycopg COPY (ceiling)              : {copy_rate:10,.0f} rows/s")
    print(f"  record_api_call, flat out           : {sdk_us:10.2f} us/call (median)")
    print(f"  Counter.labels().inc(), flat out    : {prom_us:10.2f} us/call (median)")
    print(f"  (flat out: {args.hot_calls} calls, {hot_dropped} dropped by the buffer bound)")
    print(f"  record_api_call at 10k calls/s      : {paced_sdk_us:10.2f} us/call (median)")
    print(f"  Counter.labels().inc() at 10k/s     : {paced_prom_us:10.2f} us/call (median)")
    print("ratios")
    print(f"  SDK / COPY                          : {sdk_rate / copy_rate:10.2f}  (target >= 0.5)")
    print(f"  SDK / spec pattern                  : {sdk_rate / spec_rate:10.1f}  (target >= 100)")
    print(f"  record_* / Counter.inc, flat out    : {sdk_us / prom_us:10.2f}  (target <= 1.0)")
    paced_ratio = paced_sdk_us / paced_prom_us
    print(f"  record_* / Counter.inc, 10k/s       : {paced_ratio:10.2f}  (target <= 1.0)")
    if sdk_rows != n:
        sys.exit(f"expected {n} rows from the SDK run, found {sdk_rows}")


if __name__ == "__main__":
    main()

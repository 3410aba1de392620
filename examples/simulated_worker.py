"""A simulated pipeline worker: several queues and APIs, realistic latencies and
failures, and one queue that gets stuck.

Run it against a stack (SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY set):

    python examples/simulated_worker.py --seconds 20 --history-hours 6

What it simulates (latencies are recorded at their realistic values; the
worker only sleeps a fraction of them so a demo stays short):

* queue ``artist-ingest``: fast and healthy, calls ``spotify``;
* queue ``track-enrich``: slower, calls ``musicbrainz`` (rate limited: ~12% errors)
  and ``lyrics-api`` (slow: p95 around 2.5 s);
* queue ``label-sync``: its consumer hangs on a poison message. It stops
  processing, its backlog grows, its queue snapshots report stuck messages, and
  the worker logs a critical ``stuck_queue`` issue.

``--history-hours`` first back-dates a few hours of lighter traffic so reports
have a time axis to draw.
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from supabase_monitoring import MonitoringClient

logger = logging.getLogger("simulated_worker")

#: Real seconds slept per simulated millisecond of latency.
TIME_SCALE = 0.00005


@dataclass(frozen=True)
class ApiProfile:
    name: str
    median_ms: float
    spread: float  # sigma of the log-normal latency
    error_rate: float

    def call(self, rng: random.Random) -> tuple[float, bool]:
        latency = rng.lognormvariate(0, self.spread) * self.median_ms
        ok = rng.random() >= self.error_rate
        if not ok and rng.random() < 0.5:
            latency *= 3  # failures are often timeouts
        return round(latency, 3), ok


@dataclass(frozen=True)
class QueueProfile:
    name: str
    apis: tuple[str, ...]
    batch_size: tuple[int, int]
    overhead_ms: float
    arrivals_per_batch: float
    stuck_after_s: float | None = None  # the consumer hangs this long into the run


APIS = {
    "spotify": ApiProfile("spotify", 120.0, 0.35, 0.02),
    "musicbrainz": ApiProfile("musicbrainz", 300.0, 0.45, 0.12),
    "lyrics-api": ApiProfile("lyrics-api", 900.0, 0.7, 0.03),
    "discogs": ApiProfile("discogs", 220.0, 0.4, 0.04),
}

QUEUES = (
    QueueProfile("artist-ingest", ("spotify",), (20, 50), 40.0, 30),
    QueueProfile("track-enrich", ("musicbrainz", "lyrics-api"), (10, 25), 120.0, 18),
    QueueProfile("label-sync", ("discogs",), (5, 15), 60.0, 12, stuck_after_s=3.0),
)


@dataclass
class Summary:
    batches: int = 0
    messages: int = 0
    api_calls: int = 0
    api_errors: int = 0
    snapshots: int = 0
    issues: list[str] = field(default_factory=list)
    history_rows: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


def _name(prefix: str, base: str) -> str:
    return f"{prefix}{base}"


def _process_batch(
    client: MonitoringClient,
    queue: QueueProfile,
    rng: random.Random,
    prefix: str,
    summary: Summary,
    when: datetime | None = None,
    sleep: bool = True,
) -> int:
    size = rng.randint(*queue.batch_size)
    total_ms = queue.overhead_ms * rng.uniform(0.8, 1.3)
    errors = 0
    for api_name in queue.apis:
        api = APIS[api_name]
        calls = max(1, size // 10)
        for _ in range(calls):
            latency, ok = api.call(rng)
            client.record_api_call(
                _name(prefix, api.name),
                latency,
                ok,
                endpoint=f"/v1/{queue.name}",
                status_code=200 if ok else rng.choice((429, 500, 503)),
                timestamp=when,
            )
            summary.add(api_calls=1, api_errors=0 if ok else 1)
            total_ms += latency
            if not ok:
                errors += min(size - errors, rng.randint(1, 3))
    if sleep:
        time.sleep(min(total_ms * TIME_SCALE, 0.3))
    client.record_processing_metric(
        _name(prefix, queue.name),
        round(total_ms, 3),
        size - errors,
        errors,
        batch_size=size,
        timestamp=when,
    )
    summary.add(batches=1, messages=size)
    return size


def seed_history(
    client: MonitoringClient, hours: int, prefix: str, seed: int, summary: Summary
) -> None:
    """Back-dated lighter traffic: a few batches per queue in each of the last ``hours`` hours."""
    rng = random.Random(seed + 1)
    now = datetime.now(UTC)
    for h in range(hours, 0, -1):
        for queue in QUEUES:
            for i in range(3):
                when = now - timedelta(hours=h) + timedelta(minutes=10 + 15 * i)
                _process_batch(client, queue, rng, prefix, summary, when, sleep=False)
    summary.add(history_rows=summary.batches + summary.api_calls)


def _run_queue(
    client: MonitoringClient,
    queue: QueueProfile,
    seconds: float,
    prefix: str,
    seed: int,
    summary: Summary,
    stop: threading.Event,
) -> None:
    rng = random.Random(seed)
    start = time.monotonic()
    backlog = rng.randint(50, 120)
    stuck = False
    last_snapshot = 0.0
    # The stuck queue's head message has been waiting since before this run.
    head_age_offset = 900 if queue.stuck_after_s is not None else 0
    while not stop.is_set() and (elapsed := time.monotonic() - start) < seconds:
        backlog += int(rng.expovariate(1 / queue.arrivals_per_batch))
        if queue.stuck_after_s is not None and elapsed >= queue.stuck_after_s and not stuck:
            stuck = True
            issue = client.log_worker_issue(
                _name(prefix, f"{queue.name}-consumer"),
                "stuck_queue",
                f"{_name(prefix, queue.name)}: consumer hung on a poison message, "
                "no acknowledgement for 15 minutes",
                "critical",
                {"queue": _name(prefix, queue.name), "poison_message_id": 4711},
            )
            if issue:
                summary.issues.append(issue)
            last_snapshot = 0.0  # report the stuck backlog right away, not at the next tick
        if stuck:
            stop.wait(0.25)
        else:
            backlog = max(0, backlog - _process_batch(client, queue, rng, prefix, summary))
        if time.monotonic() - last_snapshot >= 2.0:
            last_snapshot = time.monotonic()
            oldest = int(elapsed) + head_age_offset if stuck else rng.randint(1, 40)
            # Stuck = waited longer than the health threshold (600 s by default):
            # everything enqueued before the consumer hung, i.e. most of the backlog.
            stuck_messages = min(backlog, max(0, backlog - 5)) if stuck else 0
            client.record_queue_snapshot(
                _name(prefix, queue.name),
                backlog,
                stuck_messages,
                oldest_msg_age_sec=oldest,
                details={"consumer": "hung" if stuck else "ok"},
            )
            summary.add(snapshots=1)


def run_simulation(
    client: MonitoringClient,
    seconds: float = 20.0,
    *,
    prefix: str = "",
    seed: int = 7,
    history_hours: int = 0,
    on_tick: Callable[[Summary], None] | None = None,
) -> Summary:
    """Run every queue in its own thread for ``seconds``; returns what was recorded."""
    summary = Summary()
    if history_hours:
        seed_history(client, history_hours, prefix, seed, summary)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_run_queue,
            args=(client, q, seconds, prefix, seed + i, summary, stop),
            name=f"queue-{q.name}",
            daemon=True,
        )
        for i, q in enumerate(QUEUES)
    ]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=2.0)
            if on_tick is not None:
                on_tick(summary)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join()
    client.flush()
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--history-hours", type=int, default=0)
    parser.add_argument("--prefix", default="", help="prefix for queue/API names (isolation)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with MonitoringClient.from_env() as client:
        summary = run_simulation(
            client,
            args.seconds,
            prefix=args.prefix,
            seed=args.seed,
            history_hours=args.history_hours,
            on_tick=lambda s: logger.info(
                "%d batches, %d messages, %d API calls (%d failed)",
                s.batches,
                s.messages,
                s.api_calls,
                s.api_errors,
            ),
        )
    print(
        f"recorded {summary.batches} batches ({summary.messages} messages), "
        f"{summary.api_calls} API calls ({summary.api_errors} failed), "
        f"{summary.snapshots} queue snapshots, {len(summary.issues)} issue(s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

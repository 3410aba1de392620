"""Synthetic production-scale data for benchmarks/sql_scale.py.

Rows are generated server-side (INSERT ... SELECT over generate_series) in
time order with UUIDv7 ids, like the SDK writes them, so heap order follows
`timestamp` as it does in production. Measured here: as fast as a COPY fed
from Python (both ~40k rows/s, bound by the table's three indexes and WAL),
with a richer mix for free and nothing crossing the wire.

Tag conventions follow docs/architecture.md: `queue_processing` carries
queue/success_count/error_count/batch_size, `api_call` carries api/success
(+ endpoint, status_code), and a few other metric names fill the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

QUEUES = [
    "artist-discovery",
    "track-enrichment",
    "playlist-sync",
    "label-crawl",
    "release-ingest",
    "image-processing",
]
APIS = ["spotify", "musicbrainz", "discogs", "lastfm", "youtube"]
WORKERS = ["worker-a", "worker-b", "worker-c", "worker-d"]
CHUNK_ROWS = 200_000
LOAD_EVENT = "sql_scale_load"  # event recording a load's shape, so later runs know it


def _sql_array(values: list[str]) -> str:
    return "array[" + ",".join(f"'{v}'" for v in values) + "]"


# One statement per chunk: %(t0)s, %(t1)s, %(n)s. Timestamps are spread evenly
# over [t0, t1) with jitter, so consecutive chunks keep the heap time-ordered.
# Mix: 45% queue_processing, 40% api_call, 15% other metric names.
METRICS_SQL = f"""
insert into monitoring.pipeline_metrics
  (id, metric_name, metric_value, tags, "timestamp", created_at)
select
  encode(set_byte(overlay(s.u placing
                            substring(int8send((extract(epoch from s.ts) * 1000)::bigint) from 3)
                          from 1 for 6),
                  6, (get_byte(s.u, 6) & 15) | 112), 'hex')::uuid,
  m.metric_name, m.metric_value, m.tags, s.ts, s.ts + interval '40 ms' * s.r5
from (
  select %(t0)s::timestamptz
           + (%(t1)s::timestamptz - %(t0)s::timestamptz) * ((g.i - random()) / %(n)s) as ts,
         uuid_send(gen_random_uuid()) as u,
         random() as r1, random() as r2, random() as r3, random() as r4, random() as r5
  from generate_series(1, %(n)s::int) as g(i)
) s
cross join lateral (
  select
    case when s.r1 < 0.45 then 'queue_processing'
         when s.r1 < 0.85 then 'api_call'
         when s.r1 < 0.90 then 'entity_throughput'
         when s.r1 < 0.95 then 'queue_depth'
         when s.r1 < 0.97 then 'rate_limit_hit'
         else 'worker_memory_mb' end as metric_name,
    (array[10, 25, 50, 100])[1 + floor(s.r3 * 4)::int] as batch_size,
    case when s.r4 < 0.93 then 0 when s.r4 < 0.99 then 1 + floor(s.r5 * 3)::int
         else 100 end as errors,
    case when s.r4 < 0.95 then '200' when s.r4 < 0.97 then '429' when s.r4 < 0.99 then '500'
         else '503' end as status
) k
cross join lateral (
  select k.metric_name,
    round((case k.metric_name
      when 'queue_processing' then k.batch_size * (15 + 60 * s.r5 * s.r5)
      when 'api_call' then 30 - 120 * ln(1 - s.r5 * 0.999)
      when 'entity_throughput' then 1 + floor(s.r5 * 200)
      when 'queue_depth' then floor(s.r5 * 500)
      when 'rate_limit_hit' then 1
      else 200 + 300 * s.r5 end)::numeric, 1)::double precision as metric_value,
    case k.metric_name
      when 'queue_processing' then jsonb_build_object(
        'queue', ({_sql_array(QUEUES)})[1 + floor(s.r2 * {len(QUEUES)})::int],
        'batch_size', k.batch_size,
        'error_count', least(k.errors, k.batch_size),
        'success_count', k.batch_size - least(k.errors, k.batch_size))
      when 'api_call' then jsonb_build_object(
        'api', ({_sql_array(APIS)})[1 + floor(s.r2 * {len(APIS)})::int],
        'endpoint', (array['/search', '/lookup', '/batch'])[1 + floor(s.r3 * 3)::int],
        'status_code', k.status,
        'success', (k.status = '200')::text)
      when 'entity_throughput' then jsonb_build_object(
        'entity_type', (array['artist', 'track', 'release'])[1 + floor(s.r2 * 3)::int],
        'worker', ({_sql_array(WORKERS)})[1 + floor(s.r3 * {len(WORKERS)})::int])
      when 'queue_depth' then jsonb_build_object(
        'queue', ({_sql_array(QUEUES)})[1 + floor(s.r2 * {len(QUEUES)})::int])
      when 'rate_limit_hit' then jsonb_build_object(
        'api', ({_sql_array(APIS)})[1 + floor(s.r2 * {len(APIS)})::int])
      else jsonb_build_object(
        'worker', ({_sql_array(WORKERS)})[1 + floor(s.r2 * {len(WORKERS)})::int])
    end as tags
) m
"""

# Worker issues over the window: mostly resolved, a handful open of each severity.
ISSUES_SQL = f"""
insert into monitoring.worker_issues (worker_name, issue_type, severity, message, details, resolved,
                                      resolution_details, created_at, resolved_at)
select ({_sql_array(WORKERS)})[1 + x.i %% {len(WORKERS)}],
       (array['timeout', 'rate_limited', 'crash', 'bad_payload', 'slow_batch'])[1 + x.i %% 5],
       (array['info', 'warning', 'warning', 'error', 'critical'])[1 + (x.i / 7) %% 5],
       'synthetic issue ' || x.i, jsonb_build_object('attempt', x.i %% 4),
       not x.open, case when not x.open then 'auto-resolved' end,
       x.created_at, case when not x.open then x.created_at + interval '2 hours' * random() end
from (
  select g.i, g.i <= %(open)s as open,
         case when g.i <= %(open)s then %(t1)s::timestamptz - interval '12 hours' * random()
              else %(t1)s::timestamptz - (%(t1)s::timestamptz - %(t0)s::timestamptz) * random() end
           as created_at
  from generate_series(1, %(n)s::int) as g(i)
) x
"""

# One monitoring run per minute plus occasional admin events, over `days`.
EVENTS_SQL = """
insert into public.monitoring_events (event_type, details, created_at)
select case when g.i %% 50 = 0 then 'system_reset' when g.i %% 97 = 0 then 'dlq_operation'
            else 'queue_monitoring_run' end,
       jsonb_build_object('run', g.i, 'queues', 6),
       %(t1)s::timestamptz - interval '1 minute' * g.i
from generate_series(1, %(n)s::int) as g(i)
"""

# A depth report per queue per minute; the latest ones show a few stuck messages.
SNAPSHOTS_SQL = f"""
insert into monitoring.queue_snapshots
  (queue_name, queue_length, stuck_messages, oldest_msg_age_sec, details, captured_at)
select q.name, 50 + (g.i * 7 + q.k * 13) %% 400,
       case when g.i = 0 and q.k <= 2 then q.k else 0 end,
       (g.i * 11 + q.k) %% 900, '{{}}'::jsonb,
       %(t1)s::timestamptz - interval '1 minute' * g.i
from generate_series(0, %(n)s::int - 1) as g(i)
cross join unnest({_sql_array(QUEUES)}::text[]) with ordinality as q(name, k)
"""


@dataclass(frozen=True)
class Shape:
    """Where the rows go: an even base rate over `days`, plus one burst hour."""

    rows: int
    days: int
    burst_rows: int
    burst_hour: datetime  # start of the 1M-row hour
    end: datetime  # data ends here (load time)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def base_per_second(self) -> float:
        return (self.rows - self.burst_rows) / (self.days * 86400)

    def to_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "days": self.days,
            "burst_rows": self.burst_rows,
            "burst_hour": self.burst_hour.isoformat(),
            "end": self.end.isoformat(),
        }

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Shape:
        return cls(
            rows=int(d["rows"]),  # type: ignore[call-overload]
            days=int(d["days"]),  # type: ignore[call-overload]
            burst_rows=int(d["burst_rows"]),  # type: ignore[call-overload]
            burst_hour=datetime.fromisoformat(str(d["burst_hour"])),
            end=datetime.fromisoformat(str(d["end"])),
        )


def shape_for(rows: int, days: int, burst_rows: int, end: datetime) -> Shape:
    if burst_rows >= rows:
        raise ValueError("--burst-rows must be smaller than --rows")
    # A complete hour three days back: inside the views' 7-day window, long aggregated.
    burst_hour = end.replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    return Shape(rows=rows, days=days, burst_rows=burst_rows, burst_hour=burst_hour, end=end)


def insert_metrics(
    conn: psycopg.Connection, t0: datetime, t1: datetime, n: int, progress: str = ""
) -> None:
    """Insert n rows evenly over [t0, t1), in time-ordered chunks, each its own transaction."""
    if n <= 0 or t1 <= t0:
        return
    chunks = max(1, -(-n // CHUNK_ROWS))
    span = (t1 - t0) / chunks
    done = 0
    for c in range(chunks):
        size = n // chunks + (1 if c < n % chunks else 0)
        a = t0 + span * c
        b = t1 if c == chunks - 1 else t0 + span * (c + 1)
        conn.execute(METRICS_SQL, {"t0": a, "t1": b, "n": size})
        done += size
        if progress:
            print(f"\r  {progress}: {done:,}/{n:,} rows", end="", flush=True)
    if progress:
        print()


def load(conn: psycopg.Connection, shape: Shape) -> float:
    """Load metrics (time-ordered), issues, events and snapshots; returns seconds taken."""
    started = time.perf_counter()
    rate = shape.base_per_second
    b0, b1 = shape.burst_hour, shape.burst_hour + timedelta(hours=1)
    before = round(rate * (b0 - shape.start).total_seconds())
    inside = round(rate * 3600) + shape.burst_rows
    after = shape.rows - before - inside
    insert_metrics(conn, shape.start, b0, before, "metrics before the burst hour")
    insert_metrics(conn, b0, b1, inside, "burst hour")
    insert_metrics(conn, b1, shape.end, after, "metrics after the burst hour")
    window = {"t0": shape.start, "t1": shape.end}
    conn.execute(ISSUES_SQL, {**window, "n": 3000, "open": 12})
    conn.execute(EVENTS_SQL, {"t1": shape.end, "n": 35 * 1440})  # 35 days: 5 beyond retention
    conn.execute(SNAPSHOTS_SQL, {"t1": shape.end, "n": shape.days * 1440})
    conn.execute(
        "insert into public.monitoring_events (event_type, details, created_at)"
        " values (%s, %s, %s)",
        (LOAD_EVENT, Jsonb(shape.to_json()), shape.end),
    )
    return time.perf_counter() - started

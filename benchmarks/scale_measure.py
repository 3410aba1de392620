"""Measurement helpers for benchmarks/sql_scale.py: timing, plan capture, a concurrent writer."""

from __future__ import annotations

import re
import statistics
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

Params = Sequence[Any] | Mapping[str, Any] | None
WRITER_API = "bench-writer"
WRITER_TAGS = '{"api": "bench-writer", "success": "true"}'
Row = tuple[Any, ...]

KEY_NODE = re.compile(
    r"(Scan|Aggregate|Sort|Append|Gather|Insert on|Delete on|Hash Join|Nested Loop|Function|"
    r"Result|Subquery|CTE|Unique|WindowAgg|Limit|Materialize)"
)
KEY_DETAIL = re.compile(
    r"^(Buffers:|Rows Removed by|Sort Method|Index Cond|Filter:|Heap Blocks|Workers Launched|"
    r"Execution Time|Planning Time|Subplans Removed|Timing:)"
)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


class Plans:
    """Saves full plans to numbered files and prints their key lines."""

    def __init__(self, root: Path, max_lines: int) -> None:
        self.dir = root / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_lines = max_lines
        self._n = 0

    def save(self, name: str, text: str) -> Path:
        self._n += 1
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        path = self.dir / f"{self._n:02d}_{slug}.txt"
        path.write_text(text + "\n")
        return path

    def show(self, name: str, text: str) -> None:
        path = self.save(name, text)
        print(f"    plan -> {path}")
        for line in key_lines(text, self.max_lines):
            print(f"      {line}")


def key_lines(plan: str, limit: int) -> list[str]:
    """The lines that say where time and buffers went: nodes, scans, buffers, totals."""
    out: list[str] = []
    top_seen = False
    for raw in plan.splitlines():
        line = raw.rstrip()
        s = line.strip().lstrip("-> ").strip()
        if not s or s.startswith(("Query Text", "duration:")):
            continue
        is_node = "actual time=" in s or "never executed" in s
        if is_node and (not top_seen or KEY_NODE.search(s)):
            out.append(_shorten(line))
            top_seen = True
        elif not is_node and KEY_DETAIL.match(s) and top_seen:
            if s.startswith(("Filter:", "Index Cond")) and len(s) > 140:
                s = s[:137] + "..."
                line = line[: len(line) - len(line.lstrip())] + s
            out.append(_shorten(line))
    if len(out) > limit:
        tail = [x for x in out if x.strip().startswith(("Execution Time", "Planning Time"))]
        out = [*out[: limit - len(tail)], "      ...", *tail]
    return out


def _shorten(line: str) -> str:
    line = re.sub(r"\(cost=[^)]*\) ", "", line)
    return line if len(line) <= 170 else line[:167] + "..."


def explain(conn: psycopg.Connection, sql: str, params: Params = None) -> tuple[float, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement: (execution ms, plan text)."""
    rows = conn.execute(f"explain (analyze, buffers) {sql}", params).fetchall()
    text = "\n".join(r[0] for r in rows)
    m = re.search(r"Execution Time: ([0-9.]+) ms", text)
    return (float(m.group(1)) if m else float("nan")), text


@contextmanager
def nested_plans(conn: psycopg.Connection) -> Iterator[list[str]]:
    """auto_explain of every statement, nested ones included (inside functions), as notices."""
    captured: list[str] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        msg = diag.message_primary or ""
        if msg.startswith("duration:"):
            captured.append(msg)

    try:
        # A savepoint when called inside a transaction: a refused load must not abort it.
        with conn.transaction():
            conn.execute("load 'auto_explain'")
    except psycopg.errors.InsufficientPrivilege:
        # The hosted role model: postgres may not load it (supabase_admin may).
        # The figures stand without the nested plans; say so once per call.
        print("    (nested plans skipped: this role may not load auto_explain)")
        yield captured
        return
    conn.add_notice_handler(on_notice)
    settings = {
        "auto_explain.log_min_duration": "0",
        "auto_explain.log_analyze": "on",
        "auto_explain.log_buffers": "on",
        "auto_explain.log_nested_statements": "on",
        "auto_explain.log_level": "notice",
    }
    for k, v in settings.items():
        conn.execute(f"set {k} = '{v}'")
    try:
        yield captured
    finally:
        conn.execute("set auto_explain.log_min_duration = -1")
        conn.remove_notice_handler(on_notice)


def timed(conn: psycopg.Connection, sql: str, params: Params = None) -> tuple[float, list[Row]]:
    """Wall-clock ms of one statement including fetching its rows."""
    started = time.perf_counter()
    cur = conn.execute(sql, params)
    rows = cur.fetchall() if cur.description else []
    return (time.perf_counter() - started) * 1000, rows


@dataclass
class Writer:
    """A worker flushing small metric batches on a fixed schedule, recording each insert's latency.

    Same statement shape as the SDK's bulk upsert (ON CONFLICT (id, "timestamp") DO NOTHING),
    straight over psycopg so PostgREST's own latency does not blur the figure.
    Its rows are api_call metrics (so every trigger on the table does its full
    work) of the api WRITER_API, which the benchmark deletes afterwards.
    """

    db_url: str
    interval_s: float = 0.02
    batch: int = 10
    on_conflict: str = '(id, "timestamp")'
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.latencies_ms.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bench-writer", daemon=True)
        self._thread.start()

    def stop(self) -> list[float]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        return list(self.latencies_ms)

    def _run(self) -> None:
        sql = (
            "insert into monitoring.pipeline_metrics"
            ' (id, metric_name, metric_value, tags, "timestamp")'
            " select * from unnest(%s::uuid[], %s::text[], %s::float8[], %s::jsonb[],"
            " %s::timestamptz[]) "
            f"on conflict {self.on_conflict} do nothing"
        )
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("select 1")
            nxt = time.perf_counter()
            k = 0
            while not self._stop.is_set():
                now = datetime.now(UTC)
                ids = [_uuid7(now) for _ in range(self.batch)]
                params = (
                    ids,
                    ["api_call"] * self.batch,
                    [float(k % 97) for _ in range(self.batch)],
                    [WRITER_TAGS] * self.batch,
                    [now] * self.batch,
                )
                started = time.perf_counter()
                try:
                    conn.execute(sql, params)
                except psycopg.Error as exc:  # keep measuring; report at the end
                    self.errors.append(str(exc).splitlines()[0])
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                k += 1
                nxt += self.interval_s
                delay = nxt - time.perf_counter()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    nxt = time.perf_counter()


def _uuid7(ts: datetime) -> uuid.UUID:
    ms = int(ts.timestamp() * 1000)
    rand = uuid.uuid4().int
    value = (ms << 80) | (0x7 << 76) | (rand & ((1 << 76) - 1))
    value = (value & ~(0b11 << 62)) | (0b10 << 62)
    return uuid.UUID(int=value)

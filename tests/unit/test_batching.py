"""The background writer's contract, with in-memory writers (no HTTP)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from supabase_monitoring._batching import (
    AsyncBatchingSink,
    BatchingConfig,
    BatchingSink,
    _BufferCore,
)
from supabase_monitoring._columns import MetricBatch


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, Transient)


class RecordingWriter:
    """Collects written rows; can be told to fail or to block."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[dict[str, object]]]] = []
        self.fail_transient = 0  # fail this many calls, then succeed
        self.always_fail = False
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, table: str, rows: list[dict[str, object]]) -> None:
        self.gate.wait()
        with self.lock:
            self.calls += 1
            if self.always_fail:
                raise Transient("API down")
            if self.fail_transient > 0:
                self.fail_transient -= 1
                raise Transient("502")
            if any(r.get("bad") for r in rows):
                raise Permanent("23514 check constraint")
            self.batches.append((table, list(rows)))

    def ids(self, table: str | None = None) -> list[object]:
        return [r["id"] for t, rows in self.batches for r in rows if table in (None, t)]


def make_sink(writer: RecordingWriter, **cfg: float) -> BatchingSink[str]:
    config = BatchingConfig(**{"flush_interval": 0.05, "retry_initial": 0.01, **cfg})  # type: ignore[arg-type]
    return BatchingSink(writer, is_transient=is_transient, config=config)


def test_rows_are_written_in_bounded_batches_grouped_by_table() -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_batch_size=100, max_buffer=10_000)
    for i in range(1050):
        assert sink.submit("a" if i % 3 else "b", {"id": i})
    assert sink.flush(timeout=10)
    assert sorted(writer.ids()) == list(range(1050))
    assert max(len(rows) for _, rows in writer.batches) <= 100
    assert all(r["id"] % 3 == 0 for t, rows in writer.batches if t == "b" for r in rows)
    stats = sink.stats
    assert (stats.enqueued, stats.written, stats.pending, stats.dropped) == (1050, 1050, 0, 0)
    sink.close(timeout=5)


def test_partial_batch_is_sent_after_the_flush_interval_without_flush() -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_batch_size=1000, flush_interval=0.05)
    sink.submit("a", {"id": 1})
    deadline = time.monotonic() + 5
    while not writer.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.ids() == [1]
    sink.close(timeout=5)


class SlowWriter(RecordingWriter):
    """A request that takes 10 ms, like a small PostgREST insert."""

    def __call__(self, table: str, rows: list[dict[str, object]]) -> None:
        time.sleep(0.01)
        super().__call__(table, rows)


def test_a_steady_trickle_is_sent_in_few_requests_not_one_per_round_trip() -> None:
    # 1 row every 2 ms for 1.2 s: a flusher that drained whatever arrived during
    # its last request would send ~100 requests of ~5 rows.
    writer = SlowWriter()
    sink = make_sink(writer, max_batch_size=5000, max_buffer=10_000, flush_interval=0.2)
    start = time.monotonic()
    for i in range(600):
        time.sleep(max(0.0, start + i * 0.002 - time.monotonic()))  # pacing the producer
        assert sink.submit("a", {"id": i})
    assert sink.flush(timeout=10)
    sink.close(timeout=5)
    assert sorted(writer.ids()) == list(range(600))
    # Two flusher threads, one send per 0.2 s interval each over ~1.2 s, plus the flush.
    # One timed send per 0.2 s interval over ~1.2 s, whichever of the two flushers
    # claims it (each on a timer of its own sent ~11), plus the flush.
    assert writer.calls <= 8, writer.calls


def test_full_buffer_drops_and_counts_instead_of_growing() -> None:
    writer = RecordingWriter()
    writer.gate.clear()  # the API hangs: nothing leaves the buffer
    sink = make_sink(writer, max_batch_size=10, max_buffer=50)
    accepted = sum(sink.submit("a", {"id": i}) for i in range(200))
    stats = sink.stats
    assert accepted == 50
    assert stats.dropped == 150
    assert stats.pending == 50
    writer.gate.set()
    assert sink.flush(timeout=10)
    assert sorted(writer.ids()) == list(range(50))
    sink.close(timeout=5)


def test_block_timeout_waits_for_room_then_accepts() -> None:
    writer = RecordingWriter()
    writer.gate.clear()
    sink = make_sink(writer, max_batch_size=10, max_buffer=10, block_timeout=5.0)
    for i in range(10):
        assert sink.submit("a", {"id": i})
    threading.Timer(0.2, writer.gate.set).start()
    assert sink.submit("a", {"id": 10})  # blocks until the flusher makes room
    assert sink.flush(timeout=10)
    assert sorted(writer.ids()) == list(range(11))
    sink.close(timeout=5)


def test_transient_failures_are_retried_and_rows_written_once() -> None:
    writer = RecordingWriter()
    writer.fail_transient = 3
    sink = make_sink(writer, max_batch_size=100)
    for i in range(100):
        sink.submit("a", {"id": i})
    assert sink.flush(timeout=10)
    assert sorted(writer.ids()) == list(range(100))
    assert sink.stats.retries == 3
    assert sink.stats.failed_batches == 3
    sink.close(timeout=5)


def test_permanent_failure_rejects_only_the_offending_rows() -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_batch_size=64)
    for i in range(64):
        sink.submit("a", {"id": i, "bad": i == 17})
    assert sink.flush(timeout=10)
    assert sorted(writer.ids()) == [i for i in range(64) if i != 17]
    assert sink.stats.rejected == 1
    assert sink.stats.retries == 0
    sink.close(timeout=5)


def test_flush_honours_its_deadline_while_the_api_is_down() -> None:
    writer = RecordingWriter()
    writer.always_fail = True
    sink = make_sink(writer, retry_initial=0.05, retry_max=0.2)
    sink.submit("a", {"id": 1})
    started = time.monotonic()
    assert sink.flush(timeout=0.5) is False
    assert time.monotonic() - started < 3.0
    assert sink.stats.pending == 1
    writer.always_fail = False
    assert sink.flush(timeout=10)
    assert writer.ids() == [1]
    sink.close(timeout=5)


def test_close_honours_its_deadline_and_counts_undelivered_rows_as_dropped() -> None:
    writer = RecordingWriter()
    writer.always_fail = True
    sink = make_sink(writer, retry_initial=0.05, retry_max=0.1)
    for i in range(30):
        sink.submit("a", {"id": i})
    started = time.monotonic()
    sink.close(timeout=0.5)
    assert time.monotonic() - started < 3.0
    stats = sink.stats
    assert stats.written == 0
    assert stats.dropped == 30
    assert stats.pending == 0
    assert sink.submit("a", {"id": 99}) is False  # closed sinks refuse new rows


def test_close_interrupts_a_long_backoff_and_delivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the longest full-jitter wait
    writer = RecordingWriter()
    writer.fail_transient = 1
    # The first retry would sleep 30 s; close() must not wait for it.
    sink = make_sink(writer, retry_initial=30.0, retry_max=30.0)
    sink.submit("a", {"id": 1})
    deadline = time.monotonic() + 5
    while writer.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    sink.close(timeout=10)
    assert time.monotonic() - started < 5.0
    assert writer.ids() == [1]
    assert sink.stats.dropped == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_forked_child_never_resends_the_parents_buffer(tmp_path: Path) -> None:
    writer = RecordingWriter()
    writer.gate.clear()  # parent's rows stay buffered across the fork
    sink = make_sink(writer, max_batch_size=10)
    for i in range(5):
        sink.submit("a", {"id": f"parent-{i}"})
    out = tmp_path / "child.json"
    pid = os.fork()
    if pid == 0:  # child
        try:
            writer.gate.set()
            ok = sink.stats.pending == 0
            for i in range(3):
                sink.submit("a", {"id": f"child-{i}"})
            ok = sink.flush(timeout=10) and ok
            out.write_text(json.dumps({"ok": ok, "ids": writer.ids()}))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    child = json.loads(out.read_text())
    assert child["ok"] is True
    assert sorted(child["ids"]) == ["child-0", "child-1", "child-2"]
    writer.gate.set()
    assert sink.flush(timeout=10)
    assert sorted(writer.ids()) == [f"parent-{i}" for i in range(5)]
    sink.close(timeout=5)


def test_rows_buffered_at_interpreter_exit_are_delivered(tmp_path: Path) -> None:
    out = tmp_path / "rows.txt"
    script = textwrap.dedent(
        f"""
        from supabase_monitoring._batching import BatchingConfig, BatchingSink
        def write(table, rows):
            with open({str(out)!r}, "a") as f:
                for r in rows:
                    f.write(str(r["id"]) + "\\n")
        sink = BatchingSink(write, is_transient=lambda e: False,
                            config=BatchingConfig(flush_interval=60, exit_timeout=5))
        for i in range(250):
            sink.submit("a", {{"id": i}})
        # no flush, no close: a short-lived job that simply exits
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert sorted(int(x) for x in out.read_text().split()) == list(range(250))


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_buffer"):
        BatchingConfig(max_batch_size=100, max_buffer=10)
    with pytest.raises(ValueError, match="flush_interval"):
        BatchingConfig(flush_interval=0)
    with pytest.raises(ValueError, match="retry_max"):
        BatchingConfig(retry_max=float("nan"))


# ------------------------------------------------------------------ asyncio
class AsyncWriter(RecordingWriter):
    async def write(self, table: str, rows: list[dict[str, object]]) -> None:
        await asyncio.sleep(0)  # a real writer yields to the loop
        self(table, rows)


def make_async_sink(writer: AsyncWriter, **cfg: float) -> AsyncBatchingSink[str]:
    config = BatchingConfig(**{"flush_interval": 0.05, "retry_initial": 0.01, **cfg})  # type: ignore[arg-type]
    return AsyncBatchingSink(writer.write, is_transient=is_transient, config=config)


class SlowAsyncWriter(AsyncWriter):
    async def write(self, table: str, rows: list[dict[str, object]]) -> None:
        await asyncio.sleep(0.01)  # a request's round trip: the flushers' timers drift apart
        self(table, rows)


async def test_async_steady_trickle_is_one_request_per_interval_with_two_flushers() -> None:
    writer = SlowAsyncWriter()
    sink = make_async_sink(writer, max_batch_size=5000, max_buffer=10_000, flush_interval=0.2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(600):
        await asyncio.sleep(max(0.0, start + i * 0.002 - loop.time()))  # pacing the producer
        assert sink.submit("a", {"id": i})
    assert await sink.flush(timeout=10)
    await sink.close(timeout=5)
    assert sorted(writer.ids()) == list(range(600))
    assert sink.config.concurrency == 2
    assert writer.calls <= 8, writer.calls  # ~6 intervals in ~1.2 s, plus the flush


async def test_async_rows_are_batched_and_retried_once_each() -> None:
    writer = AsyncWriter()
    writer.fail_transient = 2
    sink = make_async_sink(writer, max_batch_size=100)
    for i in range(450):
        assert sink.submit("a", {"id": i})
    assert await sink.flush(timeout=10)
    assert sorted(writer.ids()) == list(range(450))
    assert sink.stats.retries == 2
    await sink.close(timeout=5)


async def test_async_full_buffer_drops_and_close_honours_deadline() -> None:
    writer = AsyncWriter()
    writer.always_fail = True
    sink = make_async_sink(writer, max_batch_size=10, max_buffer=20, retry_max=0.1)
    accepted = sum(sink.submit("a", {"id": i}) for i in range(50))
    assert accepted == 20
    started = time.monotonic()
    assert await sink.flush(timeout=0.3) is False
    await sink.close(timeout=0.5)
    assert time.monotonic() - started < 3.0
    stats = sink.stats
    assert stats.written == 0
    assert stats.dropped == 50  # 30 refused at submit + 20 undelivered at the deadline
    assert stats.pending == 0


async def test_async_permanent_failure_rejects_only_bad_rows() -> None:
    writer = AsyncWriter()
    sink = make_async_sink(writer, max_batch_size=32)
    for i in range(32):
        sink.submit("a", {"id": i, "bad": i in (3, 30)})
    await sink.close(timeout=10)
    assert sorted(writer.ids()) == [i for i in range(32) if i not in (3, 30)]
    assert sink.stats.rejected == 2


def submit_from_threads(submit: Callable[[int, int], bool], threads: int, per_thread: int) -> int:
    """Rows accepted when ``threads`` threads call ``submit(thread, n)`` at once, switching as
    often as the interpreter allows (so races show)."""
    start = threading.Barrier(threads)
    accepted = [0] * threads
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def submit_many(index: int) -> None:
        start.wait()
        for n in range(per_thread):
            if submit(index, n):
                accepted[index] += 1

    try:
        workers = [threading.Thread(target=submit_many, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(previous)
    return sum(accepted)


def test_the_buffer_bound_holds_with_many_threads_submitting_at_once() -> None:
    # The flushers are held at the gate, so nothing leaves the buffer: exactly
    # max_buffer rows may be accepted, however the submits interleave.
    writer = RecordingWriter()
    writer.gate.clear()
    config = BatchingConfig(max_batch_size=10, max_buffer=100, flush_interval=0.01)
    sink = BatchingSink(writer, is_transient=is_transient, config=config)
    threads, per_thread = 16, 200
    accepted = submit_from_threads(
        lambda thread, n: sink.submit("t", {"id": f"{thread}-{n}"}), threads, per_thread
    )
    stats = sink.stats
    assert accepted == config.max_buffer
    assert stats.pending == config.max_buffer
    assert stats.dropped == threads * per_thread - config.max_buffer
    writer.gate.set()
    assert sink.flush(timeout=10)
    assert len(set(writer.ids())) == config.max_buffer
    sink.close()


async def test_the_asyncio_sink_refuses_a_block_timeout_it_could_not_honour() -> None:
    async def write(table: str, rows: list[dict[str, object]]) -> None:
        return None

    with pytest.raises(ValueError, match="thread sink only"):
        AsyncBatchingSink(write, is_transient=is_transient, config=BatchingConfig(block_timeout=1))


# ---------------------------------------------------------------- metrics as columns
class MetricWriter:
    """Collects what a sink with a metrics table writes: MetricBatch for metrics, dicts else."""

    def __init__(self, refuse: float | None = None) -> None:
        self.metrics: list[MetricBatch] = []
        self.rows: list[tuple[str, list[dict[str, object]]]] = []
        self.refuse = refuse  # a metric value the "server" refuses for good
        self.lock = threading.Lock()

    def __call__(self, table: str, rows: object) -> None:
        with self.lock:
            if isinstance(rows, MetricBatch):
                rows.assign_ids()  # as the encoder does before the first send
                if self.refuse is not None and self.refuse in rows.column(1):
                    raise Permanent("23514")
                self.metrics.append(rows)
            else:
                assert isinstance(rows, list)
                self.rows.append((table, rows))


def metric_sink(writer: MetricWriter, **cfg: float) -> BatchingSink[str]:
    config = BatchingConfig(**{"flush_interval": 0.05, "retry_initial": 0.01, **cfg})  # type: ignore[arg-type]
    return BatchingSink(writer, is_transient=is_transient, config=config, metrics_table="m")


def test_metrics_travel_as_columns_and_other_rows_as_dicts() -> None:
    writer = MetricWriter()
    sink = metric_sink(writer, max_batch_size=40)
    for i in range(100):
        assert sink.submit_metric("api_call", float(i), {"api": "x"}, 1.0)
    assert sink.submit("m", {"metric_name": "rows", "metric_value": 7.0, "tags": {}, "id": "given"})
    assert sink.submit("events", {"id": "e1"})
    assert sink.flush(timeout=5)
    sink.close()
    values = sorted(v for batch in writer.metrics for v in batch.column(1))
    assert values == sorted([float(i) for i in range(100)] + [7.0])
    assert all(len(batch) <= 40 for batch in writer.metrics)
    assert "given" in [i for batch in writer.metrics for i in batch.ids()]
    assert writer.rows == [("events", [{"id": "e1"}])]
    stats = sink.stats
    assert (stats.enqueued, stats.written, stats.dropped, stats.pending) == (102, 102, 0, 0)


class GatedMetricWriter(MetricWriter):
    """A MetricWriter whose sends wait for ``gate``; ``written`` is awaitable."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.sending = threading.Semaphore(0)  # one release per send started
        self.done = threading.Condition()

    def __call__(self, table: str, rows: object) -> None:
        self.sending.release()
        self.gate.wait()
        super().__call__(table, rows)
        with self.done:
            self.done.notify_all()

    def written(self) -> int:
        return sum(len(batch) for batch in self.metrics)


def test_full_metric_batches_leave_at_once_even_when_they_filled_while_both_flushers_sent() -> None:
    # A flusher is woken when the rows waiting reach a multiple of the batch
    # size (submit_metric), not on every append above it: batches that fill
    # while every flusher is busy must still leave as soon as one is free, not
    # at the end of the flush interval (60 s here).
    writer = GatedMetricWriter()
    sink = metric_sink(writer, max_batch_size=10, max_buffer=1000, flush_interval=60)
    values = iter(range(55))
    for _ in range(10):
        assert sink.submit_metric("m", float(next(values)), {}, 1.0)
    assert writer.sending.acquire(timeout=5)  # the first full batch: one flusher busy
    for _ in range(10):
        assert sink.submit_metric("m", float(next(values)), {}, 1.0)
    assert writer.sending.acquire(timeout=5)  # the second: both busy
    for _ in range(35):  # three more full batches and 5 rows fill meanwhile
        assert sink.submit_metric("m", float(next(values)), {}, 1.0)
    writer.gate.set()
    with writer.done:
        assert writer.done.wait_for(lambda: writer.written() >= 50, timeout=5)
    assert sorted(len(batch) for batch in writer.metrics) == [10] * 5
    assert sink.stats.pending == 5  # a partial batch waits for its interval
    assert sink.flush(timeout=5)
    sink.close()
    assert sorted(v for batch in writer.metrics for v in batch.column(1)) == [
        float(i) for i in range(55)
    ]


async def test_async_full_metric_batches_leave_at_once_while_both_flushers_sent() -> None:
    # The same rule as above, for the asyncio sink (submit_metric is shared).
    gate = asyncio.Event()
    sends: list[int] = []
    written: list[MetricBatch] = []

    changed = asyncio.Condition()

    async def write(_table: str, rows: object) -> None:
        assert isinstance(rows, MetricBatch)
        async with changed:
            sends.append(len(rows))
            changed.notify_all()
        await gate.wait()
        rows.assign_ids()
        async with changed:
            written.append(rows)
            changed.notify_all()

    async def until(condition: Callable[[], bool]) -> None:
        async with changed:
            await asyncio.wait_for(changed.wait_for(condition), 5)

    config = BatchingConfig(max_batch_size=10, max_buffer=1000, flush_interval=60)
    sink: AsyncBatchingSink[str] = AsyncBatchingSink(
        write, is_transient=is_transient, config=config, metrics_table="m"
    )
    values = iter(range(55))
    try:
        for sent in (1, 2):
            for _ in range(10):
                assert sink.submit_metric("m", float(next(values)), {}, 1.0)
            await until(lambda: len(sends) == sent)  # noqa: B023 (awaited at once)
        for _ in range(35):  # three more full batches and 5 rows fill meanwhile
            assert sink.submit_metric("m", float(next(values)), {}, 1.0)
        assert sends == [10, 10]  # both flushers busy
    finally:
        gate.set()
    await until(lambda: sum(map(len, written)) >= 50)
    assert sorted(map(len, written)) == [10] * 5
    assert sink.stats.pending == 5  # a partial batch waits for its interval
    assert await sink.flush(timeout=5)
    await sink.close(timeout=5)
    assert sorted(v for batch in written for v in batch.column(1)) == [float(i) for i in range(55)]


def test_metric_rows_and_other_rows_share_one_bound() -> None:
    writer = MetricWriter()
    sink = metric_sink(writer, max_batch_size=10, max_buffer=10, flush_interval=60)
    sink._start = lambda: None  # type: ignore[method-assign]  # no flusher: the buffer only fills
    accepted = [sink.submit_metric("a", 1.0, {}, 1.0) for _ in range(6)]
    accepted += [sink.submit("events", {"id": i}) for i in range(6)]
    assert accepted == [True] * 10 + [False] * 2
    assert sink.stats.dropped == 2


def test_a_refused_metric_is_isolated_and_the_rest_keep_their_ids() -> None:
    writer = MetricWriter(refuse=13.0)
    sink = metric_sink(writer, max_batch_size=64)
    for i in range(50):
        sink.submit_metric("m", float(i), {}, 1.0)
    sink.flush(timeout=5)
    sink.close()
    written = [v for batch in writer.metrics for v in batch.column(1)]
    assert sorted(written) == [float(i) for i in range(50) if i != 13]
    ids = [i for batch in writer.metrics for i in batch.ids()]
    assert len(set(ids)) == 49
    assert (sink.stats.written, sink.stats.rejected) == (49, 1)


def test_buffered_metrics_add_no_objects_for_the_garbage_collector() -> None:
    # Why metrics are columns: a queued dict or tuple per row is walked by every
    # full collection; flat out that cost more CPU than the record_* call.
    sink = metric_sink(
        MetricWriter(), max_batch_size=100_000, max_buffer=100_000, flush_interval=60
    )
    sink._start = lambda: None  # type: ignore[method-assign]
    shared = {"api": "x", "success": "true"}
    gc.collect()
    before = len(gc.get_objects())
    for i in range(20_000):
        assert sink.submit_metric("api_call", float(i), shared, time.time())
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert sink.stats.pending == 20_000


def test_one_flush_interval_is_claimed_by_one_flusher() -> None:
    core = _BufferCore(BatchingConfig(flush_interval=0.5), is_transient, "t")
    assert not core.claim_interval()  # the first interval has only just started
    assert 0.4 < core.idle_wait() <= 0.5
    core.interval_start -= 0.5  # half a second later: the interval is over
    assert core.idle_wait() == 0.0
    assert core.claim_interval()  # the first flusher to wake claims it ...
    assert not core.claim_interval()  # ... the other one, woken at the same moment, does not
    assert 0.4 < core.idle_wait() <= 0.5  # both sleep until the next interval ends
    core.interval_start -= 0.5
    core.take()  # a batch taken (full, or for a flush) restarts the interval
    assert not core.claim_interval()


# ---------------------------------------------------------------- lock-free metric appends
def test_the_metric_bound_holds_within_one_row_per_thread_and_nothing_is_lost() -> None:
    # submit_metric takes no lock: threads checking the room at the same
    # instant may each add their row, so the bound can be passed by at most
    # one row per thread; every accepted row is still written exactly once.
    writer = GatedMetricWriter()
    config = BatchingConfig(max_batch_size=10, max_buffer=100, flush_interval=0.01)
    sink = BatchingSink(writer, is_transient=is_transient, config=config, metrics_table="m")
    threads, per_thread = 16, 200
    total = submit_from_threads(
        lambda thread, n: sink.submit_metric("m", float(thread * per_thread + n), {}, 1.0),
        threads,
        per_thread,
    )
    assert config.max_buffer <= total < config.max_buffer + threads
    stats = sink.stats
    assert stats.pending == total
    assert stats.dropped == threads * per_thread - total
    writer.gate.set()
    assert sink.flush(timeout=10)
    sink.close()
    values = [v for batch in writer.metrics for v in batch.column(1)]
    assert len(values) == len(set(values)) == total
    ids = [i for batch in writer.metrics for i in batch.ids()]
    assert len(set(ids)) == total


class _ScriptedClose(_BufferCore[str]):
    """A core whose ``closed`` reads the script's values first: a submitter's
    room check, then its re-check after the append, made deterministic."""

    script: list[bool]

    @property  # type: ignore[override]
    def closed(self) -> bool:
        return self.script.pop(0) if self.script else self._closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self._closed = value


def racing_sink(writer: MetricWriter) -> tuple[BatchingSink[str], _ScriptedClose]:
    sink = metric_sink(writer, max_batch_size=10, flush_interval=60)
    core = _ScriptedClose(sink.config, is_transient, "t", "m")
    core.script = []
    sink._core = core
    sink._start = lambda: None  # type: ignore[method-assign]  # no flusher: nothing delivered
    return sink, core


def test_a_metric_appended_after_close_dropped_the_buffer_is_counted_as_dropped() -> None:
    # A submitter passes the room check, is preempted, and close() drops the
    # buffer (abandon_queue) before its append: the row must not wait for ever.
    writer = MetricWriter()
    sink, core = racing_sink(writer)
    assert sink.submit_metric("m", 1.0, {}, 1.0)  # waiting when close() comes
    sink.close(timeout=0)
    assert (sink.stats.pending, sink.stats.dropped) == (0, 1)
    core.script = [False]  # the room check ran before close(); the re-check after it
    assert sink.submit_metric("m", 2.0, {}, 1.0)
    stats = sink.stats
    assert (stats.enqueued, stats.pending, stats.dropped, stats.written) == (2, 0, 2, 0)
    assert writer.metrics == []


def test_a_metric_appended_while_close_still_delivers_is_left_to_close() -> None:
    # The same race before close() dropped anything: the row is not dropped by
    # the submitter (the closing flushers would deliver it), only by close().
    writer = MetricWriter()
    sink, core = racing_sink(writer)
    core._closed = True  # close() has begun: flushers still deliver, nothing dropped yet
    core.script = [False]
    assert sink.submit_metric("m", 1.0, {}, 1.0)
    assert (sink.stats.pending, sink.stats.dropped) == (1, 0)
    core.abandon_queue()  # close() ends with nothing delivered
    assert (sink.stats.pending, sink.stats.dropped, sink.stats.enqueued) == (0, 1, 1)


class _AppendsWhileDropped(list[object]):
    """A metric buffer to which another thread appends one row between
    close()'s count of the waiting rows and their removal."""

    row: tuple[object, ...] = ("m", 9.0, {}, 1.0, None)
    armed = True

    def __delitem__(self, index: Any) -> None:
        if self.armed:
            self.armed = False
            self.extend(self.row)  # the submitter's append, its room check long passed
        super().__delitem__(index)


def test_a_metric_appended_while_close_drops_the_buffer_is_counted_once() -> None:
    writer = MetricWriter()
    sink, core = racing_sink(writer)
    for i in range(3):
        assert sink.submit_metric("m", float(i), {}, 1.0)
    core.metrics = _AppendsWhileDropped(core.metrics)
    core._closed = True
    core.abandon_queue()  # counts 3, and the fourth row arrives meanwhile
    assert (sink.stats.dropped, sink.stats.pending) == (3, 1)  # not removed uncounted
    core.drop_late()  # what that submitter does after its append, seeing closed
    stats = sink.stats
    assert (stats.enqueued, stats.dropped, stats.pending) == (4, 4, 0)


def test_submit_metric_takes_no_lock() -> None:
    # The hot path's contract (the figures in benchmarks/ingest.py depend on it):
    # a metric is accepted while another thread holds both of the core's locks.
    sink = metric_sink(MetricWriter(), max_batch_size=10, flush_interval=60)
    sink._start = lambda: None  # type: ignore[method-assign]
    core = sink._core
    with core.submit_lock, core.lock:
        result: list[bool] = []
        submitter = threading.Thread(
            target=lambda: result.append(sink.submit_metric("m", 1.0, {}, 1.0))
        )
        submitter.start()
        submitter.join(timeout=5)
        assert result == [True]
    assert sink.stats.pending == 1


def test_block_timeout_makes_a_metric_wait_for_room_too() -> None:
    # record_* hands metrics to submit_metric, not submit: the documented
    # block_timeout must hold for them as well.
    writer = GatedMetricWriter()
    sink = metric_sink(writer, max_batch_size=10, max_buffer=10, block_timeout=5.0)
    for i in range(10):
        assert sink.submit_metric("m", float(i), {}, 1.0)
    assert writer.sending.acquire(timeout=5)  # the full batch is on its way, gated
    threading.Timer(0.2, writer.gate.set).start()
    assert sink.submit_metric("m", 10.0, {}, 1.0)  # blocks until the flusher makes room
    assert sink.flush(timeout=10)
    sink.close(timeout=5)
    assert sorted(v for batch in writer.metrics for v in batch.column(1)) == [
        float(i) for i in range(11)
    ]
    assert sink.stats.dropped == 0


def test_without_block_timeout_a_metric_over_the_bound_is_dropped_at_once() -> None:
    writer = GatedMetricWriter()
    sink = metric_sink(writer, max_batch_size=10, max_buffer=10)
    for i in range(10):
        assert sink.submit_metric("m", float(i), {}, 1.0)
    started = time.monotonic()
    assert not sink.submit_metric("m", 10.0, {}, 1.0)
    assert time.monotonic() - started < 1.0
    assert sink.stats.dropped == 1
    writer.gate.set()
    assert sink.flush(timeout=10)
    sink.close(timeout=5)

"""Batched background writing: the hot path appends to a bounded buffer, a
background flusher turns the buffer into bulk inserts.

Why it is shaped like this:

* ``submit`` is the worker's hot path. It does no I/O; the room check and
  the append happen under one uncontended lock of their own (a flusher takes
  it only to cut a batch of metrics), so many threads submitting at once
  cannot push the buffer past its bound. Metrics, most of the traffic, are
  held as flat columns (``_columns``): no per-row container for the garbage
  collector to walk; other rows wait in a deque.
* The buffer is bounded (rows waiting + rows in flight). When full, rows are
  dropped and counted, or the caller waits at most ``block_timeout``
  (thread sink only: the asyncio sink's ``submit`` runs on the loop and never waits).
* Batches are written with ON CONFLICT DO NOTHING on client-generated ids
  (the writer's job), so retrying a batch whose response was lost is safe.
* Transient failures are retried with capped exponential backoff and full
  jitter; the backoff sleep is interruptible so ``flush``/``close`` honour
  their deadlines while the API is down. Permanent failures split the batch to
  isolate the offending rows; only those are rejected.
* A forked child starts with an empty buffer and its own flusher; it never
  re-sends the parent's rows.
* The writer also sends the client's heartbeats (``_heartbeat``): a flusher
  that wakes up anyway sends one when due, and ``close`` sends the last one,
  marked closed. A failed heartbeat is logged and forgotten.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._columns import WIDTH, MetricBatch, metric_row
from ._heartbeat import HEARTBEAT_RPC, Heartbeat, HeartbeatConfig
from ._ids import finalize
from ._retry import Backoff
from ._sink import SinkStats
from ._tables import PIPELINE_METRICS
from .errors import MonitoringError, TransientError, is_transient

if TYPE_CHECKING:
    from ._sink import AsyncSinkContext, SinkContext
    from ._tables import TableRef

logger = logging.getLogger("supabase_monitoring")

T = TypeVar("T", bound=Hashable)
_DEADLINE_MARGIN = 0.05  # seconds the flusher reserves before a close deadline
_TIMER_SLACK = 0.005  # seconds a timed wake-up may come early (asyncio runs timers a tick ahead)
Row = dict[str, Any]
Batch = list[Row] | MetricBatch


@dataclass(frozen=True)
class BatchingConfig:
    """Tuning knobs for the background writer."""

    max_batch_size: int = 10_000
    """Rows per request at most. Each request costs the writer ~1.7 ms of CPU
    whatever its size (httpx's URL, header and response handling), so full
    batches are large: flat out, a 2,000-row batch spent more CPU per row on
    the request than on encoding it. A metric row is ~26 bytes of body."""
    concurrency: int = 2
    """Batches in flight at once (one flusher thread or task each): while one batch
    is on the wire, PostgREST can already be parsing the next."""
    flush_interval: float = 0.5
    """Seconds a row may wait for a batch to fill before it is sent anyway."""
    max_buffer: int = 100_000
    """Rows held at most (waiting + in flight); beyond it rows are dropped.
    Metrics submitted by several threads at the same instant may pass it by
    one row per thread (their path takes no lock: ``submit_metric``)."""
    block_timeout: float = 0.0
    """How long ``submit`` may wait for room when the buffer is full (0: never)."""
    retry_initial: float = 0.1
    """Longest first retry wait (s); doubles per retry, full jitter (`_retry.Backoff`)."""
    retry_max: float = 10.0
    """Longest wait between retries of a batch, in seconds."""
    exit_timeout: float = 5.0
    """Deadline for delivering what is left when the interpreter exits."""
    drop_log_interval: float = 10.0
    """At most one 'dropped rows' warning per this many seconds."""
    heartbeat: HeartbeatConfig | None = field(default_factory=HeartbeatConfig)
    """The client's presence reports (worker name, every 30 s); None turns them off."""

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.max_buffer < self.max_batch_size:
            raise ValueError("max_buffer must be >= max_batch_size")
        for name in (
            "flush_interval",
            "block_timeout",
            "retry_initial",
            "retry_max",
            "exit_timeout",
            "drop_log_interval",
        ):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.flush_interval == 0:
            raise ValueError("flush_interval must be > 0")


class _BufferCore(Generic[T]):
    """State and bookkeeping shared by the thread and asyncio flushers."""

    def __init__(
        self,
        config: BatchingConfig,
        is_transient: Callable[[BaseException], bool],
        name: str,
        metrics_table: T | None = None,
    ) -> None:
        self.config = config
        self.is_transient = is_transient
        self.name = name
        self.metrics_table = metrics_table  # the key metric batches are written under
        self.max_buffer = config.max_buffer  # read on every append: kept close at hand
        self.backoff = Backoff(config.retry_initial, config.retry_max)
        self._reset()

    def _reset(self) -> None:
        self.queue: deque[tuple[T, Row]] = deque()
        self.metrics: list[Any] = []  # pipeline_metrics rows, WIDTH slots each (_columns)
        self.lock = threading.Lock()  # guards the counters below, never taken by submit
        # Makes the room check and append of a dict row (submit) one step, so
        # their bound is exact; metrics take no lock (submit_metric). take()
        # counts rows in flight before removing them, so the sum a submitter
        # reads is never below the truth.
        self.submit_lock = threading.Lock()
        self.inflight = 0
        self.written = 0
        self.rejected = 0
        self.abandoned = 0
        self.batches_written = 0
        self.failed_batches = 0
        self.retries = 0
        self.dropped_at_submit = 0
        self.flush_waiters = 0  # callers inside flush(): send everything now
        self.closed = False
        self.drained = False  # close() has dropped what was left (abandon_queue)
        self.detached = False
        self.last_error: BaseException | None = None
        self._last_drop_log = 0.0
        self._drops_since_log = 0
        # The current flush_interval's start (claim_interval).
        self.interval_start = time.monotonic()

    # ---- hot path -------------------------------------------------------
    def waiting(self) -> int:
        """Rows accepted and not yet taken by a flusher."""
        return len(self.queue) + len(self.metrics) // WIDTH

    def has_room(self) -> bool:
        return self.waiting() + self.inflight < self.max_buffer

    def record_drop(self) -> bool:
        with self.lock:
            self.dropped_at_submit += 1
        self._log_drops(1)
        return False

    def _log_drops(self, n: int) -> None:
        now = time.monotonic()
        with self.lock:
            self._drops_since_log += n
            if now - self._last_drop_log < self.config.drop_log_interval:
                return
            count, self._drops_since_log = self._drops_since_log, 0
            self._last_drop_log = now
        logger.warning(
            "%s: dropped %d monitoring rows (buffer full, closed, or deadline passed)",
            self.name,
            count,
        )

    # ---- flusher side ---------------------------------------------------
    def idle_wait(self) -> float:
        """Seconds an idle flusher sleeps: until the current flush interval ends."""
        return max(0.0, self.interval_start + self.config.flush_interval - time.monotonic())

    def claim_interval(self) -> bool:
        """Whether this flusher's wake-up ends the flush interval, for it alone.

        One interval, one timed send, whatever the number of flushers: the one
        that claims it starts the next interval and sends what is waiting; the
        others, woken at the same moment, go back to sleep. With each flusher
        on a timer of its own, two flushers sent two requests per interval at
        any rate below a full batch (benchmarks/ingest.py, paced: the
        per-request work was most of the writer's CPU per metric).
        """
        now = time.monotonic()
        with self.lock:
            if now - self.interval_start < self.config.flush_interval - _TIMER_SLACK:
                return False
            self.interval_start = now
            return True

    def more_to_send(self, first: bool, stopping: bool) -> bool:
        """Whether a flusher sends another batch now, or waits for the next interval.

        ``first``: this wake-up claimed the interval (``claim_interval``). Besides
        that one timed send, only a full batch, a flush() or close() sends at
        once. Draining whatever arrived during the previous request
        degenerates, at a steady rate, into a stream of tiny requests: measured
        108 requests/s of 9 rows at 1,000 metrics/s (benchmarks/soak.py), where
        the per-request work was most of the process's CPU per metric.
        """
        waiting = self.waiting()
        if not waiting:
            return False
        return first or stopping or self.flush_waiters > 0 or waiting >= self.config.max_batch_size

    def take(self) -> dict[T, Batch]:
        """Move up to one batch of rows to in-flight, grouped by table (metrics first)."""
        groups: dict[T, Batch] = {}
        limit = self.config.max_batch_size
        with self.lock:
            self.interval_start = time.monotonic()  # what is left waits at most one interval
            metrics = self.metrics
            m = min(len(metrics) // WIDTH, limit)
            q = self.queue
            n = min(len(q), limit - m)
            self.inflight += m + n
            if m:
                # Submitters only append at the end meanwhile: the cut stays whole rows.
                cut = m * WIDTH
                groups[self.metrics_table] = MetricBatch(metrics[:cut])  # type: ignore[index]
                del metrics[:cut]
            for _ in range(n):
                table, row = q.popleft()
                groups.setdefault(table, []).append(row)  # type: ignore[union-attr]
        return groups

    def detach(self) -> None:
        """Count what is in flight as dropped; later outcomes of those rows are ignored."""
        with self.lock:
            self.abandoned += self.inflight
            n, self.inflight = self.inflight, 0
            self.detached = True
        if n:
            self._log_drops(n)

    def settle(self, written: int = 0, rejected: int = 0, abandoned: int = 0) -> None:
        with self.lock:
            if self.detached:
                return
            self.inflight -= written + rejected + abandoned
            self.written += written
            self.rejected += rejected
            self.abandoned += abandoned
            if written:
                self.batches_written += 1
        if abandoned:
            self._log_drops(abandoned)

    def count_failure(self, retried: bool) -> None:
        with self.lock:
            self.failed_batches += 1
            if retried:
                self.retries += 1

    def abandon_queue(self) -> None:
        """At close: what still waits is dropped and counted, and so is any
        metric appended after this (``drop_late``)."""
        self._drop_waiting(final=True)

    def drop_late(self) -> None:
        """After a metric was appended to a closed sink: drop and count it if
        close() already dropped the buffer, else leave it to close()."""
        self._drop_waiting(final=False)

    def _drop_waiting(self, final: bool) -> None:
        with self.submit_lock, self.lock:
            if final:
                self.drained = True
            elif not self.drained:
                return
            # Only the metrics counted here are removed: one appended meanwhile
            # (submit_metric takes no lock) stays for its submitter's drop_late.
            metrics = self.metrics
            cut = len(metrics) // WIDTH * WIDTH
            del metrics[:cut]
            n = cut // WIDTH + len(self.queue)
            self.queue.clear()
            self.abandoned += n
        if n:
            self._log_drops(n)

    def pending(self) -> int:
        return self.waiting() + self.inflight

    def done_count(self) -> int:
        return self.written + self.rejected + self.abandoned

    def stats(self) -> SinkStats:
        with self.lock:
            pending = self.waiting() + self.inflight
            return SinkStats(
                enqueued=self.written + self.rejected + self.abandoned + pending,
                written=self.written,
                dropped=self.dropped_at_submit + self.abandoned,
                rejected=self.rejected,
                pending=pending,
                batches_written=self.batches_written,
                failed_batches=self.failed_batches,
                retries=self.retries,
            )

    def after_failure(self, table: T, rows: Batch, exc: Exception, attempt: int) -> float | int:
        """What a flusher does after a failed write, and the bookkeeping for it.

        A float is a backoff delay before retrying the same rows (transient
        failure). An int ``n`` is the split point for a permanent failure of
        several rows (write ``rows[:n]`` and ``rows[n:]`` separately); 0 means
        the single row was rejected and settled.
        """
        if self.is_transient(exc):
            self.count_failure(retried=True)
            delay = self.backoff.delay(attempt)
            logger.debug(
                "%s: transient failure writing %d rows (%s); retry in %.2fs",
                self.name,
                len(rows),
                type(exc).__name__,
                delay,
            )
            return delay
        self.count_failure(retried=False)
        if len(rows) == 1:
            self.log_rejected(table, 1, exc)
            self.settle(rejected=1)
            return 0
        return len(rows) // 2

    def take_error(self) -> MonitoringError | None:
        """The last permanent write error since the previous call (strict flushes raise it)."""
        with self.lock:
            exc, self.last_error = self.last_error, None
        if exc is None or isinstance(exc, MonitoringError):
            return exc
        return MonitoringError(f"monitoring rows rejected: {type(exc).__name__}")

    def check_flushed(self, flushed: bool, strict: bool) -> bool:
        """In strict mode, a flush that timed out or saw rows rejected raises."""
        error = self.take_error()
        if strict and not flushed:
            raise TransientError(
                f"flush timed out with {self.pending()} monitoring rows still pending"
            )
        if strict and error is not None:
            raise error
        return flushed

    def log_rejected(self, table: T, rows: int, exc: BaseException) -> None:
        with self.lock:
            self.last_error = exc
        logger.error(
            "%s: server rejected %d row(s) for %s permanently: %s",
            self.name,
            rows,
            table,
            type(exc).__name__,
        )


class _SinkBase(Generic[T]):
    """What the thread and asyncio sinks share besides ``_BufferCore``: config,
    strictness, the close deadline, the heartbeat, stats and repr. The flush loops
    stay per sink (one awaits)."""

    def __init__(
        self,
        config: BatchingConfig | None,
        is_transient: Callable[[BaseException], bool],
        name: str,
        strict: bool,
        heartbeat: bool,
        metrics_table: T | None,
    ) -> None:
        self.config = config or BatchingConfig()
        self._strict = strict
        self._core: _BufferCore[T] = _BufferCore(self.config, is_transient, name, metrics_table)
        self._batch_size = self.config.max_batch_size  # read on every submit
        self._deadline: float | None = None
        hb = self.config.heartbeat
        self.heartbeat: Heartbeat | None = Heartbeat(hb) if heartbeat and hb is not None else None
        """This client instance's heartbeat (None when off or when the sink has no RPC)."""

    @property
    def metrics_table(self) -> T | None:
        """Rows submitted for this table are held as columns and written as
        :class:`MetricBatch` (None: every row is a dict)."""
        return self._core.metrics_table

    _flushers: list[Any]  # the running flusher threads or tasks
    _batch_size: int

    def submit_metric(
        self, name: str, value: float, tags: Any, when: Any, row_id: Any = None
    ) -> bool:
        """Queue one pipeline_metrics row as columns (see ``metric_submitter``).

        Never raises, never does I/O, never awaits, takes no lock: the common
        call is the room check, one append of five references and two
        comparisons, in this one frame (benchmarks/ingest.py: the submit lock
        and a call into the core were ~130 ns of a ~700 ns call). What makes
        that safe:

        * The append (``list += tuple``) is one C call, atomic under the GIL
          (and under a free-threaded build's per-list lock), and flushers only
          cut whole rows off the front (``take``): no row is torn or lost.
        * The room check reads the rows waiting before the rows in flight, and
          ``take`` counts rows in flight before removing them, so it never
          counts too few. Threads that check at the same instant may each add
          their row: ``max_buffer`` can be passed by at most one row per
          thread submitting at that moment.
        * A row appended while the sink closed is re-checked after the append
          (``drop_late``): delivered by the closing flushers, or counted as
          dropped if close() had already dropped the buffer. Never pending
          for ever.

        A flusher is woken when the rows waiting reach a multiple of the batch
        size, not on every append above it (waking on each append cost every
        call a method call and an ``Event.is_set()``), and it drains every
        full batch after each send before it sleeps again. Two threads reading
        the same size can skip a multiple; the flusher then wakes at the end
        of the flush interval, as for a partial batch.
        """
        core = self._core
        metrics = core.metrics
        size = len(metrics) // WIDTH + len(core.queue)  # before inflight: see take()
        if core.closed or size + core.inflight >= core.max_buffer:
            return self._metric_without_room(name, value, tags, when, row_id)
        metrics += (name, value, tags, when, row_id)
        if core.closed:
            core.drop_late()
        if (size + 1) % self._batch_size == 0 or not self._flushers:
            self._after_append(size + 1)
        return True

    def _after_append(self, waiting: int) -> None:
        """The rare work after an append: start the flushers, or wake one for a full batch."""
        raise NotImplementedError

    def _metric_without_room(
        self, name: str, value: float, tags: Any, when: Any, row_id: Any
    ) -> bool:
        """A metric that found the sink closed or its buffer full: dropped and
        counted (the thread sink first waits up to ``block_timeout`` for room)."""
        return self._core.record_drop()

    def _heartbeat_due(self) -> bool:
        return self.heartbeat is not None and not self._core.closed and self.heartbeat.claim()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} batch={self.config.max_batch_size} "
            f"buffer={self.config.max_buffer} pending={self._core.pending()} "
            f"closed={self._core.closed}>"
        )

    @property
    def stats(self) -> SinkStats:
        """Counters: enqueued, written, dropped, rejected, pending, batches, retries."""
        return self._core.stats()

    def _past_deadline(self) -> bool:
        # Stop a little early so close() sees the flusher finish in time.
        return self._deadline is not None and time.monotonic() >= self._deadline - _DEADLINE_MARGIN


def _metric_fields(row: Row) -> tuple[Any, Any, Any, Any, Any]:
    # A pipeline_metrics dict row submitted as such: its columns.
    return (
        row.get("metric_name"),
        row.get("metric_value"),
        row.get("tags") or {},
        row.get("timestamp"),
        row.get("id"),
    )


# =============================================================== threads
_live_sinks: weakref.WeakSet[BatchingSink[Any]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for sink in list(_live_sinks):
        sink._forget_parent_state()


def _close_all_at_exit() -> None:
    for sink in list(_live_sinks):
        sink.close(sink.config.exit_timeout)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)


class BatchingSink(_SinkBase[T]):
    """Buffers rows and writes them in bulk from a background thread.

    ``write_batch(table, rows)`` performs ONE attempt and raises on failure;
    ``is_transient(exc)`` decides whether that failure is worth retrying.
    """

    def __init__(
        self,
        write_batch: Callable[[T, Batch], None],
        *,
        is_transient: Callable[[BaseException], bool],
        config: BatchingConfig | None = None,
        name: str = "supabase_monitoring",
        on_fork_child: Callable[[], None] | None = None,
        strict: bool = False,
        heartbeat_rpc: Callable[[dict[str, Any]], object] | None = None,
        metrics_table: T | None = None,
    ) -> None:
        super().__init__(
            config, is_transient, name, strict, heartbeat_rpc is not None, metrics_table
        )
        self._write_batch = write_batch
        self._on_fork_child = on_fork_child
        self._heartbeat_rpc = heartbeat_rpc
        self._init_sync_primitives()
        _live_sinks.add(self)
        if self.heartbeat is not None:
            self._start()  # a worker that records nothing yet is still alive

    @classmethod
    def factory(
        cls, config: BatchingConfig | None = None
    ) -> Callable[[SinkContext], BatchingSink[TableRef]]:
        """A sink factory for :class:`MonitoringClient` (its default, with default config)."""

        def build(context: SinkContext) -> BatchingSink[TableRef]:
            transport = context.transport

            def write_batch(table: TableRef, rows: Batch) -> None:
                if isinstance(rows, MetricBatch):  # the columnar RPC, ids given by its encoder
                    transport.write_metrics(rows)
                    return
                finalize(rows)  # once per batch, in the flusher, not on the worker's thread
                transport.insert_rows(table, rows)

            def heartbeat(params: dict[str, Any]) -> object:
                return transport.rpc(HEARTBEAT_RPC, params, schema="monitoring")

            return BatchingSink(
                write_batch,
                is_transient=is_transient,
                config=config,
                strict=context.strict,
                on_fork_child=context.transport.reset_after_fork,
                heartbeat_rpc=heartbeat,
                metrics_table=PIPELINE_METRICS,
            )

        return build

    def _init_sync_primitives(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()  # set by close(); also cuts backoff sleeps short
        self._progress = threading.Condition(threading.Lock())
        self._flushers: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._deadline = None

    def _forget_parent_state(self) -> None:
        # In a forked child: the parent's buffer and thread are the parent's.
        self._core._reset()
        self._init_sync_primitives()
        if self._on_fork_child is not None:
            self._on_fork_child()
        if self.heartbeat is not None:
            self.heartbeat.reset_after_fork()  # the child is an instance of its own
            self._start()

    # ---- public API -----------------------------------------------------
    def _after_append(self, waiting: int) -> None:
        # The rare cases after an append: no flusher yet, or a full batch waiting.
        if not self._flushers:
            self._start()
        if waiting >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def _metric_without_room(
        self, name: str, value: float, tags: Any, when: Any, row_id: Any
    ) -> bool:
        # As submit() does for a dict row: wait up to block_timeout for room.
        # The append runs under the submit lock after a check of `closed`, so
        # close()'s drop (same lock) comes after it and counts it: no drop_late.
        core = self._core
        if not self._append_when_room(
            lambda: core.metrics.extend((name, value, tags, when, row_id))
        ):
            return core.record_drop()
        self._after_append(core.waiting())
        return True

    def submit(self, table: T, row: Row) -> bool:
        """Queue a row; False when it was dropped. Never raises, never does I/O."""
        if self.metrics_table is not None and table == self.metrics_table:
            return self.submit_metric(*_metric_fields(row))
        core = self._core
        queue = core.queue
        with core.submit_lock:
            size = core.waiting()
            room = not core.closed and size + core.inflight < core.max_buffer
            if room:
                queue.append((table, row))
        if not room and not self._append_when_room(lambda: queue.append((table, row))):
            return core.record_drop()
        self._after_append(size + 1)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every row submitted before this call is written or settled.

        Returns True when nothing submitted before the call is still pending.
        In strict mode, raises instead of returning False, and raises the last
        permanent write error (rows the server refused) since the previous flush.
        """
        return self._core.check_flushed(self._wait_flushed(timeout), self._strict)

    def _wait_flushed(self, timeout: float | None) -> bool:
        core = self._core
        with core.lock:
            target = core.done_count() + core.pending()
        if core.done_count() >= target:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        with core.lock:
            core.flush_waiters += 1
        try:
            with self._progress:
                self._wake.set()
                while core.done_count() < target:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._start()
                    self._progress.wait(remaining if remaining is None else min(remaining, 0.5))
            return True
        finally:
            with core.lock:
                core.flush_waiters -= 1

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting rows, deliver what is buffered until ``timeout``, drop the rest."""
        core = self._core
        if core.closed and not self._flushers:
            return
        core.closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        self._deadline = deadline
        self._stop.set()
        self._wake.set()
        for thread in self._flushers:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._flushers):
            # A flusher is stuck in a request past the deadline: its rows count as dropped.
            core.detach()
        self._flushers = []
        core.abandon_queue()
        _live_sinks.discard(self)
        if (
            self.heartbeat is not None
            and self._heartbeat_rpc is not None
            and not self._past_deadline()
        ):
            self.heartbeat.send(self._heartbeat_rpc, closed=True)  # stopped cleanly: not silent

    # ---- flusher ---------------------------------------------------------
    def _append_when_room(self, append: Callable[[], object]) -> bool:
        # Full buffer: wait up to block_timeout for room, then append under the
        # same lock as submit (another thread may have taken the room first).
        core = self._core
        if core.closed or self.config.block_timeout <= 0:
            return False
        deadline = time.monotonic() + self.config.block_timeout
        while True:
            with self._progress:
                while not core.has_room():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._wake.set()
                    self._progress.wait(remaining)
            with core.submit_lock:
                if core.closed:
                    return False
                if core.has_room():
                    append()
                    return True

    def _start(self) -> None:
        with self._start_lock:
            self._flushers = [t for t in self._flushers if t.is_alive()]
            while len(self._flushers) < self.config.concurrency:
                thread = threading.Thread(
                    target=self._run,
                    name=f"{self._core.name}-flusher-{len(self._flushers)}",
                    daemon=True,
                )
                thread.start()
                self._flushers.append(thread)

    def _run(self) -> None:
        core = self._core
        while True:
            if not self._stop.is_set() and core.waiting() < self.config.max_batch_size:
                self._wake.wait(core.idle_wait())
            self._wake.clear()
            if self._heartbeat_due() and self.heartbeat and self._heartbeat_rpc:
                self.heartbeat.send(self._heartbeat_rpc)
            first = core.claim_interval()
            while core.more_to_send(first, self._stop.is_set()):
                first = False
                if self._past_deadline():
                    return
                for table, rows in core.take().items():
                    self._deliver(table, rows)
                with self._progress:
                    self._progress.notify_all()
            if self._stop.is_set():
                return

    def _sleep_backoff(self, delay: float) -> None:
        if not self._stop.is_set():
            self._stop.wait(delay)  # close() interrupts it: retry at once
            return
        if self._deadline is not None:  # closing: keep backing off, but not past the deadline
            delay = min(delay, max(0.0, self._deadline - _DEADLINE_MARGIN - time.monotonic()))
        time.sleep(delay)

    def _deliver(self, table: T, rows: Batch) -> None:
        """Write rows, retrying transient failures and isolating permanent ones."""
        core = self._core
        attempt = 0
        while not self._past_deadline():
            try:
                self._write_batch(table, rows)
            except Exception as exc:
                step = core.after_failure(table, rows, exc, attempt)
                if isinstance(step, float):
                    attempt += 1
                    self._sleep_backoff(step)
                    continue
                if not step:
                    return
                self._deliver(table, rows[:step])
                rows, attempt = rows[step:], 0
                continue
            core.settle(written=len(rows))
            return
        core.settle(abandoned=len(rows))


# =============================================================== asyncio
class AsyncBatchingSink(_SinkBase[T]):
    """:class:`BatchingSink` for asyncio: flusher tasks on the running loop.

    ``submit`` must be called from the loop's thread; it never awaits.
    """

    def __init__(
        self,
        write_batch: Callable[[T, Batch], Awaitable[None]],
        *,
        is_transient: Callable[[BaseException], bool],
        config: BatchingConfig | None = None,
        name: str = "supabase_monitoring",
        strict: bool = False,
        heartbeat_rpc: Callable[[dict[str, Any]], Awaitable[object]] | None = None,
        metrics_table: T | None = None,
    ) -> None:
        super().__init__(
            config, is_transient, name, strict, heartbeat_rpc is not None, metrics_table
        )
        if self.config.block_timeout > 0:
            raise ValueError(
                "block_timeout applies to the thread sink only: the asyncio sink's submit "
                "runs on the event loop, which must never wait for buffer room"
            )
        self._write_batch = write_batch
        self._tasks_ran = False  # a closed heartbeat only follows a live one
        self._flushers: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()  # set by close(); also cuts backoff sleeps short
        self._progress = asyncio.Condition()
        self._heartbeat_rpc = heartbeat_rpc
        if self.heartbeat is not None:
            # Built inside a running loop: beat from now on; else from the first record.
            with contextlib.suppress(RuntimeError):
                self._ensure_tasks()

    @classmethod
    def factory(
        cls, config: BatchingConfig | None = None
    ) -> Callable[[AsyncSinkContext], AsyncBatchingSink[TableRef]]:
        """A sink factory for :class:`AsyncMonitoringClient` (its default)."""

        def build(context: AsyncSinkContext) -> AsyncBatchingSink[TableRef]:
            transport = context.transport

            async def write_batch(table: TableRef, rows: Batch) -> None:
                if isinstance(rows, MetricBatch):
                    await transport.write_metrics(rows)
                    return
                finalize(rows)
                await transport.insert_rows(table, rows)

            async def heartbeat(params: dict[str, Any]) -> object:
                return await transport.rpc(HEARTBEAT_RPC, params, schema="monitoring")

            return AsyncBatchingSink(
                write_batch,
                is_transient=is_transient,
                config=config,
                strict=context.strict,
                heartbeat_rpc=heartbeat,
                metrics_table=PIPELINE_METRICS,
            )

        return build

    def _ensure_tasks(self) -> None:
        self._flushers = [t for t in self._flushers if not t.done()]
        if len(self._flushers) >= self.config.concurrency:
            return
        loop = asyncio.get_running_loop()
        while len(self._flushers) < self.config.concurrency:
            name = f"{self._core.name}-flusher-{len(self._flushers)}"
            self._flushers.append(loop.create_task(self._run(), name=name))

    def submit(self, table: T, row: Row) -> bool:
        """Queue a row; False when it was dropped. Never raises, never awaits."""
        if self.metrics_table is not None and table == self.metrics_table:
            return self.submit_metric(*_metric_fields(row))
        core = self._core
        if core.closed or core.pending() >= core.max_buffer:
            return core.record_drop()
        core.queue.append((table, row))
        self._after_append(core.waiting())
        return True

    def _after_append(self, waiting: int) -> None:
        # After an append: start the flushers on first use, wake one for a full batch.
        if not self._flushers:
            try:
                self._ensure_tasks()
            except RuntimeError:  # no running loop yet: the rows wait for flush()/close()
                return
        if waiting >= self._batch_size:
            self._wake.set()

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every row submitted before this call is written or settled.

        Strict mode raises like :meth:`BatchingSink.flush`.
        """
        return self._core.check_flushed(await self._wait_flushed(timeout), self._strict)

    async def _wait_flushed(self, timeout: float | None) -> bool:
        core = self._core
        target = core.done_count() + core.pending()
        if core.done_count() >= target:
            return True
        self._ensure_tasks()
        core.flush_waiters += 1  # the event loop's thread: no other task runs meanwhile
        self._wake.set()

        async def wait_done() -> None:
            async with self._progress:
                await self._progress.wait_for(lambda: core.done_count() >= target)

        try:
            await asyncio.wait_for(wait_done(), timeout)
        except TimeoutError:
            return False
        finally:
            core.flush_waiters -= 1
        return True

    async def close(self, timeout: float | None = None) -> None:
        """Stop accepting rows, deliver what is buffered until ``timeout``, drop the rest."""
        core = self._core
        core.closed = True
        if core.waiting():
            self._ensure_tasks()
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        tasks, self._flushers = self._flushers, []
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
                core.detach()
        core.abandon_queue()
        if self.heartbeat is not None and self._heartbeat_rpc is not None and self._tasks_ran:
            remaining = None if self._deadline is None else self._deadline - time.monotonic()
            if remaining is None or remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.heartbeat.send_async(self._heartbeat_rpc, closed=True), remaining
                    )

    async def _run(self) -> None:
        core = self._core
        self._tasks_ran = True
        while True:
            if not self._stop.is_set() and core.waiting() < self.config.max_batch_size:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), core.idle_wait())
            self._wake.clear()
            if self._heartbeat_due() and self.heartbeat and self._heartbeat_rpc:
                await self.heartbeat.send_async(self._heartbeat_rpc)
            first = core.claim_interval()
            while core.more_to_send(first, self._stop.is_set()):
                first = False
                if self._past_deadline():
                    return
                for table, rows in core.take().items():
                    await self._deliver(table, rows)
                async with self._progress:
                    self._progress.notify_all()
            if self._stop.is_set():
                return

    async def _sleep_backoff(self, delay: float) -> None:
        if not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):  # close() interrupts it
                await asyncio.wait_for(self._stop.wait(), delay)
            return
        if self._deadline is not None:
            delay = min(delay, max(0.0, self._deadline - _DEADLINE_MARGIN - time.monotonic()))
        await asyncio.sleep(delay)

    async def _deliver(self, table: T, rows: Batch) -> None:
        core = self._core
        attempt = 0
        while not self._past_deadline():
            try:
                await self._write_batch(table, rows)
            except Exception as exc:
                step = core.after_failure(table, rows, exc, attempt)
                if isinstance(step, float):
                    attempt += 1
                    await self._sleep_backoff(step)
                    continue
                if not step:
                    return
                await self._deliver(table, rows[:step])
                rows, attempt = rows[step:], 0
                continue
            core.settle(written=len(rows))
            return
        core.settle(abandoned=len(rows))


#: Hands one metric (name, value, tags, event time) to a sink; False when dropped.
MetricSubmit = Callable[[str, float, dict[str, Any], float | str], bool]


def metric_submitter(sink: object) -> MetricSubmit:
    """How a client hands metrics to ``sink``.

    A batching sink with a metrics table takes them as columns
    (``submit_metric``); any other sink gets a pipeline_metrics dict row with a
    tags dict of its own (the hot path may share one between rows).
    """
    if isinstance(sink, BatchingSink | AsyncBatchingSink) and sink.metrics_table is not None:
        return sink.submit_metric
    submit = sink.submit  # type: ignore[attr-defined]

    def submit_row(name: str, value: float, tags: dict[str, Any], when: float | str) -> bool:
        return bool(submit(PIPELINE_METRICS, metric_row(name, value, tags, when)))

    return submit_row

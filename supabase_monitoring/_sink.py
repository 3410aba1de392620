"""Sinks: where validated rows go after a ``record_*`` call.

The clients build a row and hand it to ``sink.submit(table, row)``; the sink
decides when and how it reaches the database. The batching sinks (the
default, ``_batching``) queue rows and write them in bulk from background
flushers; ``DirectSink`` (``batching=False``) writes at once, one request per
row with retries, and gives each row its id first; ``InMemoryRecorder`` (in
``supabase_monitoring.testing``) just keeps them. ``submit`` never blocks on
the network in the async world and never raises in non-strict mode.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._ids import finalize
from ._retry import RetryPolicy, call_with_retry, call_with_retry_async
from ._tables import TableRef
from .errors import ClosedError, MonitoringError, is_transient

if TYPE_CHECKING:
    from ._transport import AsyncTransport, SyncTransport

__all__ = [
    "AsyncDirectSink",
    "AsyncRowSink",
    "AsyncSinkContext",
    "AsyncSinkFactory",
    "DirectSink",
    "NullSink",
    "RowSink",
    "SinkContext",
    "SinkFactory",
    "SinkStats",
    "SyncSinkAdapter",
]

logger = logging.getLogger("supabase_monitoring")


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters of a sink since it was created.

    Every row accepted by ``submit`` is counted in ``enqueued`` and ends up in
    exactly one of ``written``, ``dropped`` (refused at submit because the
    sink is closed or full, or given up on after transient failures or at a
    close deadline), ``rejected`` (refused by the server for good) or
    ``pending``. ``invalid`` counts records refused at the call site for bad
    input in default mode (logged, never submitted, so outside that sum); a
    client's ``stats`` fills it in.
    """

    enqueued: int = 0
    written: int = 0
    dropped: int = 0
    rejected: int = 0
    pending: int = 0
    batches_written: int = 0
    failed_batches: int = 0
    retries: int = 0
    invalid: int = 0


@runtime_checkable
class RowSink(Protocol):
    """Where a synchronous client sends rows."""

    def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
        """Take one validated row; False when it was dropped.

        The sink owns ``row`` from here on; the caller must not reuse it.
        """
        ...

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything accepted so far; False if ``timeout`` ran out first."""
        ...

    def close(self, timeout: float | None = None) -> None:
        """Flush, then release resources; later submits are dropped."""
        ...

    @property
    def stats(self) -> SinkStats:
        """Counters, for health reporting and tests."""
        ...


@runtime_checkable
class AsyncRowSink(Protocol):
    """Where an asynchronous client sends rows: ``submit`` stays synchronous and cheap."""

    def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
        """Take one validated row without blocking; False when it was dropped."""
        ...

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted so far is written (or ``timeout``)."""
        ...

    async def close(self, timeout: float | None = None) -> None:
        """Flush, then release resources; later submits are dropped."""
        ...

    @property
    def stats(self) -> SinkStats:
        """Counters, for health reporting and tests."""
        ...


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What a sink factory gets from a synchronous client to build its sink."""

    transport: SyncTransport
    retry: RetryPolicy
    strict: bool


@dataclass(frozen=True, slots=True)
class AsyncSinkContext:
    """What a sink factory gets from an asynchronous client to build its sink."""

    transport: AsyncTransport
    retry: RetryPolicy
    strict: bool


SinkFactory = Callable[[SinkContext], RowSink]
AsyncSinkFactory = Callable[[AsyncSinkContext], "AsyncRowSink | RowSink"]


class _Counters:
    # Shared bookkeeping of the direct sinks (one row per request).
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.enqueued = 0
        self.written = 0
        self.dropped = 0
        self.rejected = 0
        self.failed = 0
        self.retries = 0

    def add_retry(self) -> None:
        with self.lock:
            self.retries += 1

    def settle(self, exc: BaseException | None) -> None:
        with self.lock:
            if exc is None:
                self.written += 1
                return
            self.failed += 1
            if is_transient(exc) or isinstance(exc, ClosedError):
                self.dropped += 1
            else:
                self.rejected += 1

    def snapshot(self, pending: int = 0) -> SinkStats:
        with self.lock:
            return SinkStats(
                enqueued=self.enqueued,
                written=self.written,
                dropped=self.dropped,
                rejected=self.rejected,
                pending=pending,
                batches_written=self.written,
                failed_batches=self.failed,
                retries=self.retries,
            )


def _log_drop(table: TableRef, exc: BaseException) -> None:
    logger.warning("monitoring row for %s dropped: %s", table, exc)


class DirectSink:
    """Writes each row immediately, on the calling thread, retrying transient failures.

    Simple and synchronous: the record call waits for the database. Strict
    mode raises the final error; otherwise it is logged and the row dropped.
    """

    def __init__(
        self, transport: SyncTransport, retry: RetryPolicy, *, strict: bool = False
    ) -> None:
        """Write through ``transport`` under ``retry``."""
        self._transport = transport
        self._retry = retry
        self._strict = strict
        self._closed = False
        self._counters = _Counters()

    @classmethod
    def from_context(cls, context: SinkContext) -> DirectSink:
        """Sink factory: what ``MonitoringClient(batching=False)`` uses."""
        return cls(context.transport, context.retry, strict=context.strict)

    def __repr__(self) -> str:
        return f"<DirectSink strict={self._strict} closed={self._closed}>"

    def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
        """Write ``row`` now; True once the database has it."""
        c = self._counters
        with c.lock:
            c.enqueued += 1
        transport = self._transport
        try:
            if self._closed:
                raise ClosedError("the monitoring client is closed")
            finalize([row])
            call_with_retry(
                self._retry, lambda: transport.insert_rows(table, [row]), on_retry=c.add_retry
            )
        except Exception as exc:
            c.settle(exc)
            if self._strict:
                raise
            if isinstance(exc, MonitoringError):
                _log_drop(table, exc)
            else:
                logger.exception("unexpected error writing a monitoring row for %s", table)
            return False
        c.settle(None)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is ever pending: always True."""
        return True

    def close(self, timeout: float | None = None) -> None:
        """Refuse further rows (the transport is closed by its owner, the client)."""
        self._closed = True

    @property
    def stats(self) -> SinkStats:
        """Counters; ``pending`` is always 0."""
        return self._counters.snapshot()


class AsyncDirectSink:
    """Writes each row in its own asyncio task, retrying transient failures.

    ``submit`` only schedules the task, so it needs a running event loop.
    Strict mode cannot raise a write error at the call site (it has not
    happened yet): the first failure is raised by the next ``flush``/``close``.
    """

    def __init__(
        self, transport: AsyncTransport, retry: RetryPolicy, *, strict: bool = False
    ) -> None:
        """Write through ``transport`` under ``retry``."""
        self._transport = transport
        self._retry = retry
        self._strict = strict
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._errors: list[MonitoringError] = []
        self._counters = _Counters()

    @classmethod
    def from_context(cls, context: AsyncSinkContext) -> AsyncDirectSink:
        """Sink factory: what ``AsyncMonitoringClient(batching=False)`` uses."""
        return cls(context.transport, context.retry, strict=context.strict)

    def __repr__(self) -> str:
        return f"<AsyncDirectSink strict={self._strict} closed={self._closed}>"

    def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
        """Schedule the write; False (ClosedError when strict) if it cannot be."""
        c = self._counters
        with c.lock:
            c.enqueued += 1
        try:
            if self._closed:
                raise ClosedError("the monitoring client is closed")
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise ClosedError(
                    "AsyncMonitoringClient records from inside a running event loop only; "
                    "use MonitoringClient from synchronous code"
                ) from None
            task = loop.create_task(self._write(table, row))
        except MonitoringError as exc:
            c.settle(exc)
            if self._strict:
                raise
            _log_drop(table, exc)
            return False
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _write(self, table: TableRef, row: dict[str, Any]) -> None:
        c = self._counters
        transport = self._transport
        finalize([row])
        try:
            await call_with_retry_async(
                self._retry, lambda: transport.insert_rows(table, [row]), on_retry=c.add_retry
            )
        except Exception as exc:
            c.settle(exc)
            if isinstance(exc, MonitoringError):
                if self._strict:
                    self._errors.append(exc)
                _log_drop(table, exc)
            else:
                logger.exception("unexpected error writing a monitoring row for %s", table)
            return
        c.settle(None)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait for the writes scheduled so far; strict mode raises the first failure."""
        pending = set(self._tasks)
        done_all = True
        if pending:
            _, not_done = await asyncio.wait(pending, timeout=timeout)
            done_all = not not_done
        if self._errors:
            first, self._errors = self._errors[0], []
            raise first
        return done_all

    async def close(self, timeout: float | None = None) -> None:
        """Refuse further rows and wait for the pending ones (cancelled after ``timeout``)."""
        self._closed = True
        pending = set(self._tasks)
        if pending:
            _, not_done = await asyncio.wait(pending, timeout=timeout)
            for task in not_done:
                task.cancel()
            if not_done:
                c = self._counters
                with c.lock:
                    c.dropped += len(not_done)
                    c.failed += len(not_done)
                logger.warning("closing: %d monitoring rows not written in time", len(not_done))
                await asyncio.wait(not_done)
        if self._errors:
            first, self._errors = self._errors[0], []
            raise first

    @property
    def stats(self) -> SinkStats:
        """Counters; ``pending`` counts writes still in flight."""
        return self._counters.snapshot(len(self._tasks))


class NullSink:
    """Drops every row: what the SDK uses when SUPABASE_MONITORING_DISABLED is set."""

    def __init__(self) -> None:
        """A sink that accepts nothing."""
        self._counters = _Counters()

    def __repr__(self) -> str:
        return "<NullSink>"

    def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
        """Drop the row; always False."""
        c = self._counters
        with c.lock:
            c.enqueued += 1
            c.dropped += 1
        return False

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing to write: True."""
        return True

    def close(self, timeout: float | None = None) -> None:
        """Nothing to release."""

    @property
    def stats(self) -> SinkStats:
        """Counters: everything submitted is dropped."""
        return self._counters.snapshot()


class SyncSinkAdapter:
    """Lets an asynchronous client use a synchronous sink (recorder, batching sink).

    ``submit`` is passed straight through (it must not block); ``flush`` and
    ``close`` run in a worker thread so a blocking flush does not stall the loop.
    """

    def __init__(self, sink: RowSink) -> None:
        """Adapt ``sink``."""
        self.sink = sink

    def __repr__(self) -> str:
        return f"<SyncSinkAdapter {self.sink!r}>"

    def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
        """Pass through to the wrapped sink."""
        return self.sink.submit(table, row)

    async def flush(self, timeout: float | None = None) -> bool:
        """The wrapped sink's flush, off the event loop."""
        return await asyncio.to_thread(self.sink.flush, timeout)

    async def close(self, timeout: float | None = None) -> None:
        """The wrapped sink's close, off the event loop."""
        await asyncio.to_thread(self.sink.close, timeout)

    @property
    def stats(self) -> SinkStats:
        """The wrapped sink's counters."""
        return self.sink.stats

"""AsyncMonitoringClient: the asyncio public client."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._batching import AsyncBatchingSink, BatchingConfig
from ._client_base import DISABLED_REASON, ClientBase
from ._queries import (
    AGGREGATE_FUNCTION,
    HEALTH_FUNCTION,
    Select,
    aggregate_params,
    aggregated_metrics_query,
    api_metrics_query,
    open_issues_query,
    parse_health,
    parse_row_count,
    parse_rows,
    queue_metrics_query,
    resolve_issue_update,
)
from ._retry import RetryPolicy, call_with_retry_async
from ._sink import (
    AsyncDirectSink,
    AsyncRowSink,
    AsyncSinkContext,
    AsyncSinkFactory,
    RowSink,
    SyncSinkAdapter,
)
from ._tables import WORKER_ISSUES
from ._transport import DEFAULT_TIMEOUT, AsyncTransport
from .models import (
    AggregatedMetric,
    ApiMetricsRow,
    QueueMetricsRow,
    Severity,
    SystemHealth,
    WorkerIssue,
)

if TYPE_CHECKING:
    from supabase import AsyncClient

__all__ = ["DEFAULT_ASYNC_SINK", "AsyncMonitoringClient"]

logger = logging.getLogger("supabase_monitoring")

T = TypeVar("T")

#: How an async client builds its sink when none is given.
DEFAULT_ASYNC_SINK: AsyncSinkFactory = AsyncBatchingSink.factory()


def _as_async(sink: AsyncRowSink | RowSink) -> AsyncRowSink:
    if inspect.iscoroutinefunction(sink.flush):
        return sink  # type: ignore[return-value]
    return SyncSinkAdapter(sink)  # type: ignore[arg-type]


def _factory_for(batching: BatchingConfig | bool | None) -> AsyncSinkFactory:
    # None/True: the default batching sink; a config: batching tuned so; False: direct writes.
    if batching is None or batching is True:
        return DEFAULT_ASYNC_SINK
    if batching is False:
        return AsyncDirectSink.from_context
    return AsyncBatchingSink.factory(batching)


class AsyncMonitoringClient(ClientBase[AsyncTransport, AsyncRowSink]):
    """The asyncio counterpart of :class:`MonitoringClient` (same construction, via ClientBase).

    ``record_*`` methods and timers are the same plain, non-blocking calls
    as on the sync client (no ``await``): they queue the row for the sink.
    Reads, ``flush`` and ``close`` are coroutines. The default batching sink
    writes from flusher tasks on the running loop, so in strict mode a write
    error surfaces from the next ``await flush()`` or ``close()`` (with
    ``batching=False`` each row is written by its own task, likewise).
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        client: AsyncClient | None = None,
        strict: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sink: AsyncRowSink | RowSink | AsyncSinkFactory | None = None,
        disabled: bool | None = None,
        batching: BatchingConfig | bool | None = None,
    ) -> None:
        """Connect with ``url`` + ``key``, or wrap ``client`` (a ``supabase.AsyncClient``).

        Needs no running event loop. ``sink`` is a ready sink (async, or a
        sync one such as ``testing.InMemoryRecorder``) or a factory taking an
        :class:`AsyncSinkContext`.
        """
        super().__init__(  # see ClientBase
            url,
            key,
            client=client,
            strict=strict,
            timeout=timeout,
            retry=retry,
            sink=sink,
            disabled=disabled,
            batching=batching,
        )

    _transport_type = AsyncTransport
    _supabase_client_name = "supabase AsyncClient"

    def _adopt_sink(self, sink: object) -> AsyncRowSink:
        return _as_async(sink)  # type: ignore[arg-type]

    def _factory_for(self, batching: BatchingConfig | bool | None) -> AsyncSinkFactory:
        return _factory_for(batching)

    def _sink_context(self, transport: AsyncTransport) -> AsyncSinkContext:
        return AsyncSinkContext(transport, self._retry, self._strict)

    # ------------------------------------------------------------ lifecycle

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded so far is written; False on timeout."""
        return await self._sink.flush(timeout)

    async def close(self, timeout: float | None = None) -> None:
        """Flush and release connections. Idempotent; later records are dropped."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._sink.close(timeout)
        finally:
            if self._transport is not None:
                await self._transport.close()

    async def __aenter__(self) -> AsyncMonitoringClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ reads

    async def _retried(self, fn: Callable[[AsyncTransport], Awaitable[T]]) -> T:
        transport = self._require_transport()
        return await call_with_retry_async(self._retry, lambda: fn(transport))

    async def _select(self, query: Select) -> list[dict[str, Any]]:
        return await self._retried(
            lambda t: t.select(
                query.table, filters=query.filters, order=query.order, limit=query.limit
            )
        )

    async def get_system_health(self, *, raise_on_error: bool | None = None) -> SystemHealth:
        """Call ``get_system_health()``; UNKNOWN with ``error`` on failure (see the sync client)."""
        if self._disabled:
            return SystemHealth.unknown(DISABLED_REASON)
        should_raise = self._strict if raise_on_error is None else raise_on_error
        try:
            data = await self._retried(lambda t: t.rpc(HEALTH_FUNCTION))
            return parse_health(data, self._require_transport().secrets)
        except Exception as exc:
            return self._health_failed(exc, should_raise)

    async def aggregate_metrics(
        self, period: str = "hourly", *, now: datetime | None = None
    ) -> int:
        """Run ``monitoring.aggregate_metrics(period)`` now (see the sync client)."""
        params = aggregate_params(period, now)
        if self._disabled:
            return 0
        data = await self._retried(lambda t: t.rpc(AGGREGATE_FUNCTION, params, schema="monitoring"))
        return parse_row_count(data)

    async def resolve_worker_issue(
        self,
        issue_id: str,
        resolution_details: str | None = None,
        *,
        resolved_at: datetime | None = None,
    ) -> bool:
        """Mark an open issue resolved; True if an open issue with that id was closed.

        Flushes the sink first, so an issue logged moments ago is in the table.
        """
        if self._disabled:
            return False
        try:
            values, filters = resolve_issue_update(issue_id, resolution_details, resolved_at)
            self._require_transport()
            await self._sink.flush(self._retry.max_elapsed)
            rows = await self._retried(lambda t: t.update(WORKER_ISSUES, values, filters))
            return bool(rows)
        except Exception as exc:
            if self._strict:
                raise
            return self._swallow(exc, "issue resolution")

    async def list_open_worker_issues(
        self,
        *,
        worker_name: str | None = None,
        severity: Severity | str | None = None,
        issue_type: str | None = None,
        limit: int = 100,
    ) -> list[WorkerIssue]:
        """Unresolved worker issues, newest first, optionally filtered."""
        if self._disabled:
            return []
        rows = await self._select(open_issues_query(worker_name, severity, issue_type, limit))
        return parse_rows(WorkerIssue, rows, "worker issues")

    async def get_queue_metrics(
        self,
        queue_name: str | None = None,
        *,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[QueueMetricsRow]:
        """Hourly queue figures from the monitoring.queue_metrics view (last 7 days)."""
        if self._disabled:
            return []
        rows = await self._select(queue_metrics_query(queue_name, since, limit))
        return parse_rows(QueueMetricsRow, rows, "queue metrics")

    async def get_api_metrics(
        self,
        api_name: str | None = None,
        *,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[ApiMetricsRow]:
        """Hourly API call figures from the monitoring.api_metrics view (last 7 days)."""
        if self._disabled:
            return []
        rows = await self._select(api_metrics_query(api_name, since, limit))
        return parse_rows(ApiMetricsRow, rows, "API metrics")

    async def get_aggregated_metrics(
        self,
        metric_name: str | None = None,
        *,
        period: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        dimensions: Mapping[str, Any] | None = None,
        limit: int = 1000,
    ) -> list[AggregatedMetric]:
        """Rollups from monitoring.aggregated_metrics, newest period first."""
        if self._disabled:
            return []
        query = aggregated_metrics_query(metric_name, period, since, until, dimensions, limit)
        return parse_rows(AggregatedMetric, await self._select(query), "aggregated metrics")

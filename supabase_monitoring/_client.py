"""MonitoringClient: the synchronous public client."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._batching import BatchingConfig, BatchingSink
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
from ._retry import RetryPolicy, call_with_retry
from ._sink import DirectSink, RowSink, SinkContext, SinkFactory
from ._tables import WORKER_ISSUES
from ._transport import DEFAULT_TIMEOUT, SyncTransport
from .errors import ConfigurationError
from .models import (
    AggregatedMetric,
    ApiMetricsRow,
    QueueMetricsRow,
    Severity,
    SystemHealth,
    WorkerIssue,
)

if TYPE_CHECKING:
    from supabase import Client

__all__ = ["DEFAULT_SINK", "MonitoringClient"]

logger = logging.getLogger("supabase_monitoring")

T = TypeVar("T")

#: How a client builds its sink when none is given: the background batching writer.
DEFAULT_SINK: SinkFactory = BatchingSink.factory()


def _factory_for(batching: BatchingConfig | bool | None) -> SinkFactory:
    # None/True: the default batching sink; a config: batching tuned so; False: direct writes.
    if batching is None or batching is True:
        return DEFAULT_SINK
    if batching is False:
        return DirectSink.from_context
    return BatchingSink.factory(batching)


class MonitoringClient(ClientBase[SyncTransport, RowSink]):
    """Records pipeline metrics, worker issues and events; reads health and rollups.

    Build it with :meth:`from_env`, from a URL and service_role key, or
    around an existing ``supabase.Client``. By default (``strict=False``) a
    failed write is logged on the ``supabase_monitoring`` logger and never
    raises into the worker; ``strict=True`` raises :class:`MonitoringError`
    subclasses instead. Reads (``list_*``, ``get_*_metrics``) always raise on
    failure: returning nothing would look like "no data".
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        client: Client | None = None,
        strict: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sink: RowSink | SinkFactory | None = None,
        disabled: bool | None = None,
        batching: BatchingConfig | bool | None = None,
    ) -> None:
        """Connect with ``url`` + ``key``, or wrap ``client``.

        ``sink`` is a ready sink (e.g. ``testing.InMemoryRecorder``, which
        needs no connection) or a factory taking a :class:`SinkContext`.
        ``disabled`` (default: the SUPABASE_MONITORING_DISABLED variable)
        makes every call a no-op without touching the network. ``batching``
        tunes the default background batching writer (a :class:`BatchingConfig`),
        or ``batching=False`` writes each row synchronously instead.
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

    _transport_type = SyncTransport
    _supabase_client_name = "supabase client"

    def _adopt_sink(self, sink: object) -> RowSink:
        if inspect.iscoroutinefunction(getattr(sink, "flush", None)):
            raise ConfigurationError(
                f"{type(sink).__name__} is an async sink; use it with AsyncMonitoringClient"
            )
        return sink  # type: ignore[return-value]

    def _factory_for(self, batching: BatchingConfig | bool | None) -> SinkFactory:
        return _factory_for(batching)

    def _sink_context(self, transport: SyncTransport) -> SinkContext:
        return SinkContext(transport, self._retry, self._strict)

    # ------------------------------------------------------------ lifecycle

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything recorded so far; False if ``timeout`` ran out first."""
        return self._sink.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush and release connections. Idempotent; later records are dropped."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sink.close(timeout)
        finally:
            if self._transport is not None:
                self._transport.close()

    def __enter__(self) -> MonitoringClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ reads

    def _retried(self, fn: Callable[[SyncTransport], T]) -> T:
        transport = self._require_transport()
        return call_with_retry(self._retry, lambda: fn(transport))

    def _select(self, query: Select) -> list[dict[str, Any]]:
        return self._retried(
            lambda t: t.select(
                query.table, filters=query.filters, order=query.order, limit=query.limit
            )
        )

    def get_system_health(self, *, raise_on_error: bool | None = None) -> SystemHealth:
        """Call ``get_system_health()`` (the spec's ``checkSystemHealth``).

        Transient failures are retried. If the check still fails, or the
        answer is not a health document, the result has ``overall_status``
        UNKNOWN and ``error`` set, unless ``raise_on_error`` (default: the
        client's ``strict``) asks for the exception.
        """
        if self._disabled:
            return SystemHealth.unknown(DISABLED_REASON)
        should_raise = self._strict if raise_on_error is None else raise_on_error
        try:
            data = self._retried(lambda t: t.rpc(HEALTH_FUNCTION))
            return parse_health(data, self._require_transport().secrets)
        except Exception as exc:
            return self._health_failed(exc, should_raise)

    def aggregate_metrics(self, period: str = "hourly", *, now: datetime | None = None) -> int:
        """Run ``monitoring.aggregate_metrics(period)`` now: every complete period not
        yet aggregated (missed cron runs included); returns the rollup rows written.

        ``now`` (timezone-aware) aggregates as of that time, as a chunked back-fill
        does. Idempotent, so it is retried like a read; always raises on failure.
        """
        params = aggregate_params(period, now)
        if self._disabled:
            return 0
        data = self._retried(lambda t: t.rpc(AGGREGATE_FUNCTION, params, schema="monitoring"))
        return parse_row_count(data)

    def resolve_worker_issue(
        self,
        issue_id: str,
        resolution_details: str | None = None,
        *,
        resolved_at: datetime | None = None,
    ) -> bool:
        """Mark an open issue resolved; True if an open issue with that id was closed.

        Flushes the sink first, so an issue logged moments ago is in the
        table. Failures follow ``strict`` like writes.
        """
        if self._disabled:
            return False
        try:
            values, filters = resolve_issue_update(issue_id, resolution_details, resolved_at)
            self._require_transport()
            self._sink.flush(self._retry.max_elapsed)
            rows = self._retried(lambda t: t.update(WORKER_ISSUES, values, filters))
            return bool(rows)
        except Exception as exc:
            if self._strict:
                raise
            return self._swallow(exc, "issue resolution")

    def list_open_worker_issues(
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
        rows = self._select(open_issues_query(worker_name, severity, issue_type, limit))
        return parse_rows(WorkerIssue, rows, "worker issues")

    def get_queue_metrics(
        self,
        queue_name: str | None = None,
        *,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[QueueMetricsRow]:
        """Hourly queue figures from the monitoring.queue_metrics view (last 7 days)."""
        if self._disabled:
            return []
        rows = self._select(queue_metrics_query(queue_name, since, limit))
        return parse_rows(QueueMetricsRow, rows, "queue metrics")

    def get_api_metrics(
        self,
        api_name: str | None = None,
        *,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[ApiMetricsRow]:
        """Hourly API call figures from the monitoring.api_metrics view (last 7 days)."""
        if self._disabled:
            return []
        rows = self._select(api_metrics_query(api_name, since, limit))
        return parse_rows(ApiMetricsRow, rows, "API metrics")

    def get_aggregated_metrics(
        self,
        metric_name: str | None = None,
        *,
        period: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        dimensions: Mapping[str, Any] | None = None,
        limit: int = 1000,
    ) -> list[AggregatedMetric]:
        """Rollups from monitoring.aggregated_metrics, newest period first.

        ``dimensions`` keeps rows whose dimensions contain all the given
        key/value pairs.
        """
        if self._disabled:
            return []
        query = aggregated_metrics_query(metric_name, period, since, until, dimensions, limit)
        return parse_rows(AggregatedMetric, self._select(query), "aggregated metrics")

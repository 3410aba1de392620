"""Monitoring for Supabase data pipelines: metrics, worker issues, events and health.

Workers record with :class:`MonitoringClient` (or :class:`AsyncMonitoringClient`)::

    from supabase_monitoring import MonitoringClient

    monitor = MonitoringClient.from_env()
    monitor.record_processing_metric("artists", 1250.0, success_count=98, error_count=2)
    with monitor.time_api_call("spotify"):
        call_spotify()
    health = monitor.get_system_health()

Everything importable from here is public API; modules starting with ``_``
are not.
"""

from __future__ import annotations

from ._async_client import AsyncMonitoringClient
from ._batching import AsyncBatchingSink, BatchingConfig, BatchingSink
from ._client import MonitoringClient
from ._heartbeat import HeartbeatConfig
from ._retry import RetryPolicy
from ._sink import (
    AsyncDirectSink,
    AsyncRowSink,
    AsyncSinkContext,
    DirectSink,
    NullSink,
    RowSink,
    SinkContext,
    SinkStats,
)
from ._tables import (
    AGGREGATED_METRICS,
    MONITORING_EVENTS,
    PIPELINE_METRICS,
    QUEUE_SNAPSHOTS,
    WORKER_ISSUES,
    TableRef,
)
from ._timers import ApiCallTimer, BatchTimer
from .errors import (
    ClosedError,
    ConfigurationError,
    InvalidInputError,
    InvalidResponseError,
    MonitoringError,
    PermissionDeniedError,
    RequestError,
    ServerError,
    TransientError,
    is_transient,
)
from .models import (
    AggregatedMetric,
    ApiMetricsRow,
    CronHealth,
    CronJobProblem,
    HealthStatus,
    MonitoringEvent,
    PipelineMetric,
    ProcessingHealth,
    QueueDepthHour,
    QueueDepthTrend,
    QueueHealth,
    QueueMetricsRow,
    QueueSnapshot,
    Severity,
    SystemHealth,
    WorkerHealth,
    WorkerIssue,
    WorkerStatus,
)

__version__ = "0.3.0.dev0"

__all__ = [
    "AGGREGATED_METRICS",
    "MONITORING_EVENTS",
    "PIPELINE_METRICS",
    "QUEUE_SNAPSHOTS",
    "WORKER_ISSUES",
    "AggregatedMetric",
    "ApiCallTimer",
    "ApiMetricsRow",
    "AsyncBatchingSink",
    "AsyncDirectSink",
    "AsyncMonitoringClient",
    "AsyncRowSink",
    "AsyncSinkContext",
    "BatchTimer",
    "BatchingConfig",
    "BatchingSink",
    "ClosedError",
    "ConfigurationError",
    "CronHealth",
    "CronJobProblem",
    "DirectSink",
    "HealthStatus",
    "HeartbeatConfig",
    "InvalidInputError",
    "InvalidResponseError",
    "MonitoringClient",
    "MonitoringError",
    "MonitoringEvent",
    "NullSink",
    "PermissionDeniedError",
    "PipelineMetric",
    "ProcessingHealth",
    "QueueDepthHour",
    "QueueDepthTrend",
    "QueueHealth",
    "QueueMetricsRow",
    "QueueSnapshot",
    "RequestError",
    "RetryPolicy",
    "RowSink",
    "ServerError",
    "Severity",
    "SinkContext",
    "SinkStats",
    "SystemHealth",
    "TableRef",
    "TransientError",
    "WorkerHealth",
    "WorkerIssue",
    "WorkerStatus",
    "__version__",
    "is_transient",
]

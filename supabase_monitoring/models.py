"""Typed models of the monitoring rows and the health document.

These are for the read side and for users who want typed objects: the write
path builds plain row dicts (see ``_rows``), because a pydantic round trip per
metric would dominate the cost of recording it.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AggregatedMetric",
    "ApiMetricsRow",
    "HealthStatus",
    "MonitoringEvent",
    "PipelineMetric",
    "ProcessingHealth",
    "QueueHealth",
    "QueueMetricsRow",
    "QueueSnapshot",
    "Severity",
    "SystemHealth",
    "WorkerHealth",
    "WorkerIssue",
]


class Severity(str, Enum):
    """Severity of a worker issue; the table's CHECK constraint allows exactly these."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class HealthStatus(str, Enum):
    """Health of the system or one component.

    ``UNKNOWN`` is never sent by the server: the SDK uses it when the health
    check itself failed, like the spec's ``checkSystemHealth``.
    """

    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


def _rate(errors: int, total: int) -> float | None:
    return errors / total if total > 0 else None


class _Row(BaseModel):
    # Rows and view rows ignore columns added later on the SQL side.
    model_config = ConfigDict(extra="ignore", frozen=True)


class PipelineMetric(_Row):
    """A raw measurement in ``monitoring.pipeline_metrics``."""

    id: str
    metric_name: str
    metric_value: float
    tags: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime
    created_at: datetime | None = None


class WorkerIssue(_Row):
    """A problem reported by a worker, in ``monitoring.worker_issues``."""

    id: str
    worker_name: str
    issue_type: str
    severity: Severity
    message: str | None = None
    details: dict[str, Any] | None = None
    resolved: bool = False
    resolution_details: str | None = None
    created_at: datetime
    resolved_at: datetime | None = None


class MonitoringEvent(_Row):
    """A system event in ``public.monitoring_events``."""

    id: str
    event_type: str
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class QueueSnapshot(_Row):
    """A queue depth report in ``monitoring.queue_snapshots``."""

    id: str
    queue_name: str
    queue_length: int
    stuck_messages: int = 0
    oldest_msg_age_sec: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    captured_at: datetime


class AggregatedMetric(_Row):
    """A rollup in ``monitoring.aggregated_metrics``; ``dimensions`` are the grouped tags."""

    id: str | None = None
    metric_name: str
    period: Literal["hourly", "daily", "weekly"]
    period_start: datetime
    min_value: float | None = None
    max_value: float | None = None
    avg_value: float | None = None
    sum_value: float | None = None
    count_value: int | None = None
    p50_value: float | None = None
    p95_value: float | None = None
    p99_value: float | None = None
    dimensions: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class QueueMetricsRow(_Row):
    """One queue and hour of the ``monitoring.queue_metrics`` view."""

    queue_name: str | None
    hour: datetime
    total_batches: int
    success_count: int | None = None
    error_count: int | None = None
    avg_processing_time_ms: float | None = None
    total_messages_processed: int | None = None

    @property
    def error_rate(self) -> float | None:
        """Failed messages over processed outcomes (success + error); None without outcomes."""
        return _rate(self.error_count or 0, (self.success_count or 0) + (self.error_count or 0))


class ApiMetricsRow(_Row):
    """One API and hour of the ``monitoring.api_metrics`` view."""

    api_name: str | None
    hour: datetime
    total_calls: int
    success_count: int | None = None
    error_count: int | None = None
    avg_success_time_ms: float | None = None
    p95_time_ms: float | None = None

    @property
    def error_rate(self) -> float | None:
        """Failed calls over all calls; None without calls."""
        return _rate(self.error_count or 0, self.total_calls)


# ---------------------------------------------------------------- health


class _Component(BaseModel):
    # The SQL side may add figures; keep them (model_extra) rather than fail.
    model_config = ConfigDict(extra="allow", frozen=True)

    status: HealthStatus


class QueueHealth(_Component):
    """Queue depth and stuck messages across all queues."""

    queues_checked: int | None = None
    queues_with_issues: int | None = None
    total_stuck_messages: int | None = None
    last_check_time: datetime | None = None


class ProcessingHealth(_Component):
    """Recent batch processing and API call figures; rates are fractions in [0, 1]."""

    window_minutes: float | None = None
    total_batches: int | None = None
    messages_processed: int | None = None
    batch_error_rate: float | None = Field(default=None, ge=0, le=1)
    throughput_per_minute: float | None = None
    api_calls: int | None = None
    api_error_rate: float | None = Field(default=None, ge=0, le=1)


class WorkerHealth(_Component):
    """Open worker issues by severity."""

    open_issues: int | None = None
    critical_issues: int | None = None
    error_issues: int | None = None
    warning_issues: int | None = None
    info_issues: int | None = None


class SystemHealth(BaseModel):
    """Result of ``get_system_health``.

    When the check could not be made, ``overall_status`` is ``UNKNOWN``,
    ``error`` says why and the components are ``None``.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    overall_status: HealthStatus
    timestamp: datetime | None = None
    queue_health: QueueHealth | None = None
    processing_health: ProcessingHealth | None = None
    worker_health: WorkerHealth | None = None
    error: str | None = None

    @property
    def is_healthy(self) -> bool:
        """True only for a successful check that found everything healthy."""
        return self.overall_status is HealthStatus.HEALTHY

    @property
    def is_critical(self) -> bool:
        """True when the server reported a critical state (alert-worthy)."""
        return self.overall_status is HealthStatus.CRITICAL

    @classmethod
    def unknown(cls, error: str) -> SystemHealth:
        """The result of a health check that failed: status unknown, with the reason."""
        return cls(overall_status=HealthStatus.UNKNOWN, error=error)


class _HealthDocument(SystemHealth):
    # What the server must send: everything the contract promises, and a
    # definite status (the server never says "unknown").
    overall_status: Literal[HealthStatus.HEALTHY, HealthStatus.WARNING, HealthStatus.CRITICAL]
    timestamp: datetime
    queue_health: QueueHealth
    processing_health: ProcessingHealth
    worker_health: WorkerHealth
    error: None = None


def parse_health_document(data: object) -> SystemHealth:
    """Validate the JSON returned by ``get_system_health()`` into a SystemHealth.

    Raises pydantic's ValidationError when ``data`` is not a health document
    (an HTML page, an error object, a missing component).
    """
    doc = _HealthDocument.model_validate(data)
    return SystemHealth.model_validate(doc.model_dump())

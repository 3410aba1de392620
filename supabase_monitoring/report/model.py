"""Report data: the SDK's read models (``models.*``) for one window, and per-name summaries.

The hourly rows and issues are the very objects the client's reads return
(``QueueMetricsRow``, ``ApiMetricsRow``, ``WorkerIssue``): one model per wire
shape. Only what the report derives has its own type here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..models import ApiMetricsRow, QueueMetricsRow, WorkerIssue

#: How a row without a queue or API name is labelled.
NO_NAME = "(none)"


def _rate(errors: int, total: int) -> float | None:
    return errors / total if total > 0 else None


@dataclass(frozen=True)
class LatencyHour:
    """An hourly p95 from ``monitoring.aggregated_metrics`` (queue processing time)."""

    name: str
    hour: datetime
    p95_ms: float


@dataclass(frozen=True)
class QueueSummary:
    queue_name: str
    batches: int
    messages: int
    errors: int
    error_rate: float | None
    avg_processing_time_ms: float | None


@dataclass(frozen=True)
class ApiSummary:
    api_name: str
    calls: int
    errors: int
    error_rate: float | None
    avg_success_time_ms: float | None
    max_p95_time_ms: float | None


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows; renderers only format this."""

    generated_at: datetime
    since: datetime
    hours: int
    queues: Sequence[QueueMetricsRow] = ()
    apis: Sequence[ApiMetricsRow] = ()
    issues: Sequence[WorkerIssue] = ()
    queue_latency: Sequence[LatencyHour] = ()
    overall_status: str | None = None
    warnings: Sequence[str] = field(default_factory=tuple)

    def queue_summaries(self) -> list[QueueSummary]:
        groups: dict[str, list[QueueMetricsRow]] = defaultdict(list)
        for row in self.queues:
            groups[row.queue_name or NO_NAME].append(row)
        result = []
        for name in sorted(groups):
            rows = groups[name]
            batches = sum(r.total_batches for r in rows)
            success = sum(r.success_count or 0 for r in rows)
            errors = sum(r.error_count or 0 for r in rows)
            result.append(
                QueueSummary(
                    queue_name=name,
                    batches=batches,
                    messages=sum(r.total_messages_processed or 0 for r in rows),
                    errors=errors,
                    error_rate=_rate(errors, success + errors),
                    avg_processing_time_ms=_weighted(
                        (r.avg_processing_time_ms, r.total_batches) for r in rows
                    ),
                )
            )
        return result

    def api_summaries(self) -> list[ApiSummary]:
        groups: dict[str, list[ApiMetricsRow]] = defaultdict(list)
        for row in self.apis:
            groups[row.api_name or NO_NAME].append(row)
        result = []
        for name in sorted(groups):
            rows = groups[name]
            calls = sum(r.total_calls for r in rows)
            errors = sum(r.error_count or 0 for r in rows)
            p95s = [r.p95_time_ms for r in rows if r.p95_time_ms is not None]
            result.append(
                ApiSummary(
                    api_name=name,
                    calls=calls,
                    errors=errors,
                    error_rate=_rate(errors, calls),
                    avg_success_time_ms=_weighted(
                        (r.avg_success_time_ms, r.success_count or 0) for r in rows
                    ),
                    # Percentiles do not combine; the worst hour is the honest summary.
                    max_p95_time_ms=max(p95s) if p95s else None,
                )
            )
        return result


def _weighted(pairs: Iterable[tuple[float | None, int]]) -> float | None:
    total = 0.0
    weight = 0
    for value, count in pairs:
        if value is not None and count > 0:
            total += value * count
            weight += count
    return total / weight if weight else None

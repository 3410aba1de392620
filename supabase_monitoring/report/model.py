"""Report data: rows of the hourly views, open issues, and per-name summaries.

Rows are parsed from PostgREST JSON (numbers may arrive as strings for
``numeric``/``bigint`` columns, timestamps as ISO strings), so every
``from_row`` is tolerant of both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _int(value: Any) -> int:
    return 0 if value is None else int(float(value))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _rate(errors: int, total: int) -> float | None:
    return errors / total if total > 0 else None


@dataclass(frozen=True)
class QueueHour:
    """One row of ``monitoring.queue_metrics``: a queue's batches in one hour."""

    queue_name: str
    hour: datetime
    total_batches: int
    success_count: int
    error_count: int
    avg_processing_time_ms: float | None
    total_messages_processed: int

    @property
    def error_rate(self) -> float | None:
        """Failed messages over processed outcomes (success + error)."""
        return _rate(self.error_count, self.success_count + self.error_count)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> QueueHour:
        return cls(
            queue_name=str(row.get("queue_name") or "(none)"),
            hour=_ts(row["hour"]),
            total_batches=_int(row.get("total_batches")),
            success_count=_int(row.get("success_count")),
            error_count=_int(row.get("error_count")),
            avg_processing_time_ms=_float(row.get("avg_processing_time_ms")),
            total_messages_processed=_int(row.get("total_messages_processed")),
        )


@dataclass(frozen=True)
class ApiHour:
    """One row of ``monitoring.api_metrics``: an API's calls in one hour."""

    api_name: str
    hour: datetime
    total_calls: int
    success_count: int
    error_count: int
    avg_success_time_ms: float | None
    p95_time_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return _rate(self.error_count, self.total_calls)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ApiHour:
        return cls(
            api_name=str(row.get("api_name") or "(none)"),
            hour=_ts(row["hour"]),
            total_calls=_int(row.get("total_calls")),
            success_count=_int(row.get("success_count")),
            error_count=_int(row.get("error_count")),
            avg_success_time_ms=_float(row.get("avg_success_time_ms")),
            p95_time_ms=_float(row.get("p95_time_ms")),
        )


@dataclass(frozen=True)
class LatencyHour:
    """An hourly p95 from ``monitoring.aggregated_metrics`` (queue processing time)."""

    name: str
    hour: datetime
    p95_ms: float


@dataclass(frozen=True)
class OpenIssue:
    id: str
    worker_name: str
    issue_type: str
    severity: str
    message: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OpenIssue:
        return cls(
            id=str(row["id"]),
            worker_name=str(row["worker_name"]),
            issue_type=str(row["issue_type"]),
            severity=str(row["severity"]),
            message=None if row.get("message") is None else str(row["message"]),
            created_at=_ts(row["created_at"]),
        )


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
    queues: Sequence[QueueHour] = ()
    apis: Sequence[ApiHour] = ()
    issues: Sequence[OpenIssue] = ()
    queue_latency: Sequence[LatencyHour] = ()
    overall_status: str | None = None
    warnings: Sequence[str] = field(default_factory=tuple)

    def queue_summaries(self) -> list[QueueSummary]:
        groups: dict[str, list[QueueHour]] = defaultdict(list)
        for row in self.queues:
            groups[row.queue_name].append(row)
        result = []
        for name in sorted(groups):
            rows = groups[name]
            batches = sum(r.total_batches for r in rows)
            success = sum(r.success_count for r in rows)
            errors = sum(r.error_count for r in rows)
            result.append(
                QueueSummary(
                    queue_name=name,
                    batches=batches,
                    messages=sum(r.total_messages_processed for r in rows),
                    errors=errors,
                    error_rate=_rate(errors, success + errors),
                    avg_processing_time_ms=_weighted(
                        (r.avg_processing_time_ms, r.total_batches) for r in rows
                    ),
                )
            )
        return result

    def api_summaries(self) -> list[ApiSummary]:
        groups: dict[str, list[ApiHour]] = defaultdict(list)
        for row in self.apis:
            groups[row.api_name].append(row)
        result = []
        for name in sorted(groups):
            rows = groups[name]
            calls = sum(r.total_calls for r in rows)
            errors = sum(r.error_count for r in rows)
            p95s = [r.p95_time_ms for r in rows if r.p95_time_ms is not None]
            result.append(
                ApiSummary(
                    api_name=name,
                    calls=calls,
                    errors=errors,
                    error_rate=_rate(errors, calls),
                    avg_success_time_ms=_weighted(
                        (r.avg_success_time_ms, r.success_count) for r in rows
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

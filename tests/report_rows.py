"""Read-model rows for report and alerting tests, built positionally (view column order)."""

from __future__ import annotations

from datetime import datetime

from supabase_monitoring.models import ApiMetricsRow, QueueMetricsRow, WorkerIssue


def queue_hour(
    name: str | None,
    hour: datetime,
    batches: int,
    success: int | None,
    errors: int | None,
    avg_ms: float | None,
    messages: int | None,
) -> QueueMetricsRow:
    """One ``monitoring.queue_metrics`` row."""
    return QueueMetricsRow(
        queue_name=name,
        hour=hour,
        total_batches=batches,
        success_count=success,
        error_count=errors,
        avg_processing_time_ms=avg_ms,
        total_messages_processed=messages,
    )


def api_hour(
    name: str | None,
    hour: datetime,
    calls: int,
    success: int | None,
    errors: int | None,
    avg_ms: float | None,
    p95_ms: float | None,
) -> ApiMetricsRow:
    """One ``monitoring.api_metrics`` row."""
    return ApiMetricsRow(
        api_name=name,
        hour=hour,
        total_calls=calls,
        success_count=success,
        error_count=errors,
        avg_success_time_ms=avg_ms,
        p95_time_ms=p95_ms,
    )


def open_issue(
    issue_id: str,
    worker: str,
    issue_type: str,
    severity: str,
    message: str | None,
    created_at: datetime,
) -> WorkerIssue:
    """One open ``monitoring.worker_issues`` row."""
    return WorkerIssue.model_validate(
        {
            "id": issue_id,
            "worker_name": worker,
            "issue_type": issue_type,
            "severity": severity,
            "message": message,
            "created_at": created_at,
        }
    )

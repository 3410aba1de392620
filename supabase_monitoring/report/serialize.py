"""Machine-readable report forms: a JSON document and one CSV with a ``section`` column."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import datetime
from typing import Any

from .model import ReportData


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def report_to_dict(data: ReportData) -> dict[str, Any]:
    """Stable JSON shape: summaries for people and scripts, hourly rows for charts."""
    return {
        "generated_at": data.generated_at.isoformat(),
        "since": data.since.isoformat(),
        "hours": data.hours,
        "overall_status": data.overall_status,
        "warnings": list(data.warnings),
        "queues": [_plain(asdict(s)) for s in data.queue_summaries()],
        "apis": [_plain(asdict(s)) for s in data.api_summaries()],
        "open_issues": [_plain(asdict(i)) for i in data.issues],
        "hourly": {
            "queues": [{**_plain(asdict(r)), "error_rate": r.error_rate} for r in data.queues],
            "apis": [{**_plain(asdict(r)), "error_rate": r.error_rate} for r in data.apis],
            "queue_p95": [_plain(asdict(r)) for r in data.queue_latency],
        },
    }


CSV_COLUMNS = (
    "section",
    "name",
    "hour",
    "total",
    "success_count",
    "error_count",
    "error_rate",
    "messages_processed",
    "avg_ms",
    "p95_ms",
    "severity",
    "issue_type",
    "message",
    "created_at",
    "id",
)


def report_to_csv(data: ReportData) -> str:
    """Hourly queue and API rows plus open issues, one table; filter on ``section``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for q in data.queues:
        writer.writerow(
            {
                "section": "queue",
                "name": q.queue_name,
                "hour": q.hour.isoformat(),
                "total": q.total_batches,
                "success_count": q.success_count,
                "error_count": q.error_count,
                "error_rate": _num(q.error_rate),
                "messages_processed": q.total_messages_processed,
                "avg_ms": _num(q.avg_processing_time_ms),
            }
        )
    for a in data.apis:
        writer.writerow(
            {
                "section": "api",
                "name": a.api_name,
                "hour": a.hour.isoformat(),
                "total": a.total_calls,
                "success_count": a.success_count,
                "error_count": a.error_count,
                "error_rate": _num(a.error_rate),
                "avg_ms": _num(a.avg_success_time_ms),
                "p95_ms": _num(a.p95_time_ms),
            }
        )
    for i in data.issues:
        writer.writerow(
            {
                "section": "issue",
                "name": i.worker_name,
                "severity": i.severity,
                "issue_type": i.issue_type,
                "message": i.message or "",
                "created_at": i.created_at.isoformat(),
                "id": i.id,
            }
        )
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)

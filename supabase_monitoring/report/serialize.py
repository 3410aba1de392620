"""Machine-readable report forms: a JSON document and one CSV with a ``section`` column.

Names, messages and ids in the CSV were written by any worker, so each text
cell is made safe to open in a spreadsheet (:func:`spreadsheet_safe`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from typing import Any

from ..models import ApiMetricsRow, QueueMetricsRow
from .model import NO_NAME, ReportData

#: The issue fields a report shows (a worker issue row has more).
ISSUE_FIELDS = {"id", "worker_name", "issue_type", "severity", "message", "created_at"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _with_rate(row: QueueMetricsRow | ApiMetricsRow) -> dict[str, Any]:
    return {**_plain(row.model_dump()), "error_rate": row.error_rate}


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
        "open_issues": [_plain(i.model_dump(include=ISSUE_FIELDS)) for i in data.issues],
        "hourly": {
            "queues": [_with_rate(r) for r in data.queues],
            "apis": [_with_rate(r) for r in data.apis],
            "queue_p95": [_plain(asdict(r)) for r in data.queue_latency],
        },
    }


#: First characters that make Excel, LibreOffice Calc or Google Sheets read a cell
#: as a formula (OWASP CSV injection, ASVS 1.2.10): = + - @, tab, CR, LF, NUL,
#: and their full-width forms, which some spreadsheets fold to ASCII.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20")


def spreadsheet_safe(text: str) -> str:
    """``text`` with a leading ``'`` when it would otherwise start a formula (OWASP's rule).

    The quote tells a spreadsheet "this is text" and is not shown; the rest of
    the value is kept byte for byte, so nothing a worker wrote is lost.
    """
    if text and text[0] in FORMULA_TRIGGERS:
        return "'" + text
    return text


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
    # RFC 4180 line ends: with "\n" alone the csv module would leave a bare CR
    # inside a hostile name unquoted, and that CR would split the row.
    writer = csv.DictWriter(
        out, fieldnames=CSV_COLUMNS, extrasaction="raise", lineterminator="\r\n"
    )
    writer.writeheader()
    for q in data.queues:
        writer.writerow(
            {
                "section": "queue",
                "name": spreadsheet_safe(q.queue_name or NO_NAME),
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
                "name": spreadsheet_safe(a.api_name or NO_NAME),
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
                "name": spreadsheet_safe(i.worker_name),
                "severity": i.severity.value,
                "issue_type": spreadsheet_safe(i.issue_type),
                "message": spreadsheet_safe(i.message or ""),
                "created_at": i.created_at.isoformat(),
                "id": spreadsheet_safe(i.id),
            }
        )
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)

"""Which series each report chart shows, built from :class:`ReportData`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from .model import NO_NAME, ReportData
from .svg import Series


def _series(prefix: str, items: Iterable[tuple[str, datetime, float | None]]) -> list[Series]:
    grouped: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for name, hour, value in items:
        if value is not None:
            grouped[name].append((hour, float(value)))
    return [Series(f"{prefix} {name}", sorted(grouped[name])) for name in sorted(grouped)]


def throughput_series(data: ReportData) -> list[Series]:
    """Messages processed per hour per queue, and calls per hour per API."""
    queues = ((r.queue_name or NO_NAME, r.hour, r.total_messages_processed) for r in data.queues)
    apis = ((r.api_name or NO_NAME, r.hour, r.total_calls) for r in data.apis)
    return _series("queue", queues) + _series("api", apis)


def error_rate_series(data: ReportData) -> list[Series]:
    """Hourly error rate (fraction) per queue and per API."""
    queues = ((r.queue_name or NO_NAME, r.hour, r.error_rate) for r in data.queues)
    apis = ((r.api_name or NO_NAME, r.hour, r.error_rate) for r in data.apis)
    return _series("queue", queues) + _series("api", apis)


def latency_series(data: ReportData) -> list[Series]:
    """Hourly p95 in ms: API call time (view) and queue batch time (rollups)."""
    apis = ((r.api_name or NO_NAME, r.hour, r.p95_time_ms) for r in data.apis)
    return _series("api", apis) + _series(
        "queue", ((r.name, r.hour, r.p95_ms) for r in data.queue_latency)
    )

"""Gather :class:`ReportData` through the SDK's read API (views, rollups, issues, health)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import InvalidInputError, MonitoringError
from ..models import HealthStatus
from .model import LatencyHour, ReportData

if TYPE_CHECKING:
    from .._client import MonitoringClient

logger = logging.getLogger("supabase_monitoring.report")

#: The hourly views keep 7 days of data.
MAX_HOURS = 7 * 24
ROW_LIMIT = 10_000


def report_window(hours: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(since, now): ``since`` is the start of the hour ``hours - 1`` hours ago, so N
    hourly buckets are shown including the current one."""
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_HOURS:
        raise InvalidInputError(
            f"hours must be an integer from 1 to {MAX_HOURS} (the views keep 7 days)"
        )
    now = now or datetime.now(UTC)
    current = now.replace(minute=0, second=0, microsecond=0)
    return current - timedelta(hours=hours - 1), now


def collect_report(
    client: MonitoringClient, hours: int = 24, now: datetime | None = None
) -> ReportData:
    """Read everything a report shows. View failures raise: an empty report would lie.

    Health and rollups are best effort: their failure becomes a warning in the report.
    """
    since, now = report_window(hours, now)
    warnings: list[str] = []
    health = client.get_system_health(raise_on_error=False)
    if health.overall_status is HealthStatus.UNKNOWN:
        warnings.append(f"health check failed: {health.error}")
    queues = client.get_queue_metrics(since=since, limit=ROW_LIMIT)
    apis = client.get_api_metrics(since=since, limit=ROW_LIMIT)
    for name, count in (("queue", len(queues)), ("API", len(apis))):
        if count >= ROW_LIMIT:
            warnings.append(f"{name} rows truncated at {ROW_LIMIT}")
    latency: list[LatencyHour] = []
    try:
        for agg in client.get_aggregated_metrics(
            "queue_processing", period="hourly", since=since, limit=ROW_LIMIT
        ):
            queue = agg.dimensions.get("queue")
            if isinstance(queue, str) and agg.p95_value is not None:
                latency.append(LatencyHour(queue, agg.period_start, agg.p95_value))
    except MonitoringError as exc:
        warnings.append(f"hourly rollups unavailable: {exc}")
    issues = client.list_open_worker_issues(limit=500)
    return ReportData(
        generated_at=now,
        since=since,
        hours=hours,
        queues=queues,
        apis=apis,
        issues=issues,
        queue_latency=_merge_latency(latency),
        overall_status=health.overall_status.value,
        warnings=tuple(warnings),
    )


def _merge_latency(rows: list[LatencyHour]) -> list[LatencyHour]:
    """Rollups group by every string tag; a queue with several tag sets gets its worst p95."""
    worst: dict[tuple[str, datetime], float] = {}
    for r in rows:
        key = (r.name, r.hour)
        worst[key] = max(worst.get(key, r.p95_ms), r.p95_ms)
    return [LatencyHour(n, h, v) for (n, h), v in sorted(worst.items())]

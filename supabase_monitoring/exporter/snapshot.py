"""One read of everything the exporter exposes; each source fails on its own.

An unreachable API must not turn ``/metrics`` into an error page: the health
check then reports UNKNOWN and every other source is recorded as down
(``supabase_monitoring_source_up 0``), so Prometheus still scrapes and alerts
on the gauges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from .._tables import TableRef
from ..models import ApiMetricsRow, HealthStatus, QueueMetricsRow, SystemHealth

if TYPE_CHECKING:
    from .._client import MonitoringClient

logger = logging.getLogger("supabase_monitoring.exporter")

QUEUE_STATUS_VIEW = TableRef("public", "queue_monitoring_view")
T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """What one refresh read. ``sources`` maps each source to whether it was read."""

    taken_at: datetime
    duration_seconds: float
    window_start: datetime
    health: SystemHealth
    queue_hours: Sequence[QueueMetricsRow] = ()
    api_hours: Sequence[ApiMetricsRow] = ()
    queue_status: Sequence[dict[str, Any]] = ()
    sources: dict[str, bool] = field(default_factory=dict)


def take_snapshot(
    client: MonitoringClient,
    *,
    window: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> Snapshot:
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    # Hourly buckets overlapping the window, as the alert rules count them.
    window_start = (now - window).replace(minute=0, second=0, microsecond=0)
    sources: dict[str, bool] = {}
    health = client.get_system_health(raise_on_error=False)
    sources["health"] = health.overall_status is not HealthStatus.UNKNOWN
    queues = _read(
        sources,
        "queue_metrics",
        lambda: client.get_queue_metrics(since=window_start, limit=10_000),
    )
    apis = _read(
        sources, "api_metrics", lambda: client.get_api_metrics(since=window_start, limit=10_000)
    )
    status = _read(
        sources,
        "queue_status",
        lambda: client._retried(lambda t: t.select(QUEUE_STATUS_VIEW, limit=10_000)),
    )
    return Snapshot(
        taken_at=now,
        duration_seconds=time.perf_counter() - started,
        window_start=window_start,
        health=health,
        queue_hours=queues,
        api_hours=apis,
        queue_status=status,
        sources=sources,
    )


def _read(sources: dict[str, bool], name: str, read: Callable[[], list[T]]) -> list[T]:
    try:
        result = read()
    except Exception as exc:  # any failure: this source is down, the scrape goes on
        logger.warning("exporter: %s unavailable (%s): %s", name, type(exc).__name__, exc)
        sources[name] = False
        return []
    sources[name] = True
    return result

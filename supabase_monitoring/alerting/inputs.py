"""Gather :class:`AlertInputs` from the SDK client; a failed read makes its rules abstain."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import MonitoringError
from ..models import ApiMetricsRow, WorkerIssue
from .rules import AlertInputs

if TYPE_CHECKING:
    from .._client import MonitoringClient

logger = logging.getLogger("supabase_monitoring.alerting")


def gather_inputs(
    client: MonitoringClient,
    *,
    api_window: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> AlertInputs:
    now = now or datetime.now(UTC)
    health = client.get_system_health(raise_on_error=False)
    api_hours: list[ApiMetricsRow] | None
    try:
        since = (now - api_window).replace(minute=0, second=0, microsecond=0)
        api_hours = client.get_api_metrics(since=since, limit=10_000)
    except MonitoringError as exc:
        logger.warning("API metrics unavailable, API rules skipped: %s", exc)
        api_hours = None
    issues: list[WorkerIssue] | None
    try:
        issues = client.list_open_worker_issues(severity="critical", limit=500)
    except MonitoringError as exc:
        logger.warning("worker issues unavailable, issue rule skipped: %s", exc)
        issues = None
    return AlertInputs(health=health, evaluated_at=now, api_hours=api_hours, critical_issues=issues)

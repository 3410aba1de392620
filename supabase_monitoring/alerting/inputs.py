"""Gather :class:`AlertInputs` from the SDK client; a failed read makes its rules abstain."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from ..errors import MonitoringError
from ..report.collect import ReadClient
from ..report.model import ApiHour, OpenIssue
from .rules import AlertInputs

logger = logging.getLogger("supabase_monitoring.alerting")


def gather_inputs(
    client: ReadClient,
    *,
    api_window: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> AlertInputs:
    now = now or datetime.now(UTC)
    health = client.get_system_health(raise_on_error=False)
    api_hours: list[ApiHour] | None
    try:
        since = (now - api_window).replace(minute=0, second=0, microsecond=0)
        api_hours = [
            ApiHour.from_row(r.model_dump())
            for r in client.get_api_metrics(since=since, limit=10_000)
        ]
    except MonitoringError as exc:
        logger.warning("API metrics unavailable, API rules skipped: %s", exc)
        api_hours = None
    issues: list[OpenIssue] | None
    try:
        issues = [
            OpenIssue.from_row(i.model_dump(mode="json"))
            for i in client.list_open_worker_issues(severity="critical", limit=500)
        ]
    except MonitoringError as exc:
        logger.warning("worker issues unavailable, issue rule skipped: %s", exc)
        issues = None
    return AlertInputs(health=health, evaluated_at=now, api_hours=api_hours, critical_issues=issues)

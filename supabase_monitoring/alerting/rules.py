"""Alert rules: pure functions of one :class:`AlertInputs` snapshot.

A rule that lacks the data it needs returns ``evaluated=False``: the engine
then leaves that rule's open alerts alone instead of "resolving" them just
because the health check or a view could not be read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ..models import ApiMetricsRow, HealthStatus, SystemHealth, WorkerIssue
from .model import Alert, AlertSeverity


@dataclass(frozen=True)
class AlertInputs:
    """What the rules look at, gathered once per run.

    ``api_hours`` / ``critical_issues`` are ``None`` when they could not be read
    (as opposed to empty: nothing to report).
    """

    health: SystemHealth
    evaluated_at: datetime
    api_hours: Sequence[ApiMetricsRow] | None = None
    critical_issues: Sequence[WorkerIssue] | None = None


@dataclass(frozen=True)
class RuleResult:
    rule: str
    evaluated: bool
    alerts: Sequence[Alert] = field(default_factory=tuple)


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    def evaluate(self, inputs: AlertInputs) -> RuleResult: ...


def _status_severity(status: HealthStatus) -> AlertSeverity | None:
    if status is HealthStatus.CRITICAL:
        return AlertSeverity.CRITICAL
    if status is HealthStatus.WARNING:
        return AlertSeverity.WARNING
    return None


def _known(health: SystemHealth) -> bool:
    return health.overall_status is not HealthStatus.UNKNOWN


@dataclass(frozen=True)
class HealthUnknownRule:
    """The health check itself failed (API down, bad key, broken function)."""

    severity: AlertSeverity = AlertSeverity.CRITICAL
    name: str = "health_unknown"

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        if _known(inputs.health):
            return RuleResult(self.name, True)
        alert = Alert(
            rule=self.name,
            key=self.name,
            severity=self.severity,
            summary="System health is UNKNOWN: the health check failed",
            details={"error": inputs.health.error or "unknown error"},
        )
        return RuleResult(self.name, True, (alert,))


@dataclass(frozen=True)
class OverallStatusRule:
    """``overall_status`` is at least ``min_status`` (warning by default)."""

    min_status: AlertSeverity = AlertSeverity.WARNING
    name: str = "overall_status"

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        health = inputs.health
        if not _known(health):
            return RuleResult(self.name, False)
        severity = _status_severity(health.overall_status)
        if severity is None or severity.rank < self.min_status.rank:
            return RuleResult(self.name, True)
        details: dict[str, object] = {"overall_status": health.overall_status.value}
        for component in ("queue_health", "processing_health", "worker_health"):
            part = getattr(health, component)
            if part is not None:
                details[component] = part.status.value
        alert = Alert(
            rule=self.name,
            key=self.name,
            severity=severity,
            summary=f"System health is {health.overall_status.value.upper()}",
            details=details,
        )
        return RuleResult(self.name, True, (alert,))


@dataclass(frozen=True)
class ComponentCriticalRule:
    """Any health component (queues, processing, workers) is critical."""

    name: str = "component_critical"

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        health = inputs.health
        if not _known(health):
            return RuleResult(self.name, False)
        alerts = []
        for component in ("queue_health", "processing_health", "worker_health"):
            part = getattr(health, component)
            if part is None or part.status is not HealthStatus.CRITICAL:
                continue
            figures = {
                k: v
                for k, v in part.model_dump(mode="json").items()
                if k != "status" and not isinstance(v, (dict, list))
            }
            alerts.append(
                Alert(
                    rule=self.name,
                    key=f"{self.name}:{component}",
                    severity=AlertSeverity.CRITICAL,
                    summary=f"{component.replace('_', ' ')} is CRITICAL",
                    details={"component": component, **figures},
                )
            )
        return RuleResult(self.name, True, tuple(alerts))


def _recent_by_api(
    rows: Sequence[ApiMetricsRow], since: datetime
) -> dict[str, list[ApiMetricsRow]]:
    grouped: dict[str, list[ApiMetricsRow]] = defaultdict(list)
    for row in rows:
        # An hourly bucket counts when any part of it lies in the window.
        if row.hour + timedelta(hours=1) > since:
            grouped[row.api_name or "(none)"].append(row)
    return grouped


@dataclass(frozen=True)
class ApiErrorRateRule:
    """An API's error rate over the window exceeds a threshold.

    ``min_calls`` keeps one failure out of three calls from paging anyone.
    Buckets are the view's hours overlapping the last ``window``.
    """

    warning_above: float = 0.05
    critical_above: float | None = 0.25
    min_calls: int = 20
    window: timedelta = timedelta(hours=1)
    name: str = "api_error_rate"

    def __post_init__(self) -> None:
        if not 0 <= self.warning_above <= 1:
            raise ValueError("warning_above must be a fraction in [0, 1]")
        if self.critical_above is not None and not (self.warning_above <= self.critical_above <= 1):
            raise ValueError("critical_above must be in [warning_above, 1]")
        if self.min_calls < 1:
            raise ValueError("min_calls must be >= 1")

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        if inputs.api_hours is None:
            return RuleResult(self.name, False)
        alerts = []
        grouped = _recent_by_api(inputs.api_hours, inputs.evaluated_at - self.window)
        for api, rows in sorted(grouped.items()):
            calls = sum(r.total_calls for r in rows)
            errors = sum(r.error_count or 0 for r in rows)
            if calls < self.min_calls:
                continue
            rate = errors / calls
            if rate <= self.warning_above:
                continue
            critical = self.critical_above is not None and rate > self.critical_above
            threshold = self.critical_above if critical else self.warning_above
            alerts.append(
                Alert(
                    rule=self.name,
                    key=f"{self.name}:{api}",
                    severity=AlertSeverity.CRITICAL if critical else AlertSeverity.WARNING,
                    summary=f"API {api}: error rate {rate:.1%} over {threshold:.1%}",
                    details={
                        "api": api,
                        "error_rate": round(rate, 6),
                        "errors": errors,
                        "calls": calls,
                        "threshold": threshold,
                    },
                )
            )
        return RuleResult(self.name, True, tuple(alerts))


@dataclass(frozen=True)
class ApiLatencyRule:
    """An API's hourly p95 latency exceeds a threshold (ms).

    Percentiles cannot be merged, so the worst p95 among the window's hours
    with at least ``min_calls`` calls is compared.
    """

    warning_above_ms: float = 2000.0
    critical_above_ms: float | None = None
    min_calls: int = 20
    window: timedelta = timedelta(hours=1)
    name: str = "api_p95_latency"

    def __post_init__(self) -> None:
        if self.warning_above_ms <= 0:
            raise ValueError("warning_above_ms must be > 0")
        if self.critical_above_ms is not None and self.critical_above_ms < self.warning_above_ms:
            raise ValueError("critical_above_ms must be >= warning_above_ms")
        if self.min_calls < 1:
            raise ValueError("min_calls must be >= 1")

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        if inputs.api_hours is None:
            return RuleResult(self.name, False)
        alerts = []
        grouped = _recent_by_api(inputs.api_hours, inputs.evaluated_at - self.window)
        for api, rows in sorted(grouped.items()):
            p95s = [
                r.p95_time_ms
                for r in rows
                if r.p95_time_ms is not None and r.total_calls >= self.min_calls
            ]
            if not p95s:
                continue
            p95 = max(p95s)
            if p95 <= self.warning_above_ms:
                continue
            critical = self.critical_above_ms is not None and p95 > self.critical_above_ms
            threshold = self.critical_above_ms if critical else self.warning_above_ms
            alerts.append(
                Alert(
                    rule=self.name,
                    key=f"{self.name}:{api}",
                    severity=AlertSeverity.CRITICAL if critical else AlertSeverity.WARNING,
                    summary=f"API {api}: p95 latency {p95:,.0f} ms over {threshold:,.0f} ms",
                    details={"api": api, "p95_ms": round(p95, 3), "threshold_ms": threshold},
                )
            )
        return RuleResult(self.name, True, tuple(alerts))


@dataclass(frozen=True)
class CriticalIssuesRule:
    """Open (unresolved) worker issues of severity critical: one alert for all of them."""

    name: str = "critical_worker_issues"
    listed: int = 5

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        if inputs.critical_issues is None:
            return RuleResult(self.name, False)
        issues = [i for i in inputs.critical_issues if i.severity == "critical"]
        if not issues:
            return RuleResult(self.name, True)
        newest = sorted(issues, key=lambda i: i.created_at, reverse=True)[: self.listed]
        workers = sorted({i.worker_name for i in issues})
        alert = Alert(
            rule=self.name,
            key=self.name,
            severity=AlertSeverity.CRITICAL,
            summary=f"{len(issues)} open critical worker issue(s): {', '.join(workers)}",
            details={
                "open_critical_issues": len(issues),
                "workers": ", ".join(workers),
                "newest": [
                    {
                        "id": i.id,
                        "worker": i.worker_name,
                        "type": i.issue_type,
                        "message": i.message,
                    }
                    for i in newest
                ],
            },
        )
        return RuleResult(self.name, True, (alert,))


def default_rules() -> list[Rule]:
    """The rule set the CLI and examples use unless told otherwise."""
    return [
        HealthUnknownRule(),
        OverallStatusRule(),
        ComponentCriticalRule(),
        ApiErrorRateRule(),
        ApiLatencyRule(),
        CriticalIssuesRule(),
    ]

"""Alert rules over plain SystemHealth / view rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from report_rows import api_hour, open_issue

from supabase_monitoring.alerting.model import AlertSeverity
from supabase_monitoring.alerting.rules import (
    AlertInputs,
    ApiErrorRateRule,
    ApiLatencyRule,
    ComponentCriticalRule,
    CriticalIssuesRule,
    HealthUnknownRule,
    OverallStatusRule,
)
from supabase_monitoring.models import ApiMetricsRow, SystemHealth

NOW = datetime(2026, 11, 27, 12, 20, tzinfo=UTC)
HOUR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def health(overall: str, queue: str = "healthy", proc: str = "healthy", worker: str = "healthy"):
    doc: dict[str, Any] = {
        "overall_status": overall,
        "timestamp": NOW.isoformat(),
        "queue_health": {"status": queue, "total_stuck_messages": 12},
        "processing_health": {"status": proc, "api_error_rate": 0.5},
        "worker_health": {"status": worker, "critical_issues": 1},
    }
    return SystemHealth.model_validate(doc)


def inputs(h: SystemHealth, apis: list[ApiMetricsRow] | None = None, issues=None) -> AlertInputs:
    return AlertInputs(health=h, evaluated_at=NOW, api_hours=apis, critical_issues=issues)


def api(
    name: str, hour: datetime, calls: int, errors: int, p95: float | None = 100.0
) -> ApiMetricsRow:
    return api_hour(name, hour, calls, calls - errors, errors, 50.0, p95)


@pytest.mark.parametrize(
    ("status", "min_status", "expected"),
    [
        ("healthy", AlertSeverity.WARNING, None),
        ("warning", AlertSeverity.WARNING, AlertSeverity.WARNING),
        ("critical", AlertSeverity.WARNING, AlertSeverity.CRITICAL),
        ("warning", AlertSeverity.CRITICAL, None),
        ("critical", AlertSeverity.CRITICAL, AlertSeverity.CRITICAL),
    ],
)
def test_overall_status(
    status: str, min_status: AlertSeverity, expected: AlertSeverity | None
) -> None:
    result = OverallStatusRule(min_status=min_status).evaluate(inputs(health(status)))
    assert result.evaluated
    assert [a.severity for a in result.alerts] == ([expected] if expected else [])
    if expected:
        assert result.alerts[0].key == "overall_status"
        assert result.alerts[0].details["overall_status"] == status


def test_unknown_health_fires_only_the_unknown_rule_and_others_abstain() -> None:
    unknown = inputs(SystemHealth.unknown("connection refused"))
    fired = HealthUnknownRule().evaluate(unknown)
    assert [a.key for a in fired.alerts] == ["health_unknown"]
    assert fired.alerts[0].details["error"] == "connection refused"
    assert fired.alerts[0].severity is AlertSeverity.CRITICAL
    for rule in (OverallStatusRule(), ComponentCriticalRule()):
        assert not rule.evaluate(unknown).evaluated
    assert HealthUnknownRule().evaluate(inputs(health("healthy"))).alerts == ()


def test_component_critical_names_each_critical_component() -> None:
    result = ComponentCriticalRule().evaluate(
        inputs(health("critical", queue="critical", proc="warning", worker="critical"))
    )
    keys = [a.key for a in result.alerts]
    assert keys == ["component_critical:queue_health", "component_critical:worker_health"]
    assert result.alerts[0].details["total_stuck_messages"] == 12


def test_api_error_rate_thresholds_and_min_calls() -> None:
    rows = [
        api("stripe", HOUR, 100, 30),  # 30% -> critical
        api("geo", HOUR, 100, 10),  # 10% -> warning
        api("maps", HOUR, 100, 5),  # 5% == threshold -> fine
        api("tiny", HOUR, 5, 5),  # 100% of 5 calls: below min_calls
        api("old", HOUR - timedelta(hours=3), 100, 100),  # outside the window
    ]
    result = ApiErrorRateRule(warning_above=0.05, critical_above=0.25).evaluate(
        inputs(health("healthy"), rows)
    )
    got = {a.key: (a.severity, a.details["error_rate"]) for a in result.alerts}
    assert got == {
        "api_error_rate:geo": (AlertSeverity.WARNING, 0.1),
        "api_error_rate:stripe": (AlertSeverity.CRITICAL, 0.3),
    }


def test_api_error_rate_combines_the_hours_in_the_window() -> None:
    rows = [api("stripe", HOUR - timedelta(hours=1), 60, 0), api("stripe", HOUR, 40, 8)]
    (alert,) = ApiErrorRateRule(min_calls=50).evaluate(inputs(health("healthy"), rows)).alerts
    assert alert.details["calls"] == 100
    assert alert.details["errors"] == 8


def test_api_rules_abstain_without_data_but_resolve_on_empty_data() -> None:
    assert not ApiErrorRateRule().evaluate(inputs(health("healthy"), None)).evaluated
    assert not ApiLatencyRule().evaluate(inputs(health("healthy"), None)).evaluated
    empty = ApiLatencyRule().evaluate(inputs(health("healthy"), []))
    assert empty.evaluated
    assert empty.alerts == ()


def test_api_latency_uses_the_worst_qualifying_hour() -> None:
    rows = [
        api("stripe", HOUR - timedelta(hours=1), 50, 0, p95=2500.0),
        api("stripe", HOUR, 50, 0, p95=900.0),
        api("geo", HOUR, 3, 0, p95=99999.0),  # too few calls to trust the p95
        api("maps", HOUR, 50, 0, p95=None),
    ]
    rule = ApiLatencyRule(warning_above_ms=2000, critical_above_ms=5000)
    (alert,) = rule.evaluate(inputs(health("healthy"), rows)).alerts
    assert alert.key == "api_p95_latency:stripe"
    assert alert.severity is AlertSeverity.WARNING
    assert alert.details["p95_ms"] == 2500.0


def test_critical_issues_one_alert_for_all() -> None:
    issues = [
        open_issue(str(i), f"worker-{i % 2}", "stuck", "critical", "m", NOW - timedelta(minutes=i))
        for i in range(7)
    ]
    (alert,) = CriticalIssuesRule().evaluate(inputs(health("critical"), issues=issues)).alerts
    assert alert.details["open_critical_issues"] == 7
    assert alert.details["workers"] == "worker-0, worker-1"
    assert [n["id"] for n in alert.details["newest"]] == ["0", "1", "2", "3", "4"]
    assert CriticalIssuesRule().evaluate(inputs(health("healthy"), issues=[])).alerts == ()
    assert not CriticalIssuesRule().evaluate(inputs(health("healthy"), issues=None)).evaluated


@pytest.mark.parametrize(
    "make",
    [
        lambda: ApiErrorRateRule(warning_above=1.5),
        lambda: ApiErrorRateRule(warning_above=0.3, critical_above=0.2),
        lambda: ApiErrorRateRule(min_calls=0),
        lambda: ApiLatencyRule(warning_above_ms=0),
        lambda: ApiLatencyRule(warning_above_ms=100, critical_above_ms=50),
    ],
)
def test_bad_thresholds_are_rejected(make: Any) -> None:
    with pytest.raises(ValueError, match="must be"):
        make()

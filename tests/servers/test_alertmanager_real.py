"""The Alertmanager notifier against a real Alertmanager (started here, on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemons import Daemon, start_alertmanager, wait_until

from supabase_monitoring.alerting.alertmanager import AlertmanagerNotifier
from supabase_monitoring.alerting.delivery import DeliveryRetry
from supabase_monitoring.alerting.engine import AlertEngine
from supabase_monitoring.alerting.model import Alert, AlertSeverity
from supabase_monitoring.alerting.rules import AlertInputs, RuleResult
from supabase_monitoring.alerting.state import MemoryAlertStore
from supabase_monitoring.models import SystemHealth


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Daemon]:
    daemon = start_alertmanager(tmp_path)
    yield daemon
    daemon.stop()


@dataclass
class Apis:
    """A rule whose firing APIs the test sets."""

    failing: dict[str, AlertSeverity] = field(default_factory=dict)
    name: str = "api_error_rate"

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        alerts = tuple(
            Alert(
                self.name,
                f"{self.name}:{api}",
                severity,
                f"API {api}: error rate over threshold",
                {"api": api, "error_rate": 0.5, "calls": 40},
            )
            for api, severity in sorted(self.failing.items())
        )
        return RuleResult(self.name, True, alerts)


def _active(am: Daemon) -> dict[str, dict[str, object]]:
    return {a["labels"]["key"]: a for a in am.get("/api/v2/alerts")}


def test_alerts_show_group_refresh_and_resolve(alertmanager: Daemon) -> None:
    rule = Apis({"stripe": AlertSeverity.WARNING, "s3": AlertSeverity.CRITICAL})
    notifier = AlertmanagerNotifier(
        alertmanager.base_url,
        lease=timedelta(minutes=5),
        generator_url="http://dashboards.example/supabase",
    )
    engine = AlertEngine(
        [rule],
        [notifier],
        MemoryAlertStore(),
        cooldown=timedelta(hours=1),
        retry=DeliveryRetry(attempts=2, base_delay=0.1),
    )
    health = SystemHealth.unknown("not used")

    # Real time throughout: Alertmanager compares endsAt with its own clock.
    def run() -> datetime:
        now = datetime.now(UTC)
        result = engine.run_once(AlertInputs(health, now))
        assert result.failed_deliveries == 0
        return now

    t0 = run()
    alerts = wait_until(lambda: len(_active(alertmanager)) == 2 and _active(alertmanager))
    stripe = alerts["api_error_rate:stripe"]
    assert stripe["labels"] == {
        "alertname": "api_error_rate",
        "rule": "api_error_rate",
        "key": "api_error_rate:stripe",
        "severity": "warning",
        "api": "stripe",
    }
    assert stripe["annotations"]["summary"] == "API stripe: error rate over threshold"
    assert stripe["annotations"]["error_rate"] == "0.5"
    assert stripe["generatorURL"] == "http://dashboards.example/supabase"
    assert stripe["status"]["state"] == "active"
    assert _parse(stripe["startsAt"]) == _ms(t0)
    assert _parse(stripe["endsAt"]) == _ms(t0 + timedelta(minutes=5))

    groups = alertmanager.get("/api/v2/alerts/groups")
    assert [g["labels"] for g in groups] == [{"alertname": "api_error_rate"}]
    assert sorted(a["labels"]["key"] for a in groups[0]["alerts"]) == [
        "api_error_rate:s3",
        "api_error_rate:stripe",
    ]

    # Within the cooldown nothing is notified, but Alertmanager gets the
    # still-firing alerts again, with their lease pushed forward.
    t1 = run()
    assert t1 > t0
    wait_until(
        lambda: (
            _parse(_active(alertmanager)["api_error_rate:stripe"]["endsAt"])
            == _ms(t1 + timedelta(minutes=5))
        ),
        what="the refreshed endsAt",
    )
    assert _parse(_active(alertmanager)["api_error_rate:stripe"]["startsAt"]) == _ms(t0)

    del rule.failing["stripe"]
    run()
    # A resolved alert (endsAt now, in the past) leaves the active list.
    remaining = wait_until(
        lambda: list(_active(alertmanager)) == ["api_error_rate:s3"], what="stripe resolved"
    )
    assert remaining


def test_severity_change_resolves_the_old_severity(alertmanager: Daemon) -> None:
    rule = Apis({"stripe": AlertSeverity.WARNING})
    engine = AlertEngine(
        [rule],
        [AlertmanagerNotifier(alertmanager.base_url)],
        MemoryAlertStore(),
        retry=DeliveryRetry(attempts=1, base_delay=0),
    )
    health = SystemHealth.unknown("not used")
    engine.run_once(AlertInputs(health, datetime.now(UTC)))
    wait_until(lambda: _severities(alertmanager) == ["warning"], what="warning alert")
    rule.failing["stripe"] = AlertSeverity.CRITICAL
    engine.run_once(AlertInputs(health, datetime.now(UTC)))
    wait_until(lambda: _severities(alertmanager) == ["critical"], what="only critical left")


def _severities(am: Daemon) -> list[str]:
    return sorted(str(a["labels"]["severity"]) for a in am.get("/api/v2/alerts"))


def _parse(text: object) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _ms(moment: datetime) -> datetime:
    """Alertmanager keeps milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

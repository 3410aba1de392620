"""The spec's ``checkSystemHealth`` -> ``sendAlert``, in Python, then the full engine.

    python examples/alerting.py --webhook http://127.0.0.1:9000/alerts

Part 1 is the spec's function as written: read health, alert when critical,
answer ``unknown`` when the check fails. It alerts on every call; part 2 is
what to run from cron or a loop: the alert engine, whose state lives in
``public.monitoring_events`` so reruns and parallel runs do not repeat alerts.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

from supabase_monitoring import HealthStatus, MonitoringClient, SystemHealth
from supabase_monitoring.alerting import (
    Alert,
    AlertEngine,
    AlertSeverity,
    JsonWebhookNotifier,
    LogNotifier,
    Notification,
    Notifier,
    PostgrestAlertStore,
    Transition,
    default_rules,
    deliver,
    gather_inputs,
)

logger = logging.getLogger("alerting_example")


def send_alert(message: str, health: SystemHealth, notifiers: list[Notifier]) -> bool:
    """The spec's sendAlert: one notification, retried per notifier; True if all got it."""
    alert = Alert(
        rule="example",
        key="example:system_health",
        severity=AlertSeverity.CRITICAL,
        summary=message,
        details={"overall_status": health.overall_status.value},
    )
    note = Notification(Transition.FIRED, alert, "example", datetime.now(UTC))
    return all(o.delivered for o in deliver(note, notifiers))


def check_system_health(client: MonitoringClient, notifiers: list[Notifier]) -> SystemHealth:
    """The spec's checkSystemHealth: never raises; status ``unknown`` when the check fails."""
    health = client.get_system_health()  # returns UNKNOWN + error instead of raising
    logger.info("System health: %s", health.overall_status.value)
    if health.overall_status is HealthStatus.CRITICAL:
        send_alert("System health is CRITICAL!", health, notifiers)
    return health


def main() -> int:
    parser = argparse.ArgumentParser(description="checkSystemHealth -> sendAlert")
    parser.add_argument("--webhook", help="JSON webhook URL to notify (default: log only)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    notifiers: list[Notifier] = [LogNotifier()]
    if args.webhook:
        notifiers.append(JsonWebhookNotifier(args.webhook))

    with MonitoringClient.from_env() as client:
        # Part 1: the spec's function.
        health = check_system_health(client, notifiers)
        print(f"checkSystemHealth -> {health.overall_status.value}")

        # Part 2: deduplicated alerting with resolution notices.
        store = PostgrestAlertStore.from_client(client)
        engine = AlertEngine(default_rules(), notifiers, store)
        result = engine.run_once(gather_inputs(client))
    for alert in result.active:
        print(f"active: {alert.severity.value:<8} {alert.key}")
    for sent in result.sent:
        print(f"sent:   {sent.notification.transition.value:<8} {sent.notification.alert.key}")
    print(f"deduplicated (already notified): {result.suppressed or 'none'}")
    return 1 if result.failed_deliveries else 0


if __name__ == "__main__":
    raise SystemExit(main())

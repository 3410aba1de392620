"""The whole system in one run (``make demo``, after the stack is up and deployed).

1. a simulated pipeline worker runs for a short while (plus a few back-dated hours),
2. aggregation runs now,
3. health and the report are printed,
4. the HTML / JSON / CSV reports are written to ./out/,
5. the alert engine delivers to a webhook receiver this script starts on 127.0.0.1,
6. and it prints where each result is.

DEMO_SECONDS (default 15) sets how long the worker runs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_reports
from simulated_worker import Summary, run_simulation

from supabase_monitoring import HealthStatus, MonitoringClient, MonitoringError
from supabase_monitoring.alerting import (
    Alert,
    AlertEngine,
    AlertSeverity,
    JsonWebhookNotifier,
    LogNotifier,
    Notification,
    PostgrestAlertStore,
    Transition,
    WebhookReceiver,
    default_rules,
    deliver,
    gather_inputs,
)
from supabase_monitoring.cli.health import render_health
from supabase_monitoring.report import render_text
from supabase_monitoring.report.collect import collect_report

OUT = Path("out")


def step(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)), flush=True)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("supabase_monitoring.alerting").setLevel(logging.INFO)
    seconds = float(os.environ.get("DEMO_SECONDS", "15"))
    try:
        client = MonitoringClient.from_env(strict=True)
    except MonitoringError as exc:
        print(
            f"demo: cannot connect: {exc} (is the stack up? `make stack deploy`)", file=sys.stderr
        )
        return 1
    try:
        return run(client, seconds)
    except MonitoringError as exc:
        print(f"demo: failed: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()


def run(client: MonitoringClient, seconds: float) -> int:
    step(f"1. Simulated pipeline worker ({seconds:.0f} s, plus 6 back-dated hours)")

    def tick(s: Summary) -> None:
        print(
            f"  {s.batches:5d} batches  {s.messages:6d} messages  "
            f"{s.api_calls:5d} API calls ({s.api_errors} failed)  {s.snapshots} queue snapshots",
            flush=True,
        )

    summary = run_simulation(client, seconds, history_hours=6, on_tick=tick)
    print(f"  label-sync got stuck; critical issue logged: {', '.join(summary.issues) or 'none'}")

    step("2. Aggregation (monitoring.aggregate_metrics)")
    for period in ("hourly", "daily", "weekly"):
        print(f"  {period:<7} {client.aggregate_metrics(period)} rollup rows written")

    step("3. System health (get_system_health)")
    health = client.get_system_health()
    print(render_health(health), end="")

    step("4. Report: last 8 hours")
    print(render_text(collect_report(client, 8)), end="")
    paths = write_reports(client, 8, OUT)

    step("5. Alerting: rules -> engine -> local webhook receiver")
    with WebhookReceiver() as receiver:
        hook = JsonWebhookNotifier(receiver.url("/alerts"))
        # A short cooldown so that re-running the demo sends reminders instead of
        # staying silent (already-firing alerts are deduplicated within it).
        engine = AlertEngine(
            default_rules(),
            [LogNotifier(), hook],
            PostgrestAlertStore.from_client(client),
            cooldown=timedelta(seconds=30),
        )
        result = engine.run_once(gather_inputs(client))
        if not result.sent:
            # Everything active was notified moments ago (by an earlier run or
            # another alerting process): show the channel working anyway.
            print("  all active alerts were already notified; sending a test notification")
            test = Alert(
                "demo", "demo:test", AlertSeverity.WARNING, "supabase-monitoring demo test"
            )
            deliver(
                Notification(Transition.FIRED, test, "demo-test", datetime.now(UTC)),
                [hook],
            )
        hook.close()
        received = receiver.requests
    for alert in result.active:
        print(f"  active     {alert.severity.value:<8} {alert.key}: {alert.summary}")
    for sent in result.sent:
        state = "delivered" if sent.delivered else "NOT delivered"
        n = sent.notification
        print(f"  notified   {n.transition.value:<8} {n.alert.key} ({state})")
    for key in result.suppressed:
        print(f"  deduped    {key} (notified less than 30 s ago)")
    webhook_file = OUT / "alert-webhook.json"
    webhook_file.write_text(json.dumps([r.json() for r in received], indent=2), encoding="utf-8")
    print(f"  webhook receiver {receiver.url('/alerts')} got {len(received)} POST(s)")

    step("Where everything is")
    for kind, path in paths.items():
        print(f"  {kind + ' report':<12} {path.resolve()}")
    print(f"  {'webhook':<12} {webhook_file.resolve()}  (what the receiver got)")
    print("  alert state  public.monitoring_events (event_type alert_fired / alert_resolved)")
    print(
        "  try          .venv/bin/supabase-monitoring health | report --html out/r.html | "
        "issues list | alert"
    )
    ok = health.overall_status is not HealthStatus.UNKNOWN and len(received) >= 1
    if not ok:
        print(
            "demo: expected a known health status and at least one delivered alert", file=sys.stderr
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

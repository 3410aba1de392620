"""``alert``: evaluate the alert rules once, or every N seconds until SIGTERM/SIGINT.

Notifiers come from flags or the environment (SUPABASE_MONITORING_SLACK_WEBHOOK_URL,
SUPABASE_MONITORING_WEBHOOK_URL, SUPABASE_MONITORING_WEBHOOK_SECRET), so no
secret has to appear on a command line. Alert state lives in
``public.monitoring_events`` through the shared client's connection and retries.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType
from typing import Any, TextIO

from ..alerting.delivery import DeliveryRetry
from ..alerting.engine import AlertEngine, RunResult
from ..alerting.inputs import gather_inputs
from ..alerting.model import AlertSeverity
from ..alerting.notifiers import JsonWebhookNotifier, LogNotifier, Notifier, SlackWebhookNotifier
from ..alerting.rules import (
    ApiErrorRateRule,
    ApiLatencyRule,
    ComponentCriticalRule,
    CriticalIssuesRule,
    HealthUnknownRule,
    OverallStatusRule,
    Rule,
)
from ..alerting.store import PostgrestAlertStore
from .config import CliError, Connection, fraction, positive_float, positive_int

SLACK_ENV = "SUPABASE_MONITORING_SLACK_WEBHOOK_URL"
WEBHOOK_ENV = "SUPABASE_MONITORING_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "SUPABASE_MONITORING_WEBHOOK_SECRET"  # noqa: S105 (a variable name)


def register(sub: Any) -> None:
    """Add the ``alert`` command to the parser's subcommands."""
    p = sub.add_parser("alert", help="evaluate the alert rules once, or keep watching")
    p.add_argument("--watch", type=positive_float, metavar="SECONDS", help="repeat every SECONDS")
    p.add_argument(
        "--slack-webhook", metavar="URL", help=f"Slack-compatible webhook (or ${SLACK_ENV})"
    )
    p.add_argument("--webhook", metavar="URL", help=f"generic JSON webhook (or ${WEBHOOK_ENV})")
    p.add_argument(
        "--cooldown-minutes",
        type=positive_float,
        default=60.0,
        help="re-notify a still-firing alert after this long (default 60)",
    )
    p.add_argument(
        "--min-status",
        choices=["warning", "critical"],
        default="warning",
        help="overall status that alerts (default warning)",
    )
    p.add_argument(
        "--error-rate",
        type=fraction,
        default=0.05,
        help="API error-rate threshold as a fraction (default 0.05)",
    )
    p.add_argument(
        "--p95-ms",
        type=positive_float,
        default=2000.0,
        help="API p95 latency threshold in ms (default 2000)",
    )
    p.add_argument(
        "--min-calls",
        type=positive_int,
        default=20,
        help="calls an API needs in the window before its rules apply (default 20)",
    )
    p.add_argument(
        "--window-minutes",
        type=positive_int,
        default=60,
        help="look-back window of the API rules (default 60)",
    )
    p.add_argument("--json", action="store_true", help="print each run's summary as JSON")
    p.set_defaults(run=run)


def _notifiers(args: argparse.Namespace) -> list[Notifier]:
    notifiers: list[Notifier] = [LogNotifier(logging.getLogger("supabase_monitoring.alerts"))]
    slack = args.slack_webhook or os.environ.get(SLACK_ENV, "").strip()
    hook = args.webhook or os.environ.get(WEBHOOK_ENV, "").strip()
    try:
        if slack:
            notifiers.append(SlackWebhookNotifier(slack))
        if hook:
            secret = os.environ.get(WEBHOOK_SECRET_ENV, "").strip() or None
            notifiers.append(JsonWebhookNotifier(hook, secret=secret))
    except ValueError as exc:
        raise CliError(f"bad webhook URL: {exc}", 2) from None
    return notifiers


def alert_rules(args: argparse.Namespace) -> list[Rule]:
    """The rules, tuned by the command's flags."""
    window = timedelta(minutes=args.window_minutes)
    return [
        HealthUnknownRule(),
        OverallStatusRule(min_status=AlertSeverity(args.min_status)),
        ComponentCriticalRule(),
        ApiErrorRateRule(
            warning_above=args.error_rate,
            critical_above=max(args.error_rate, min(1.0, args.error_rate * 5)),
            min_calls=args.min_calls,
            window=window,
        ),
        ApiLatencyRule(warning_above_ms=args.p95_ms, min_calls=args.min_calls, window=window),
        CriticalIssuesRule(),
    ]


def _summary(result: RunResult) -> dict[str, Any]:
    return {
        "active": [
            {"key": a.key, "severity": a.severity.value, "summary": a.summary}
            for a in result.active
        ],
        "sent": [
            {
                "key": s.notification.alert.key,
                "transition": s.notification.transition.value,
                "delivered": s.delivered,
                "outcomes": [o.__dict__ for o in s.outcomes],
            }
            for s in result.sent
        ],
        "deduplicated": result.suppressed,
        "handled_elsewhere": result.lost_claims,
        "skipped_rules": result.skipped_rules,
        "store_error": result.store_error,
    }


def _print_summary(result: RunResult, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(_summary(result)) + "\n")
        out.flush()
        return
    if not result.active:
        out.write("No alert conditions.\n")
    for alert in result.active:
        out.write(f"ACTIVE  {alert.severity.value:<8} {alert.key}: {alert.summary}\n")
    for sent in result.sent:
        state = "delivered" if sent.delivered else "DELIVERY FAILED"
        n = sent.notification
        out.write(f"SENT    {n.transition.value:<8} {n.alert.key} ({state})\n")
    out.flush()


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """One evaluation, or a loop until a termination signal; 1 if a run lost a delivery or state."""
    engine = AlertEngine(
        alert_rules(args),
        _notifiers(args),
        PostgrestAlertStore.from_client(conn.client, retry=conn.retry),
        cooldown=timedelta(minutes=args.cooldown_minutes),
        retry=DeliveryRetry(attempts=3, base_delay=1.0),
    )
    window = timedelta(minutes=args.window_minutes)

    def once() -> int:
        result = engine.run_once(gather_inputs(conn.client, api_window=window))
        _print_summary(result, args.json, out)
        return 1 if result.failed_deliveries or result.store_error else 0

    if args.watch is None:
        return once()
    stop = threading.Event()
    _on_termination(stop.set)
    code = 0
    while not stop.is_set():
        code = once()
        stop.wait(args.watch)
    return code


def _on_termination(callback: Callable[[], None]) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        callback()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

"""``alert``: evaluate the alert rules once, or every N seconds until SIGTERM/SIGINT;
``alert silence`` / ``alert history`` (:mod:`.alert_silence`, :mod:`.alert_history`).

Rules, notifiers, routes and cooldowns come from ``--config FILE`` (TOML, see
examples/alerts.toml) or from the flags and the environment
(SUPABASE_MONITORING_SLACK_WEBHOOK_URL, SUPABASE_MONITORING_WEBHOOK_URL,
SUPABASE_MONITORING_WEBHOOK_SECRET, SUPABASE_MONITORING_ALERTMANAGER_URL,
SUPABASE_MONITORING_PAGERDUTY_ROUTING_KEY), so no secret has to appear on a
command line. Both ways get the database silences and flapping suppression (the
file can turn either off). ``--check-config`` validates the file without any
connection. Alert state lives in ``public.monitoring_events`` through the
shared client's connection and retries.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from ..alerting.alertmanager import AlertmanagerNotifier
from ..alerting.config import AlertConfig, ConfigError, load_config
from ..alerting.delivery import DeliveryRetry
from ..alerting.engine import AlertEngine, RunResult
from ..alerting.flapping import FlappingGate
from ..alerting.holds import Gate
from ..alerting.inputs import gather_inputs
from ..alerting.model import AlertSeverity
from ..alerting.notifiers import JsonWebhookNotifier, LogNotifier, Notifier, SlackWebhookNotifier
from ..alerting.pagerduty import ROUTING_KEY_ENV, PagerDutyNotifier
from ..alerting.rules import (
    ApiErrorRateRule,
    ApiLatencyRule,
    ComponentCriticalRule,
    CriticalIssuesRule,
    HealthUnknownRule,
    OverallStatusRule,
    Rule,
)
from ..alerting.silences import SilenceGate, SilenceStore
from ..alerting.store import PostgrestAlertStore
from . import alert_history, alert_silence
from .config import CliError, Connection, fraction, on_termination, positive_float, positive_int

SLACK_ENV = "SUPABASE_MONITORING_SLACK_WEBHOOK_URL"
WEBHOOK_ENV = "SUPABASE_MONITORING_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "SUPABASE_MONITORING_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
ALERTMANAGER_ENV = "SUPABASE_MONITORING_ALERTMANAGER_URL"


class _CheckConfig(argparse.Action):
    """``--check-config``: also marks the run as needing no connection."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True)
        namespace.needs_api = False


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
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="rules, notifiers, routes and cooldowns from a TOML file "
        "(see examples/alerts.toml); replaces the rule and notifier flags",
    )
    p.add_argument(
        "--check-config",
        action=_CheckConfig,
        nargs=0,
        default=False,
        help="validate --config and exit (0: valid); needs no connection",
    )
    p.add_argument(
        "--alertmanager",
        metavar="URL",
        help=f"also send to this Alertmanager, e.g. http://127.0.0.1:9093 (or ${ALERTMANAGER_ENV})",
    )
    actions = p.add_subparsers(dest="alert_command", metavar="ACTION")
    alert_silence.register(actions)
    alert_history.register(actions)
    p.set_defaults(run=run)


def _notifiers(args: argparse.Namespace) -> list[Notifier]:
    """The flags' notifiers: the log, the webhooks, Alertmanager and PagerDuty."""
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
    return [*notifiers, *_stateful_notifiers(args)]


def _stateful_notifiers(args: argparse.Namespace) -> list[Notifier]:
    """Alertmanager from --alertmanager / its variable, PagerDuty when its key is set."""
    notifiers: list[Notifier] = []
    url = args.alertmanager or os.environ.get(ALERTMANAGER_ENV, "").strip()
    routing_key = os.environ.get(ROUTING_KEY_ENV, "").strip()
    try:
        if url:
            # Alertmanager must hear again before the lease ends: a few runs' worth.
            lease = timedelta(seconds=max(300.0, 3 * (args.watch or 0)))
            notifiers.append(AlertmanagerNotifier(url, lease=lease))
        if routing_key:
            notifiers.append(PagerDutyNotifier(routing_key))
    except ValueError as exc:
        raise CliError(f"bad notifier setting: {exc}", 2) from None
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
        "held": [{"key": key, "hold": kind} for key, kind in result.held],
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
    for key, kind in result.held:
        out.write(f"HELD    {kind.removeprefix('alert_'):<8} {key}\n")
    out.flush()


def check_config(args: argparse.Namespace, out: TextIO) -> int:
    """``--check-config``: 0 and a summary when valid, 2 and every problem when not."""
    if args.config is None:
        raise CliError("--check-config needs --config FILE", 2)
    config = _load(args.config)
    out.write(
        f"{args.config}: OK: {len(config.rules)} rule(s) "
        f"({', '.join(r.name for r in config.rules)}), "
        f"{len(config.notifiers)} notifier(s) ({', '.join(config.notifiers)}), "
        f"{len(config.routes)} route(s)\n"
    )
    config.close()
    return 0


def _load(path: Path) -> AlertConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None


def build_engine(args: argparse.Namespace, conn: Connection) -> tuple[AlertEngine, timedelta]:
    """The engine and the API rules' window, from ``--config`` or from the flags."""
    store = PostgrestAlertStore.from_client(conn.client, retry=conn.retry)
    silences = SilenceGate(SilenceStore(conn.transport, retry=conn.retry))
    retry = DeliveryRetry(attempts=3, base_delay=1.0)
    if args.config is not None:
        config = _load(args.config)
        gates: list[Gate] = [silences] if config.silences else []
        if config.flapping is not None:
            gates.append(config.flapping)
        engine = AlertEngine(
            config.rules,
            list(config.notifiers.values()),
            store,
            cooldown=config.cooldown,
            cooldowns=config.cooldowns,
            retry=retry,
            gates=gates,
            router=config.route,
        )
        return engine, config.api_window
    engine = AlertEngine(
        alert_rules(args),
        _notifiers(args),
        store,
        cooldown=timedelta(minutes=args.cooldown_minutes),
        retry=retry,
        gates=[silences, FlappingGate()],
    )
    return engine, timedelta(minutes=args.window_minutes)


def run(args: argparse.Namespace, conn: Connection | None, out: TextIO) -> int:
    """An action (silence, history), ``--check-config``, or the alerter: one evaluation,
    or a loop until a termination signal; 1 if a run lost a delivery or state."""
    if args.check_config:
        return check_config(args, out)
    if conn is None:  # only --check-config runs without a connection
        raise CliError("alert needs a connection")
    if args.alert_command == "silence":
        return alert_silence.run(args, conn, out)
    if args.alert_command == "history":
        return alert_history.run(args, conn, out)
    engine, window = build_engine(args, conn)

    def once() -> int:
        result = engine.run_once(gather_inputs(conn.client, api_window=window))
        _print_summary(result, args.json, out)
        return 1 if result.failed_deliveries or result.store_error else 0

    if args.watch is None:
        return once()
    stop = threading.Event()
    on_termination(stop.set)
    code = 0
    while not stop.is_set():
        code = once()
        stop.wait(args.watch)
    return code

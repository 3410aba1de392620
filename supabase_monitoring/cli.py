"""``supabase-monitoring``: health checks, reports, issues, aggregation and alerting.

Configuration comes from the environment (SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY,
and for alerting SUPABASE_MONITORING_SLACK_WEBHOOK_URL / SUPABASE_MONITORING_WEBHOOK_URL
/ SUPABASE_MONITORING_WEBHOOK_SECRET), so no secret has to appear on a command line.
Expected failures print one line and exit non-zero; ``health`` exits 0/1/2/3 for
healthy/warning/critical/unknown like a Nagios check.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ._cli.aggregate import Step, aggregate_once, backfill
from ._cli.connect import Connection, connect
from ._cli.errors import CliError
from ._cli.health import EXIT_CODES, render_health
from ._queries import PERIODS
from ._schema import db_install
from .alerting.delivery import RetryPolicy as DeliveryRetry
from .alerting.engine import AlertEngine, RunResult
from .alerting.inputs import gather_inputs
from .alerting.model import Severity
from .alerting.notifiers import JsonWebhookNotifier, LogNotifier, Notifier, SlackWebhookNotifier
from .alerting.rules import (
    ApiErrorRateRule,
    ApiLatencyRule,
    ComponentCriticalRule,
    CriticalIssuesRule,
    HealthUnknownRule,
    OverallStatusRule,
    Rule,
)
from .alerting.store import PostgrestAlertStore
from .errors import ConfigurationError, InvalidInputError, MonitoringError
from .models import HealthStatus
from .report import render_html, render_text, report_to_csv, report_to_dict
from .report.collect import collect_report

PROG = "supabase-monitoring"
SLACK_ENV = "SUPABASE_MONITORING_SLACK_WEBHOOK_URL"
WEBHOOK_ENV = "SUPABASE_MONITORING_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "SUPABASE_MONITORING_WEBHOOK_SECRET"  # noqa: S105 (a variable name)

logger = logging.getLogger("supabase_monitoring")


# ---------------------------------------------------------------- argument types


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], e.g. 0.05: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operate the Supabase pipeline monitoring: health, reports, issues, "
        "aggregation and alerts. Reads SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests and retries")
    parser.add_argument(
        "--timeout", type=_positive_float, default=10.0, help="seconds per request (default 10)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "health", help="system health; exit 0 healthy, 1 warning, 2 critical, 3 unknown"
    )
    p.add_argument("--json", action="store_true", help="print the health document as JSON")

    p = sub.add_parser("report", help="queue and API tables, open issues; JSON, CSV or HTML")
    p.add_argument(
        "--hours", type=_positive_int, default=24, help="hours to cover (1-168, default 24)"
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of tables")
    fmt.add_argument("--csv", action="store_true", help="print one CSV (column 'section')")
    p.add_argument(
        "--html", metavar="FILE", type=Path, help="also write a self-contained HTML report"
    )

    p = sub.add_parser("issues", help="list or resolve worker issues")
    isub = p.add_subparsers(dest="issues_command", required=True, metavar="ACTION")
    lp = isub.add_parser("list", help="open issues, newest first")
    lp.add_argument("--severity", choices=["info", "warning", "error", "critical"])
    lp.add_argument("--worker", help="only this worker")
    lp.add_argument("--type", dest="issue_type", help="only this issue type")
    lp.add_argument("--limit", type=_positive_int, default=50)
    lp.add_argument("--json", action="store_true")
    rp = isub.add_parser("resolve", help="mark an open issue resolved")
    rp.add_argument("issue_id", metavar="ID")
    rp.add_argument("--note", help="resolution details")

    p = sub.add_parser("aggregate", help="run (or back-fill) metric aggregation now")
    p.add_argument("--period", choices=[*PERIODS, "all"], default="all")
    p.add_argument(
        "--backfill",
        action="store_true",
        help="catch up from the last aggregated period in chunks, with progress",
    )
    p.add_argument(
        "--chunk-hours", type=_positive_int, default=24, help="back-fill step (default 24 h)"
    )

    p = sub.add_parser("alert", help="evaluate the alert rules once, or keep watching")
    p.add_argument("--watch", type=_positive_float, metavar="SECONDS", help="repeat every SECONDS")
    p.add_argument(
        "--slack-webhook", metavar="URL", help=f"Slack-compatible webhook (or ${SLACK_ENV})"
    )
    p.add_argument("--webhook", metavar="URL", help=f"generic JSON webhook (or ${WEBHOOK_ENV})")
    p.add_argument(
        "--cooldown-minutes",
        type=_positive_float,
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
        type=_fraction,
        default=0.05,
        help="API error-rate threshold as a fraction (default 0.05)",
    )
    p.add_argument(
        "--p95-ms",
        type=_positive_float,
        default=2000.0,
        help="API p95 latency threshold in ms (default 2000)",
    )
    p.add_argument(
        "--min-calls",
        type=_positive_int,
        default=20,
        help="calls an API needs in the window before its rules apply (default 20)",
    )
    p.add_argument(
        "--window-minutes",
        type=_positive_int,
        default=60,
        help="look-back window of the API rules (default 60)",
    )
    p.add_argument("--json", action="store_true", help="print each run's summary as JSON")

    p = sub.add_parser("db", help="the monitoring schema in your Supabase project")
    dp = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    ip = dp.add_parser("install", help="add this release's migrations to PROJECT_DIR/supabase/")
    ip.add_argument("project_dir", nargs="?", type=Path, default=Path(), metavar="PROJECT_DIR")
    ip.add_argument("--check", action="store_true", help="exit 1 unless all are installed")
    return parser


# ---------------------------------------------------------------- commands


def cmd_health(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    health = conn.client.get_system_health(raise_on_error=False)
    if args.json:
        out.write(json.dumps(health.model_dump(mode="json"), indent=2) + "\n")
    else:
        out.write(render_health(health))
    return EXIT_CODES[health.overall_status]


def cmd_report(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    try:
        data = collect_report(conn.client, args.hours)
    except InvalidInputError as exc:
        raise CliError(str(exc), 2) from None
    if args.html is not None:
        try:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(render_html(data), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {args.html}: {exc.strerror or exc}") from None
        sys.stderr.write(f"HTML report written to {args.html}\n")
    if args.json:
        out.write(json.dumps(report_to_dict(data), indent=2) + "\n")
    elif args.csv:
        out.write(report_to_csv(data))
    else:
        out.write(render_text(data))
    return 0


def cmd_issues(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    if args.issues_command == "resolve":
        closed = conn.client.resolve_worker_issue(args.issue_id, args.note)
        if not closed:
            raise CliError(f"no open issue with id {args.issue_id}")
        out.write(f"resolved {args.issue_id}\n")
        return 0
    issues = conn.client.list_open_worker_issues(
        worker_name=args.worker,
        severity=args.severity,
        issue_type=args.issue_type,
        limit=args.limit,
    )
    if args.json:
        out.write(json.dumps([i.model_dump(mode="json") for i in issues], indent=2) + "\n")
        return 0
    if not issues:
        out.write("No open issues.\n")
        return 0
    from .report.text import table

    rows = [
        [
            i.id,
            i.severity.value,
            i.worker_name,
            i.issue_type,
            f"{i.created_at:%Y-%m-%d %H:%M}",
            i.message or "",
        ]
        for i in issues
    ]
    out.write(
        table(["id", "severity", "worker", "type", "opened (UTC)", "message"], rows, 6) + "\n"
    )
    return 0


def cmd_aggregate(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    periods = PERIODS if args.period == "all" else (args.period,)

    def progress(step: Step) -> None:
        sys.stderr.write(
            f"  {step.period:<7} [{step.index}/{step.total}] "
            f"up to {step.until:%Y-%m-%d %H:%M} UTC: {step.rows} rollup rows\n"
        )
        sys.stderr.flush()

    for period in periods:
        if args.backfill:
            rows = backfill(
                conn.transport, period, chunk=timedelta(hours=args.chunk_hours), progress=progress
            )
        else:
            rows = aggregate_once(conn.transport, period)
        out.write(f"{period}: {rows} rollup rows written\n")
    return 0


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
    window = timedelta(minutes=args.window_minutes)
    return [
        HealthUnknownRule(),
        OverallStatusRule(min_status=Severity(args.min_status)),
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


def cmd_alert(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    notifiers = _notifiers(args)
    engine = AlertEngine(
        alert_rules(args),
        notifiers,
        PostgrestAlertStore(conn.transport),
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


COMMANDS: dict[str, Callable[[argparse.Namespace, Connection, TextIO], int]] = {
    "health": cmd_health,
    "report": cmd_report,
    "issues": cmd_issues,
    "aggregate": cmd_aggregate,
    "alert": cmd_alert,
}


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("supabase_monitoring")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.propagate = False
    # Alert notifications on stderr are output, not noise: always shown.
    logging.getLogger("supabase_monitoring.alerts").setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with usage on bad arguments
    _setup_logging(args.verbose)
    if args.command == "db":  # local files only: no connection
        return db_install(args.project_dir, check=args.check)
    # health is a check: any failure to run it means UNKNOWN (3), as Nagios expects.
    fail_code = EXIT_CODES[HealthStatus.UNKNOWN] if args.command == "health" else 1
    try:
        conn = connect(args.timeout)
    except CliError as exc:
        return _fail(str(exc), fail_code if exc.exit_code == 1 else exc.exit_code)
    except MonitoringError as exc:
        return _fail(f"cannot set up the client: {exc}", fail_code)
    try:
        return COMMANDS[args.command](args, conn, sys.stdout)
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except InvalidInputError as exc:
        return _fail(str(exc), 2)
    except ConfigurationError as exc:
        return _fail(str(exc), fail_code)
    except MonitoringError as exc:
        return _fail(f"request failed: {exc}", fail_code)
    except KeyboardInterrupt:
        return 130
    finally:
        conn.close()


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())

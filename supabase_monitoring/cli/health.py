"""``health``: the health document, human-readable or JSON, and a Nagios-style exit code."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ..models import HealthStatus, SystemHealth
from .config import Connection

EXIT_CODES = {
    HealthStatus.HEALTHY: 0,
    HealthStatus.WARNING: 1,
    HealthStatus.CRITICAL: 2,
    HealthStatus.UNKNOWN: 3,
}

_MARK = {
    HealthStatus.HEALTHY: "OK",
    HealthStatus.WARNING: "WARN",
    HealthStatus.CRITICAL: "CRIT",
    HealthStatus.UNKNOWN: "????",
}

_LABELS = {
    "queue_health": "Queues",
    "processing_health": "Processing",
    "worker_health": "Workers",
}


def _fmt(name: str, value: object) -> str:
    if isinstance(value, float) and name.endswith("rate"):
        return f"{value:.2%}"
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def register(sub: Any) -> None:
    """Add the ``health`` command to the parser's subcommands."""
    p = sub.add_parser(
        "health", help="system health; exit 0 healthy, 1 warning, 2 critical, 3 unknown"
    )
    p.add_argument("--json", action="store_true", help="print the health document as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """Print the health; the exit code is the status (3 when the check failed)."""
    health = conn.client.get_system_health(raise_on_error=False)
    if args.json:
        out.write(json.dumps(health.model_dump(mode="json"), indent=2) + "\n")
    else:
        out.write(render_health(health))
    return EXIT_CODES[health.overall_status]


def render_health(health: SystemHealth) -> str:
    """The health document as a few aligned lines, one per component."""
    status = health.overall_status
    lines = [f"System health: {status.value.upper()}"]
    if health.timestamp is not None:
        lines[0] += f"  (checked {health.timestamp:%Y-%m-%d %H:%M:%S %Z})"
    if health.error:
        lines.append(f"  error: {health.error}")
    for attr, label in _LABELS.items():
        part = getattr(health, attr)
        if part is None:
            continue
        figures = [
            f"{k}={_fmt(k, v)}"
            for k, v in part.model_dump(mode="json").items()
            if k != "status" and v is not None
        ]
        lines.append(f"  [{_MARK[part.status]:>4}] {label:<11} {', '.join(figures)}")
    return "\n".join(lines) + "\n"

"""Human-readable health, and the Nagios-style exit code."""

from __future__ import annotations

from ..models import HealthStatus, SystemHealth

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


def render_health(health: SystemHealth) -> str:
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

"""Plain-text tables for terminals (no dependencies, fixed-width columns)."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import QueueDepthHour
from .model import ReportData


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_cols: int = 1) -> str:
    """Left-align the first ``text_cols`` columns, right-align numbers."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = [
            c.ljust(widths[i]) if i < text_cols else c.rjust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def render_text(data: ReportData) -> str:
    status = data.overall_status or "unknown"
    out = [
        f"Pipeline report: last {data.hours} h "
        f"({data.since:%Y-%m-%d %H:%M} to {data.generated_at:%Y-%m-%d %H:%M} UTC)",
        f"Overall status: {status}",
    ]
    out.extend(f"warning: {w}" for w in data.warnings)
    queues = [
        [
            q.queue_name,
            f"{q.batches:,}",
            f"{q.messages:,}",
            f"{q.errors:,}",
            _pct(q.error_rate),
            _ms(q.avg_processing_time_ms),
        ]
        for q in data.queue_summaries()
    ]
    out += ["", "Queues"]
    out.append(
        table(["queue", "batches", "messages", "errors", "error rate", "avg ms"], queues)
        if queues
        else "(no queue metrics in this period)"
    )
    apis = [
        [
            a.api_name,
            f"{a.calls:,}",
            f"{a.errors:,}",
            _pct(a.error_rate),
            _ms(a.avg_success_time_ms),
            _ms(a.max_p95_time_ms),
        ]
        for a in data.api_summaries()
    ]
    out += ["", "APIs"]
    out.append(
        table(["api", "calls", "errors", "error rate", "avg success ms", "max p95 ms"], apis)
        if apis
        else "(no API metrics in this period)"
    )
    issues = [
        [
            i.severity.value,
            i.worker_name,
            i.issue_type,
            f"{i.created_at:%Y-%m-%d %H:%M}",
            i.message or "",
        ]
        for i in data.issues
    ]
    out += ["", "Queue depth (deepest per hour, latest hour per queue)"]
    out.append(table(*depth_table(data)) if data.queue_depth else "(no queue depth history)")
    out += ["", "Workers (heartbeats)"]
    out.append(table(*workers_table(data), 3) if data.workers else "(no worker heartbeats)")
    if data.cron_problems:
        out += ["", "pg_cron jobs with problems"]
        out.append(table(*cron_table(data), 4))
    out += ["", f"Open issues ({len(issues)})"]
    out.append(
        table(["severity", "worker", "type", "opened (UTC)", "message"], issues, text_cols=5)
        if issues
        else "(none)"
    )
    return "\n".join(out) + "\n"


Table = tuple[list[str], list[list[str]]]


def depth_table(data: ReportData) -> Table:
    """Per queue: its latest recorded hour and the deepest hour of the window."""
    latest: dict[str, QueueDepthHour] = {}
    deepest: dict[str, float] = {}
    for r in data.queue_depth:
        if r.queue_name not in latest or r.hour > latest[r.queue_name].hour:
            latest[r.queue_name] = r
        if r.max_depth is not None:
            deepest[r.queue_name] = max(deepest.get(r.queue_name, r.max_depth), r.max_depth)
    rows = [
        [
            name,
            _num(latest[name].max_depth),
            _num(latest[name].avg_depth),
            _num(latest[name].max_oldest_msg_age_sec),
            _num(deepest.get(name)),
            "yes" if latest[name].approximate else "",
        ]
        for name in sorted(latest)
    ]
    return (
        ["queue", "max depth (last h)", "avg depth", "oldest s", "max depth (window)", "approx"],
        rows,
    )


def workers_table(data: ReportData) -> Table:
    rows = [
        [
            w.worker_name,
            w.status,
            w.host,
            "" if w.pid is None else str(w.pid),
            f"{w.last_seen_at:%Y-%m-%d %H:%M:%S}",
            f"{w.seconds_since_seen:,}",
        ]
        for w in data.workers
    ]
    return (["worker", "status", "host", "pid", "last seen (UTC)", "seconds ago"], rows)


def cron_table(data: ReportData) -> Table:
    rows = [
        [
            j.jobname,
            ", ".join(j.problems),
            j.schedule or "",
            j.last_message or "",
            str(j.consecutive_failures),
            "" if j.last_run_started_at is None else f"{j.last_run_started_at:%Y-%m-%d %H:%M}",
        ]
        for j in data.cron_problems
    ]
    return (["job", "problems", "schedule", "last message", "failures in a row", "last run"], rows)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"

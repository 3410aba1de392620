"""Plain-text tables for terminals (no dependencies, fixed-width columns)."""

from __future__ import annotations

from collections.abc import Sequence

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
    out += ["", f"Open issues ({len(issues)})"]
    out.append(
        table(["severity", "worker", "type", "opened (UTC)", "message"], issues, text_cols=5)
        if issues
        else "(none)"
    )
    return "\n".join(out) + "\n"

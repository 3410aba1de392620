"""One self-contained HTML file: inline CSS, inline SVG charts, one hashed inline script.

No external URL is referenced, and the Content-Security-Policy forbids loading
any: the file works offline, from an e-mail attachment or a CI artifact.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from html import escape

from .charts import error_rate_series, latency_series, throughput_series
from .model import ReportData
from .serialize import report_to_dict
from .svg import Series, legend, line_chart

_CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;
background:#f9fafb}
body{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 4px;font-size:1.5rem}h2{font-size:1.15rem;margin:28px 0 8px}
.meta{color:#4b5563;margin:0 0 16px}
.status{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:600;color:#fff}
.status-healthy{background:#16a34a}.status-warning{background:#d97706}
.status-critical{background:#dc2626}.status-unknown{background:#6b7280}
section.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px;
margin-bottom:16px}
svg.chart{width:100%;height:auto;display:block}
svg.chart .grid line{stroke:#e5e7eb;stroke-width:1}
svg.chart text{font-size:11px;fill:#4b5563}
svg.chart polyline{stroke-width:2}
svg.chart .empty{font-size:14px}
.legend{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.legend-item{border:1px solid #d1d5db;background:#fff;border-radius:4px;padding:2px 8px;
cursor:pointer;font:inherit;font-size:.85rem}
.legend-item[aria-pressed=false]{opacity:.4}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e5e7eb;padding:6px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
td.text{text-align:left}
.warnings{color:#b45309}
"""

_SCRIPT = """
(function () {
  "use strict";
  var buttons = document.querySelectorAll(".legend-item");
  Array.prototype.forEach.call(buttons, function (btn) {
    btn.addEventListener("click", function () {
      var chart = document.getElementById("chart-" + btn.getAttribute("data-chart"));
      var on = btn.getAttribute("aria-pressed") !== "true";
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      Array.prototype.forEach.call(chart.querySelectorAll("g.series"), function (g) {
        if (g.getAttribute("data-series") === btn.getAttribute("data-series")) {
          g.style.display = on ? "" : "none";
        }
      });
    });
  });
  var data = JSON.parse(document.getElementById("report-data").textContent);
  document.documentElement.setAttribute("data-ready", String(data.hours));
})();
"""


def _script_hash() -> str:
    digest = hashlib.sha256(_SCRIPT.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_cols: int = 1) -> str:
    if not rows:
        return '<p class="meta">None.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="text"' if i < text_cols else ""
            cells.append(f"<td{cls}>{escape(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _chart_card(
    chart_id: str, title: str, series: Sequence[Series], fmt: Callable[[float], str]
) -> str:
    return (
        f'<section class="card"><h2>{escape(title)}</h2>'
        f"{line_chart(chart_id, title, series, value_format=fmt)}{legend(chart_id, series)}"
        "</section>"
    )


def _json_for_script(data: ReportData) -> str:
    # "</" would end the script element early; "<!--" could open a comment.
    text = json.dumps(report_to_dict(data), separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(data: ReportData, title: str = "Pipeline monitoring report") -> str:
    status = data.overall_status or "unknown"
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src '{_script_hash()}'; img-src data:; base-uri 'none'; form-action 'none'"
    )
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
    issues = [
        [
            i.severity.value,
            i.worker_name,
            i.issue_type,
            i.message or "",
            f"{i.created_at:%Y-%m-%d %H:%M}",
        ]
        for i in data.issues
    ]
    warnings = "".join(f"<li>{escape(w)}</li>" for w in data.warnings)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp, quote=True)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="meta">Last {data.hours} h: {data.since:%Y-%m-%d %H:%M} to '
        f"{data.generated_at:%Y-%m-%d %H:%M} UTC. Overall status: "
        f'<span class="status status-{escape(status, quote=True)}" id="overall-status">'
        f"{escape(status)}</span></p>",
        f'<ul class="warnings">{warnings}</ul>' if warnings else "",
        "</header><main>",
        _chart_card(
            "throughput",
            "Throughput (messages or calls per hour)",
            throughput_series(data),
            lambda v: f"{v:,.0f}",
        ),
        _chart_card(
            "error-rate",
            "Error rate per hour",
            error_rate_series(data),
            lambda v: f"{v * 100:.1f}%",
        ),
        _chart_card(
            "p95-latency", "p95 latency per hour (ms)", latency_series(data), lambda v: f"{v:,.0f}"
        ),
        '<section class="card"><h2>Queues</h2>',
        _table(["queue", "batches", "messages", "errors", "error rate", "avg ms"], queues),
        '</section><section class="card"><h2>APIs</h2>',
        _table(["api", "calls", "errors", "error rate", "avg success ms", "max p95 ms"], apis),
        f'</section><section class="card"><h2>Open issues ({len(data.issues)})</h2>',
        _table(["severity", "worker", "type", "message", "opened (UTC)"], issues, text_cols=4),
        "</section></main>",
        f'<script type="application/json" id="report-data">{_json_for_script(data)}</script>',
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)

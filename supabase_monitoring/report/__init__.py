"""Reports over the monitoring views: text tables, JSON, CSV and a self-contained HTML page."""

from .model import ApiHour, LatencyHour, OpenIssue, QueueHour, ReportData
from .page import render_html
from .serialize import report_to_csv, report_to_dict
from .text import render_text

__all__ = [
    "ApiHour",
    "LatencyHour",
    "OpenIssue",
    "QueueHour",
    "ReportData",
    "render_html",
    "render_text",
    "report_to_csv",
    "report_to_dict",
]

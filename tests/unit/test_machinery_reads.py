"""The machinery checks on the Python side, without a stack: the health document's
new parts (cron_health, heartbeat keys), the alert rules over them and over the
queue depth trend, and how health, ``workers list`` and the report show them
(hostile names included)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx
from sdk_support import KEY, URL, api, health_document, sync_client

from supabase_monitoring.alerting.model import AlertSeverity
from supabase_monitoring.alerting.rules import (
    AlertInputs,
    ComponentCriticalRule,
    QueueGrowingRule,
    QueueOldestMessageRule,
    WorkerSilentRule,
    default_rules,
)
from supabase_monitoring.cli import main
from supabase_monitoring.models import (
    HealthStatus,
    QueueDepthHour,
    QueueDepthTrend,
    SystemHealth,
    WorkerStatus,
)
from supabase_monitoring.report import ReportData, render_html, render_text
from supabase_monitoring.report.serialize import report_to_csv, report_to_dict

__all__ = ["api"]

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOSTILE = "=cmd|'/c calc'!A1 <script>x</script>\x1b[31m"


def machinery_document(**overrides: Any) -> dict[str, Any]:
    doc = health_document(overall_status="critical")
    doc["worker_health"].update(
        status="warning",
        workers_reporting=3,
        silent_workers=1,
        closed_workers=2,
        silent_after_seconds=300,
        silent_worker_names=[HOSTILE],
    )
    doc["cron_health"] = {
        "status": "critical",
        "jobs_checked": 10,
        "inactive_jobs": 1,
        "failed_jobs": 1,
        "missed_jobs": 1,
        "overrunning_jobs": 0,
        "max_consecutive_failures": 3,
        "problem_jobs": [
            {
                "jobname": "hourly-metrics-aggregation",
                "schedule": "5 * * * *",
                "problems": ["failed"],
                "last_run_status": "failed",
                "last_run_started_at": "2026-12-01T11:05:00+00:00",
                "last_run_seconds": 0.2,
                "expected_interval_seconds": 3600,
                "last_due_at": "2026-12-01T11:05:00+00:00",
                "consecutive_failures": 3,
                "last_message": "ERROR:  division by zero",
            },
            {
                "jobname": HOSTILE,
                "schedule": "0 0 1 1 *",
                "problems": ["missed"],
                "last_run_status": None,
                "last_run_started_at": None,
                "last_run_seconds": None,
                "expected_interval_seconds": 31536000,
                "last_due_at": "2026-01-01T00:00:00+00:00",
                "consecutive_failures": 0,
                "last_message": None,
            },
        ],
    }
    doc.update(overrides)
    return doc


def trend(queue: str, depths: tuple[float, float, float], first: float, last: float, **kw: Any):
    return QueueDepthTrend(
        queue_name=queue,
        samples=kw.pop("samples", 30),
        first_depth=first,
        last_depth=last,
        min_depth=min(first, last),
        max_depth=max(first, last),
        avg_depth_first_third=depths[0],
        avg_depth_middle_third=depths[1],
        avg_depth_last_third=depths[2],
        last_oldest_msg_age_sec=kw.pop("oldest", 10.0),
        approximate=kw.pop("approximate", False),
        first_recorded_at=NOW - timedelta(minutes=29),
        last_recorded_at=NOW,
    )


def worker(name: str, status: str, seen_s: int) -> WorkerStatus:
    return WorkerStatus(
        id="00000000-0000-7000-8000-000000000001",
        worker_name=name,
        host="host-a",
        pid=42,
        sdk_version="0.1.0",
        started_at=NOW - timedelta(hours=1),
        last_seen_at=NOW - timedelta(seconds=seen_s),
        status=status,  # type: ignore[arg-type]
        seconds_since_seen=seen_s,
    )


# ---------------------------------------------------------------- the document
def test_cron_health_and_heartbeat_keys_parse_into_the_models(api: respx.MockRouter) -> None:
    api.post("/rpc/get_system_health").respond(200, json=machinery_document())
    health = sync_client().get_system_health()
    assert health.cron_health is not None
    assert health.cron_health.status is HealthStatus.CRITICAL
    assert health.cron_health.problem_jobs[0].consecutive_failures == 3
    assert health.cron_health.problem_jobs[1].problems == ["missed"]
    assert health.worker_health is not None
    assert (health.worker_health.silent_workers, health.worker_health.silent_worker_names) == (
        1,
        [HOSTILE],
    )


def test_a_database_without_the_machinery_migrations_still_parses(api: respx.MockRouter) -> None:
    api.post("/rpc/get_system_health").respond(200, json=health_document())
    health = sync_client().get_system_health()
    assert health.cron_health is None
    assert health.worker_health is not None
    assert health.worker_health.silent_workers is None
    assert WorkerSilentRule().evaluate(_inputs(health)).evaluated is False


# ---------------------------------------------------------------- alert rules
def _inputs(health: SystemHealth, trends: list[QueueDepthTrend] | None = None) -> AlertInputs:
    return AlertInputs(health=health, evaluated_at=NOW, queue_trends=trends)


def test_queue_growing_fires_for_a_queue_deeper_in_every_third_only() -> None:
    h = SystemHealth.model_validate(health_document())
    trends = [
        trend("orders", (100, 300, 500), 90, 600),
        trend("noisy", (100, 400, 300), 90, 600),  # went down in the last third
        trend("slow", (100, 110, 120), 100, 150),  # grew less than min_growth
        trend("short", (100, 300, 500), 90, 600, samples=5),
    ]
    result = QueueGrowingRule().evaluate(_inputs(h, trends))
    assert result.evaluated
    assert [a.key for a in result.alerts] == ["queue_growing:orders"]
    alert = result.alerts[0]
    assert alert.severity is AlertSeverity.WARNING
    assert (alert.details["growth"], alert.details["samples"]) == (510, 30)
    assert QueueGrowingRule().evaluate(_inputs(h, None)).evaluated is False


def test_oldest_message_rule_warns_then_pages() -> None:
    h = SystemHealth.model_validate(health_document())
    trends = [
        trend("a", (1, 1, 1), 1, 1, oldest=1800.0),  # at the threshold: not over it
        trend("b", (1, 1, 1), 1, 1, oldest=1801.0),
        trend("c", (1, 1, 1), 1, 1, oldest=3601.0),
    ]
    alerts = QueueOldestMessageRule().evaluate(_inputs(h, trends)).alerts
    assert [(a.key, a.severity) for a in alerts] == [
        ("queue_oldest_message:b", AlertSeverity.WARNING),
        ("queue_oldest_message:c", AlertSeverity.CRITICAL),
    ]


def test_worker_silent_names_each_silent_worker() -> None:
    h = SystemHealth.model_validate(machinery_document())
    alerts = WorkerSilentRule().evaluate(_inputs(h)).alerts
    assert [a.key for a in alerts] == [f"worker_silent:{HOSTILE}"]
    assert alerts[0].details["silent_after_seconds"] == 300


def test_a_critical_cron_health_is_a_critical_component_and_default_rules_cover_the_machinery() -> (
    None
):
    h = SystemHealth.model_validate(machinery_document())
    keys = [a.key for a in ComponentCriticalRule().evaluate(_inputs(h)).alerts]
    assert "component_critical:cron_health" in keys
    names = {r.name for r in default_rules()}
    assert {"queue_growing", "queue_oldest_message", "worker_silent"} <= names


# ---------------------------------------------------------------- CLI
@pytest.fixture
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", URL)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", KEY)
    monkeypatch.delenv("SUPABASE_MONITORING_DISABLED", raising=False)


@pytest.mark.usefixtures("_env")
def test_health_shows_cron_problems_and_silent_workers_as_plain_text(
    api: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    api.post("/rpc/get_system_health").respond(200, json=machinery_document())
    assert main(["health"]) == 2
    out = capsys.readouterr().out
    assert "[CRIT] Cron jobs" in out
    assert "failed_jobs=1" in out
    assert "hourly-metrics-aggregation: failed (3 in a row): ERROR:  division by zero" in out
    assert "silent: =cmd" in out
    assert "\x1b" not in out  # no terminal escape from a worker's name


@pytest.mark.usefixtures("_env")
def test_workers_list_prints_each_instance_and_exits_1_when_one_is_silent(
    api: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        w.model_dump(mode="json") for w in (worker("a", "alive", 3), worker("b", "silent", 900))
    ]
    route = api.get("/worker_status").respond(200, json=rows)
    assert main(["workers", "list"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["worker", "status", "host"]
    assert [line.split()[:2] for line in out[2:]] == [["a", "alive"], ["b", "silent"]]
    assert out[3].rstrip().endswith("15m")
    assert route.calls.last.request.headers["accept-profile"] == "monitoring"

    route.respond(200, json=rows[:1])
    assert main(["workers", "list", "--status", "alive", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["worker_name"] == "a"
    assert "status=eq.alive" in str(route.calls.last.request.url)


# ---------------------------------------------------------------- report
def _report() -> ReportData:
    h = SystemHealth.model_validate(machinery_document())
    assert h.cron_health is not None
    return ReportData(
        generated_at=NOW,
        since=NOW - timedelta(hours=2),
        hours=2,
        queue_depth=[
            QueueDepthHour(
                hour=NOW - timedelta(hours=1),
                queue_name=HOSTILE,
                samples=60,
                max_depth=1200,
                avg_depth=800,
                max_oldest_msg_age_sec=90,
                approximate=True,
            ),
            QueueDepthHour(
                hour=NOW,
                queue_name=HOSTILE,
                samples=12,
                max_depth=1500,
                avg_depth=1400,
                max_oldest_msg_age_sec=120,
            ),
        ],
        workers=[worker(HOSTILE, "silent", 900)],
        cron_problems=h.cron_health.problem_jobs,
        overall_status="critical",
    )


def test_text_report_has_depth_workers_and_cron_sections() -> None:
    text = render_text(_report())
    assert "Queue depth" in text
    assert "1,500" in text  # the latest hour's deepest point
    assert "Workers (heartbeats)" in text
    assert "pg_cron jobs with problems" in text
    assert "division by zero" in text


def test_json_and_csv_reports_carry_the_new_sections_safely() -> None:
    data = _report()
    doc = json.loads(json.dumps(report_to_dict(data)))
    assert [d["max_depth"] for d in doc["hourly"]["queue_depth"]] == [1200, 1500]
    assert doc["workers"][0]["status"] == "silent"
    assert doc["cron_problems"][0]["consecutive_failures"] == 3
    rows = list(csv.DictReader(io.StringIO(report_to_csv(data))))
    sections = [r["section"] for r in rows]
    assert sections == ["queue_depth", "queue_depth", "worker", "cron_job", "cron_job"]
    hostile = [r["name"] for r in rows if HOSTILE in r["name"]]
    assert hostile == ["'" + HOSTILE] * 4  # 2 depth hours, the worker, the missed job
    assert rows[0]["status"] == "approximate"


def test_html_report_has_the_depth_chart_and_escapes_names() -> None:
    html = render_html(_report())
    assert 'id="chart-queue-depth"' in html
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert 'id="workers"' in html
    assert 'id="cron-jobs"' in html

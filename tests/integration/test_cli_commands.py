"""The console script against the real stack, on this test's own rows."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from supabase_monitoring import MonitoringClient

pytestmark = pytest.mark.integration

EXIT = {"healthy": 0, "warning": 1, "critical": 2, "unknown": 3}


def _env() -> dict[str, str]:
    for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_DB_URL"):
        if not os.environ.get(name):
            pytest.fail(f"{name} is not set: run with the local stack's environment (make py-test)")
    return dict(os.environ)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supabase_monitoring.cli", *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def client() -> Iterator[MonitoringClient]:
    env = _env()
    with MonitoringClient(env["SUPABASE_URL"], env["SUPABASE_SERVICE_ROLE_KEY"], strict=True) as c:
        yield c


def test_health_exit_code_matches_the_reported_status() -> None:
    proc = cli("health", "--json")
    doc = json.loads(proc.stdout)
    assert doc["overall_status"] in ("healthy", "warning", "critical")
    assert proc.returncode == EXIT[doc["overall_status"]]
    pretty = cli("health")
    assert pretty.stdout.startswith("System health: ")
    assert "Queues" in pretty.stdout
    assert pretty.returncode in (0, 1, 2)


def test_report_shows_this_tests_queue_and_api(client: MonitoringClient, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    queue, api = f"cli-q-{tag}", f"cli-api-{tag}"
    client.record_processing_metric(queue, 100.0, 9, 1, batch_size=10)
    client.record_processing_metric(queue, 300.0, 5, 5, batch_size=10)
    for ms, ok in ((100.0, True), (200.0, True), (300.0, False), (400.0, True)):
        client.record_api_call(api, ms, ok)
    client.flush()

    proc = cli("report", "--hours", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (q,) = [x for x in doc["queues"] if x["queue_name"] == queue]
    assert (q["batches"], q["messages"], q["errors"]) == (2, 20, 6)
    assert q["error_rate"] == pytest.approx(6 / 20)
    assert q["avg_processing_time_ms"] == pytest.approx(200.0)
    (a,) = [x for x in doc["apis"] if x["api_name"] == api]
    assert (a["calls"], a["errors"]) == (4, 1)
    assert a["avg_success_time_ms"] == pytest.approx(700 / 3)
    # percentile_cont(0.95) over 100, 200, 300, 400: 385; an hour not yet sealed
    # reports the duration sketch's estimate, within 1% (20261216000150)
    assert a["max_p95_time_ms"] == pytest.approx(385.0, rel=0.01)

    proc = cli("report", "--hours", "1", "--csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    mine = [r for r in rows if r["name"] in (queue, api)]
    assert sorted((r["section"], r["total"]) for r in mine) == [("api", "4"), ("queue", "2")]

    html = tmp_path / "nested" / "r.html"
    proc = cli("report", "--hours", "1", "--html", str(html))
    assert proc.returncode == 0, proc.stderr
    page = html.read_text(encoding="utf-8")
    assert f'data-series="queue {queue}"' in page
    assert f'data-series="api {api}"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    text = cli("report", "--hours", "1")
    assert queue in text.stdout
    assert api in text.stdout


def test_issues_list_and_resolve(client: MonitoringClient) -> None:
    worker = f"cli-worker-{uuid.uuid4().hex[:10]}"
    issue_id = client.log_worker_issue(worker, "stuck_queue", "stuck", "error", {"n": 1})
    assert issue_id is not None
    client.flush()
    proc = cli("issues", "list", "--worker", worker, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [i["id"] for i in json.loads(proc.stdout)] == [issue_id]
    table = cli("issues", "list", "--worker", worker)
    assert issue_id in table.stdout
    done = cli("issues", "resolve", issue_id, "--note", "restarted the consumer")
    assert done.returncode == 0, done.stderr
    again = cli("issues", "resolve", issue_id)
    assert again.returncode == 1
    assert "no open issue" in again.stderr
    assert "Traceback" not in again.stderr
    after = cli("issues", "list", "--worker", worker, "--json")
    assert json.loads(after.stdout) == []


def test_aggregate_runs_every_period_and_backfills_with_progress() -> None:
    proc = cli("aggregate")
    assert proc.returncode == 0, proc.stderr
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [
        "hourly",
        "daily",
        "weekly",
    ]
    proc = cli("aggregate", "--period", "hourly", "--backfill", "--chunk-hours", "6")
    assert proc.returncode == 0, proc.stderr
    assert "hourly  [1/" in proc.stderr
    assert proc.stdout.startswith("hourly: ")


def test_alert_once_reports_a_summary() -> None:
    proc = cli("alert", "--json", "--cooldown-minutes", "60")
    assert proc.returncode in (0, 1), proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert set(summary) >= {"active", "sent", "deduplicated", "skipped_rules"}
    assert summary["store_error"] is None
    assert all(s["delivered"] for s in summary["sent"])  # only the log notifier is configured


def test_report_csv_neutralises_a_hostile_queue_name(client: MonitoringClient) -> None:
    # Any worker can write a queue name; opened in a spreadsheet it must stay text.
    tag = uuid.uuid4().hex[:10]
    # (No URL in it: other tests check that the HTML report of the same hour names none.)
    hostile = f"=1+cmd|' /C calc {tag}'!A0"
    client.record_processing_metric(hostile, 50.0, 1, 0)
    client.flush()
    proc = cli("report", "--hours", "1", "--csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    (mine,) = [r for r in rows if tag in r["name"]]
    assert mine["name"] == "'" + hostile
    assert not any(r["name"].startswith(("=", "+", "-", "@")) for r in rows)

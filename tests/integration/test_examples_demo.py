"""The examples against the stack: the simulated worker's stuck queue, and the demo end to end."""

from __future__ import annotations

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

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _env() -> dict[str, str]:
    for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_DB_URL"):
        if not os.environ.get(name):
            pytest.fail(f"{name} is not set: run with the local stack's environment (make py-test)")
    return dict(os.environ)


@pytest.fixture
def client() -> Iterator[MonitoringClient]:
    env = _env()
    with MonitoringClient(env["SUPABASE_URL"], env["SUPABASE_SERVICE_ROLE_KEY"], strict=True) as c:
        yield c


def test_simulated_worker_records_a_stuck_queue(client: MonitoringClient) -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from simulated_worker import run_simulation
    finally:
        sys.path.remove(str(EXAMPLES))
    prefix = f"sim-{uuid.uuid4().hex[:8]}-"
    summary = run_simulation(client, 4.0, prefix=prefix, seed=3)
    assert summary.batches > 0
    assert summary.api_calls > 0
    (issue_id,) = summary.issues
    issues = client.list_open_worker_issues(worker_name=f"{prefix}label-sync-consumer")
    assert [i.id for i in issues] == [issue_id]
    assert issues[0].severity.value == "critical"
    queues = {r.queue_name for r in client.get_queue_metrics(limit=10_000)}
    assert {f"{prefix}artist-ingest", f"{prefix}track-enrich"} <= queues
    apis = {r.api_name for r in client.get_api_metrics(limit=10_000)}
    assert {f"{prefix}spotify", f"{prefix}musicbrainz", f"{prefix}lyrics-api"} <= apis
    health = client.get_system_health()
    assert health.queue_health is not None
    assert (health.queue_health.total_stuck_messages or 0) > 0  # at least ours
    client.resolve_worker_issue(issue_id, "test cleanup")


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        cwd=tmp_path,
        env={**_env(), "DEMO_SECONDS": "3"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = tmp_path / "out"
    for name in ("report.html", "report.json", "report.csv", "report.txt"):
        assert (out / name).stat().st_size > 0
        assert str((out / name).resolve()) in proc.stdout
    received = json.loads((out / "alert-webhook.json").read_text())
    assert len(received) >= 1
    assert all(r["transition"] in ("fired", "reminder", "changed", "resolved") for r in received)
    report = json.loads((out / "report.json").read_text())
    assert any(q["queue_name"] == "label-sync" for q in report["queues"])
    assert "System health:" in proc.stdout

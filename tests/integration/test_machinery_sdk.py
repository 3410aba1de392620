"""The machinery checks end to end through the SDK, the CLI, alerting and the report:
real heartbeats from the batching writer, a worker killed without a word, a queue
that keeps growing, a missed pg_cron job. (test_machinery_db.py drives the SQL.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sdk_stack import INTEGRATION_RETRY, StackEnv, wait_for

from supabase_monitoring import BatchingConfig, HeartbeatConfig, MonitoringClient
from supabase_monitoring.alerting.inputs import gather_inputs
from supabase_monitoring.alerting.rules import QueueGrowingRule, WorkerSilentRule
from supabase_monitoring.cli import main
from supabase_monitoring.report import render_html
from supabase_monitoring.report.collect import collect_report

DB = psycopg.Connection[dict[str, Any]]
WAIT_S = 20.0


def instance_rows(db: DB, name: str) -> list[dict[str, Any]]:
    return db.execute(
        "select id::text as id, status, pid from monitoring.worker_status where worker_name = %s",
        (name,),
    ).fetchall()


@pytest.fixture
def cleanup_worker(db: DB) -> Iterator[Callable[[str], None]]:
    names: list[str] = []
    yield names.append
    for name in names:
        db.execute("delete from monitoring.worker_heartbeats where worker_name = %s", (name,))


def test_a_client_reports_alive_then_closed(
    stack_env: StackEnv, db: DB, unique: str, cleanup_worker: Callable[[str], None]
) -> None:
    cleanup_worker(unique)
    client = MonitoringClient(
        stack_env.url,
        stack_env.service_role_key,
        retry=INTEGRATION_RETRY,
        disabled=False,
        batching=BatchingConfig(heartbeat=HeartbeatConfig(interval=0.5, worker_name=unique)),
    )
    try:
        rows = wait_for("the first heartbeat", lambda: instance_rows(db, unique), WAIT_S)
        assert [(r["status"], r["pid"]) for r in rows] == [("alive", os.getpid())]
        seen = [w for w in client.list_workers(status="alive") if w.worker_name == unique]
        assert len(seen) == 1
        assert seen[0].host
        assert seen[0].sdk_version
    finally:
        client.close(timeout=10)
    assert [r["status"] for r in instance_rows(db, unique)] == ["closed"]


WORKER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from supabase_monitoring import BatchingConfig, HeartbeatConfig, MonitoringClient
    client = MonitoringClient.from_env(
        batching=BatchingConfig(heartbeat=HeartbeatConfig(interval=0.5, worker_name=sys.argv[1])))
    print("ready", flush=True)
    time.sleep(600)
    """
)


def test_a_worker_killed_without_closing_turns_silent_and_alerts(
    stack_env: StackEnv,
    db: DB,
    unique: str,
    cleanup_worker: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cleanup_worker(unique)
    env = {
        **os.environ,
        "SUPABASE_URL": stack_env.url,
        "SUPABASE_SERVICE_ROLE_KEY": stack_env.service_role_key,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, unique], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        wait_for("the worker's heartbeat", lambda: instance_rows(db, unique), WAIT_S)
    finally:
        proc.send_signal(signal.SIGKILL)  # no close(), no atexit: it dies without a word
        proc.wait(timeout=10)
    [row] = instance_rows(db, unique)
    assert row["pid"] == proc.pid

    # Six minutes later (its last heartbeat moved back; the default threshold is 5 min).
    db.execute(
        "update monitoring.worker_heartbeats set last_seen_at = now() - interval '6 minutes'"
        " where worker_name = %s",
        (unique,),
    )
    client = MonitoringClient(
        stack_env.url, stack_env.service_role_key, retry=INTEGRATION_RETRY, batching=False
    )
    try:
        health = client.get_system_health(raise_on_error=True)
        assert health.worker_health is not None
        assert unique in health.worker_health.silent_worker_names
        assert health.worker_health.status.value in ("warning", "critical")
        alerts = WorkerSilentRule().evaluate(gather_inputs(client)).alerts
        assert f"worker_silent:{unique}" in [a.key for a in alerts]
    finally:
        client.close()

    monkeypatch.setenv("SUPABASE_URL", stack_env.url)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", stack_env.service_role_key)
    assert main(["workers", "list", "--status", "silent"]) == 1
    assert unique in capsys.readouterr().out


def test_a_growing_queue_alerts_and_is_charted_in_the_report(
    stack_env: StackEnv, db: DB, unique: str
) -> None:
    row = db.execute("select now() as t").fetchone()
    assert row is not None
    t0: datetime = row["t"]
    try:
        # Twelve minutes of a queue growing by 50 messages a minute, recorded as pg_cron does.
        for minute in range(12):
            at = t0 - timedelta(minutes=12 - minute)
            db.execute(
                "insert into monitoring.queue_snapshots (queue_name, queue_length, stuck_messages,"
                " oldest_msg_age_sec, details, captured_at) values (%s, %s, 0, %s, %s, %s)",
                (unique, 100 + 50 * minute, 60 * minute, Jsonb({}), at),
            )
            db.execute("select monitoring.record_queue_depths(%s)", (at,))
        client = MonitoringClient(
            stack_env.url, stack_env.service_role_key, retry=INTEGRATION_RETRY, batching=False
        )
        try:
            inputs = gather_inputs(client)
            assert inputs.queue_trends is not None
            alerts = QueueGrowingRule().evaluate(inputs).alerts
            mine = [a for a in alerts if a.key == f"queue_growing:{unique}"]
            assert len(mine) == 1
            assert mine[0].details["first_depth"] == 100
            assert mine[0].details["last_depth"] == 650

            report = collect_report(client, hours=2)
            depth = [d for d in report.queue_depth if d.queue_name == unique]
            assert depth
            assert max(d.max_depth or 0 for d in depth) == 650
            html = render_html(report)
            assert f'data-series="queue {unique}"' in html
        finally:
            client.close()
    finally:
        db.execute("delete from monitoring.queue_snapshots where queue_name = %s", (unique,))
        db.execute(
            "delete from monitoring.pipeline_metrics"
            " where metric_name like 'queue\\_%%' and tags ->> 'queue' = %s",
            (unique,),
        )


def test_a_missed_cron_job_shows_in_health_and_the_cli(
    stack_env: StackEnv,
    db: DB,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    row = db.execute(
        "select cron.schedule(%s, '0 0 1 1 *', 'select monitoring.prune_cron_history()') as jobid",
        (unique,),
    ).fetchone()
    assert row is not None
    jobid = row["jobid"]
    try:
        db.execute("select monitoring_internal.register_cron_jobs()")
        db.execute(
            "update monitoring_internal.cron_job_registry"
            " set first_seen_at = now() - interval '2 years' where jobid = %s",
            (jobid,),
        )
        client = MonitoringClient(
            stack_env.url, stack_env.service_role_key, retry=INTEGRATION_RETRY, batching=False
        )
        try:
            health = client.get_system_health(raise_on_error=True)
        finally:
            client.close()
        assert health.cron_health is not None
        [job] = [j for j in health.cron_health.problem_jobs if j.jobname == unique]
        assert job.problems == ["missed"]
        assert job.expected_interval_seconds == 365 * 86400

        monkeypatch.setenv("SUPABASE_URL", stack_env.url)
        monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", stack_env.service_role_key)
        assert main(["health"]) in (1, 2)
        assert f"{unique}: missed" in capsys.readouterr().out
    finally:
        db.execute("select cron.unschedule(%s)", (jobid,))
        db.execute("select monitoring_internal.register_cron_jobs()")

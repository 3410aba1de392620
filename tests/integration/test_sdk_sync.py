"""MonitoringClient against the real stack: every public method, checked in Postgres."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sdk_stack import INTEGRATION_RETRY, StackEnv

from supabase_monitoring import (
    PIPELINE_METRICS,
    HealthStatus,
    MonitoringClient,
    PermissionDeniedError,
    RequestError,
    RetryPolicy,
    Severity,
    TransientError,
)
from supabase_monitoring._ids import uuid7
from supabase_monitoring._transport import SyncTransport

pytestmark = pytest.mark.integration

DB = psycopg.Connection[dict[str, Any]]


def metrics_tagged(db: DB, key: str, value: str) -> list[dict[str, Any]]:
    return db.execute(
        "select * from monitoring.pipeline_metrics where tags ->> %s = %s order by id",
        (key, value),
    ).fetchall()


def test_record_metric(monitor: MonitoringClient, db: DB, unique: str) -> None:
    when = datetime.now(UTC) - timedelta(minutes=5)
    assert monitor.record_metric("it_rows", 12.5, {"run": unique, "n": 3}, timestamp=when)
    (row,) = metrics_tagged(db, "run", unique)
    assert row["metric_name"] == "it_rows"
    assert row["metric_value"] == 12.5
    assert row["tags"] == {"run": unique, "n": 3}
    assert row["timestamp"] == when
    assert uuid.UUID(str(row["id"])).version == 7


def test_record_processing_metric_feeds_the_queue_view(
    monitor: MonitoringClient, db: DB, unique: str
) -> None:
    assert monitor.record_processing_metric(unique, 100.0, 9, 1)
    assert monitor.record_processing_metric(unique, 300.0, 5, 0, batch_size=6)
    rows = metrics_tagged(db, "queue", unique)
    assert [r["tags"]["batch_size"] for r in rows] == [10, 6]
    # The last hours only, as the API test below: the whole 7 days would also read raw every hour
    # other tests' late rows left untrusted until the next refresh (seconds on a large database).
    (view,) = monitor.get_queue_metrics(unique, since=datetime.now(UTC) - timedelta(hours=2))
    assert view.queue_name == unique
    assert (view.total_batches, view.success_count, view.error_count) == (2, 14, 1)
    assert view.total_messages_processed == 16
    assert view.avg_processing_time_ms == pytest.approx(200.0)


def test_record_api_call_feeds_the_api_view(monitor: MonitoringClient, db: DB, unique: str) -> None:
    assert monitor.record_api_call(unique, 100.0, True, endpoint="/v1/x", status_code=200)
    assert monitor.record_api_call(unique, 300.0, False, status_code=503)
    with pytest.raises(RuntimeError), monitor.time_api_call(unique):
        raise RuntimeError("the API call failed")
    rows = metrics_tagged(db, "api", unique)
    assert [r["tags"]["success"] for r in rows] == ["true", "false", "false"]
    assert rows[0]["tags"]["status_code"] == "200"
    (view,) = monitor.get_api_metrics(unique, since=datetime.now(UTC) - timedelta(hours=2))
    assert (view.total_calls, view.success_count, view.error_count) == (3, 1, 2)
    assert view.avg_success_time_ms == pytest.approx(100.0)


def test_time_batch_writes_a_processing_metric(
    monitor: MonitoringClient, db: DB, unique: str
) -> None:
    with monitor.time_batch(unique, batch_size=4) as batch:
        batch.error_count = 1
    (row,) = metrics_tagged(db, "queue", unique)
    assert row["tags"] == {"queue": unique, "success_count": 3, "error_count": 1, "batch_size": 4}
    assert row["metric_value"] >= 0


def test_worker_issue_lifecycle(monitor: MonitoringClient, db: DB, unique: str) -> None:
    issue_id = monitor.log_worker_issue(unique, "timeout", "took too long", "error", {"s": 31})
    assert issue_id is not None
    row = db.execute("select * from monitoring.worker_issues where id = %s", (issue_id,)).fetchone()
    assert row is not None
    assert (row["worker_name"], row["severity"], row["resolved"]) == (unique, "error", False)
    assert row["details"] == {"s": 31}

    (listed,) = monitor.list_open_worker_issues(worker_name=unique)
    assert listed.id == issue_id
    assert listed.severity is Severity.ERROR
    assert monitor.list_open_worker_issues(worker_name=unique, severity="critical") == []

    assert monitor.resolve_worker_issue(issue_id, "restarted the worker") is True
    assert monitor.resolve_worker_issue(issue_id, "again") is False  # no longer open
    row = db.execute("select * from monitoring.worker_issues where id = %s", (issue_id,)).fetchone()
    assert row is not None
    assert row["resolved"] is True
    assert row["resolution_details"] == "restarted the worker"
    assert row["resolved_at"] is not None
    assert monitor.list_open_worker_issues(worker_name=unique) == []


def test_record_event(monitor: MonitoringClient, db: DB, unique: str) -> None:
    details = {"run": unique, "ok": True, "note": "Björk 🎵", "nested": {"list": [1, "ü"]}}
    assert monitor.record_event("it_event", details)
    (row,) = db.execute(
        "select * from public.monitoring_events where details ->> 'run' = %s", (unique,)
    ).fetchall()
    assert row["event_type"] == "it_event"
    assert row["details"] == details


def test_record_queue_snapshot(monitor: MonitoringClient, db: DB, unique: str) -> None:
    assert monitor.record_queue_snapshot(unique, 40, 2, oldest_msg_age_sec=120)
    (row,) = db.execute(
        "select * from monitoring.queue_snapshots where queue_name = %s", (unique,)
    ).fetchall()
    assert (row["queue_length"], row["stuck_messages"], row["oldest_msg_age_sec"]) == (40, 2, 120)


def test_get_aggregated_metrics(monitor: MonitoringClient, db: DB, unique: str) -> None:
    # Rollups are the SQL side's job: put two rows in place and read them back.
    start = datetime(2026, 1, 5, 10, tzinfo=UTC)
    for i, dims in enumerate(({"run": unique, "api": "a"}, {"run": unique, "api": "b"})):
        db.execute(
            "insert into monitoring.aggregated_metrics (metric_name, period, period_start,"
            " min_value, max_value, avg_value, sum_value, count_value, p95_value, dimensions)"
            " values ('it_agg', 'hourly', %s, 1, 9, 5, 50, 10, 8.5, %s::jsonb)",
            (start + timedelta(hours=i), json.dumps(dims)),
        )
    try:
        rows = monitor.get_aggregated_metrics("it_agg", period="hourly", dimensions={"run": unique})
        assert [r.dimensions["api"] for r in rows] == ["b", "a"]  # newest period first
        assert rows[0].count_value == 10
        assert rows[0].p95_value == 8.5
        only_a = monitor.get_aggregated_metrics(dimensions={"run": unique, "api": "a"})
        assert [r.period_start for r in only_a] == [start]
        assert (
            monitor.get_aggregated_metrics(
                "it_agg", dimensions={"run": unique}, since=start + timedelta(hours=1)
            )
            == rows[:1]
        )
    finally:
        db.execute(
            "delete from monitoring.aggregated_metrics where dimensions ->> 'run' = %s", (unique,)
        )


def test_get_system_health_reflects_a_critical_issue(
    monitor: MonitoringClient, unique: str
) -> None:
    health = monitor.get_system_health()
    assert health.overall_status in (
        HealthStatus.HEALTHY,
        HealthStatus.WARNING,
        HealthStatus.CRITICAL,
    )
    assert health.error is None
    assert health.queue_health
    assert health.processing_health
    assert health.worker_health
    before = health.worker_health.critical_issues or 0
    issue_id = monitor.log_worker_issue(unique, "crash", "worker died", "critical")
    assert issue_id is not None
    try:
        health = monitor.get_system_health()
        assert health.worker_health is not None
        assert health.worker_health.critical_issues == before + 1
        assert health.worker_health.status is HealthStatus.CRITICAL
        assert health.overall_status is HealthStatus.CRITICAL
    finally:
        assert monitor.resolve_worker_issue(issue_id, "test cleanup")


def test_retried_batches_never_duplicate(stack_env: StackEnv, db: DB, unique: str) -> None:
    transport = SyncTransport.connect(stack_env.url, stack_env.service_role_key)
    rows = [
        {
            "id": uuid7(),
            "metric_name": "it_dupe",
            "metric_value": float(i),
            "tags": {"run": unique},
            "timestamp": datetime.now(UTC).isoformat(),
        }
        for i in range(3)
    ]
    try:
        transport.insert_rows(PIPELINE_METRICS, rows)
        transport.insert_rows(PIPELINE_METRICS, rows)  # a retry after a lost response
        transport.insert_rows(PIPELINE_METRICS, [*rows[:1], {**rows[1], "metric_value": 99.0}])
    finally:
        transport.close()
    stored = metrics_tagged(db, "run", unique)
    assert [r["metric_value"] for r in stored] == [0.0, 1.0, 2.0]


def test_server_side_rejection_is_a_request_error(
    monitor: MonitoringClient, stack_env: StackEnv
) -> None:
    transport = SyncTransport.connect(stack_env.url, stack_env.service_role_key)
    try:
        with pytest.raises(RequestError) as info:
            transport.insert_rows(PIPELINE_METRICS, [{"id": str(uuid.uuid4()), "metric_name": " "}])
        assert info.value.code is not None
    finally:
        transport.close()


def test_anon_key_is_refused(anon_monitor: MonitoringClient, stack_env: StackEnv) -> None:
    for write in (
        lambda: anon_monitor.record_metric("m", 1),
        lambda: anon_monitor.record_api_call("a", 1, True),
        lambda: anon_monitor.log_worker_issue("w", "t", "m"),
        lambda: anon_monitor.record_event("e"),
        lambda: anon_monitor.record_queue_snapshot("q", 1),
        lambda: anon_monitor.resolve_worker_issue(str(uuid.uuid4())),
    ):
        with pytest.raises(PermissionDeniedError):
            write()
    for read in (
        anon_monitor.list_open_worker_issues,
        anon_monitor.get_queue_metrics,
        anon_monitor.get_api_metrics,
        anon_monitor.get_aggregated_metrics,
        lambda: anon_monitor.get_system_health(raise_on_error=True),
    ):
        with pytest.raises(PermissionDeniedError):
            read()
    assert anon_monitor.stats.rejected == 5


def test_anon_key_non_strict_logs_and_reports_unknown(stack_env: StackEnv) -> None:
    with MonitoringClient(
        stack_env.url, stack_env.anon_key, retry=INTEGRATION_RETRY, disabled=False, batching=False
    ) as monitor:
        assert monitor.record_metric("m", 1) is False
        health = monitor.get_system_health()
    assert health.overall_status is HealthStatus.UNKNOWN
    assert health.error
    assert "42501" in health.error


def test_unreachable_api_is_transient(stack_env: StackEnv) -> None:
    policy = RetryPolicy(max_attempts=2, initial_backoff=0, max_backoff=0, max_elapsed=5)
    with MonitoringClient(
        "http://127.0.0.1:1",
        stack_env.service_role_key,
        strict=True,
        retry=policy,
        timeout=1.0,
        disabled=False,
        batching=False,
    ) as monitor:
        with pytest.raises(TransientError):
            monitor.record_metric("m", 1)
        assert monitor.stats.retries == 1
        assert (
            monitor.get_system_health(raise_on_error=False).overall_status is HealthStatus.UNKNOWN
        )

"""AsyncMonitoringClient against the real stack: every public method, checked in Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sdk_stack import INTEGRATION_RETRY, StackEnv

from supabase_monitoring import (
    AsyncMonitoringClient,
    HealthStatus,
    PermissionDeniedError,
    Severity,
)

pytestmark = pytest.mark.integration

DB = psycopg.Connection[dict[str, Any]]


def metrics_tagged(db: DB, key: str, value: str) -> list[dict[str, Any]]:
    return db.execute(
        "select * from monitoring.pipeline_metrics where tags ->> %s = %s order by id",
        (key, value),
    ).fetchall()


async def test_writes_land_after_flush(
    async_monitor: AsyncMonitoringClient, db: DB, unique: str
) -> None:
    when = datetime.now(UTC) - timedelta(minutes=1)
    assert async_monitor.record_metric("it_async", 2.5, {"run": unique}, timestamp=when)
    assert async_monitor.record_processing_metric(unique, 50.0, 4, 1)
    assert async_monitor.record_api_call(unique, 20.0, True)
    assert async_monitor.record_event("it_async_event", {"run": unique})
    assert async_monitor.record_queue_snapshot(unique, 7, 1)
    issue_id = async_monitor.log_worker_issue(unique, "slow", "slow batch", Severity.INFO)
    assert issue_id is not None
    assert await async_monitor.flush(timeout=10) is True

    (metric,) = metrics_tagged(db, "run", unique)
    assert (metric["metric_name"], metric["metric_value"], metric["timestamp"]) == (
        "it_async",
        2.5,
        when,
    )
    assert metrics_tagged(db, "queue", unique)[0]["tags"]["batch_size"] == 5
    assert metrics_tagged(db, "api", unique)[0]["tags"]["success"] == "true"
    events = db.execute(
        "select event_type from public.monitoring_events where details ->> 'run' = %s", (unique,)
    ).fetchall()
    assert events == [{"event_type": "it_async_event"}]
    snapshot = db.execute(
        "select queue_length, stuck_messages from monitoring.queue_snapshots where queue_name = %s",
        (unique,),
    ).fetchone()
    assert snapshot == {"queue_length": 7, "stuck_messages": 1}
    issue = db.execute(
        "select severity from monitoring.worker_issues where id = %s", (issue_id,)
    ).fetchone()
    assert issue == {"severity": "info"}
    stats = async_monitor.stats
    assert (stats.enqueued, stats.written, stats.pending) == (6, 6, 0)


async def test_views_and_timers(async_monitor: AsyncMonitoringClient, unique: str) -> None:
    async with async_monitor.time_api_call(unique):
        await asyncio.sleep(0)

    @async_monitor.time_batch(unique, batch_size=3)
    async def process() -> None:
        raise ValueError("batch failed")

    with pytest.raises(ValueError, match="batch failed"):
        await process()
    await async_monitor.flush(timeout=10)
    recent = datetime.now(UTC) - timedelta(hours=2)  # as in test_sdk_sync: not all 7 days
    (api_row,) = await async_monitor.get_api_metrics(unique, since=recent)
    assert (api_row.total_calls, api_row.success_count) == (1, 1)
    (queue_row,) = await async_monitor.get_queue_metrics(unique, since=recent)
    assert (queue_row.success_count, queue_row.error_count) == (0, 3)


async def test_issue_lifecycle(async_monitor: AsyncMonitoringClient, unique: str) -> None:
    issue_id = async_monitor.log_worker_issue(unique, "oom", "out of memory", "critical")
    assert issue_id is not None
    try:
        assert await async_monitor.flush(timeout=10)
        (listed,) = await async_monitor.list_open_worker_issues(worker_name=unique)
        assert listed.id == issue_id
        assert listed.severity is Severity.CRITICAL
        health = await async_monitor.get_system_health()
        assert health.worker_health is not None
        assert health.worker_health.status is HealthStatus.CRITICAL
        assert health.overall_status is HealthStatus.CRITICAL
    finally:
        assert await async_monitor.resolve_worker_issue(issue_id, "cleanup") is True
    assert await async_monitor.list_open_worker_issues(worker_name=unique) == []
    assert await async_monitor.resolve_worker_issue(issue_id) is False


async def test_aggregated_metrics(
    async_monitor: AsyncMonitoringClient, db: DB, unique: str
) -> None:
    start = datetime(2026, 2, 2, tzinfo=UTC)
    db.execute(
        "insert into monitoring.aggregated_metrics (metric_name, period, period_start,"
        " count_value, dimensions) values ('it_async_agg', 'daily', %s, 4, %s::jsonb)",
        (start, json.dumps({"run": unique})),
    )
    try:
        (row,) = await async_monitor.get_aggregated_metrics(
            "it_async_agg", period="daily", dimensions={"run": unique}
        )
        assert (row.period, row.period_start, row.count_value) == ("daily", start, 4)
    finally:
        db.execute(
            "delete from monitoring.aggregated_metrics where dimensions ->> 'run' = %s", (unique,)
        )


async def test_anon_key_is_refused(stack_env: StackEnv) -> None:
    monitor = AsyncMonitoringClient(
        stack_env.url, stack_env.anon_key, strict=True, retry=INTEGRATION_RETRY, disabled=False
    )
    try:
        assert monitor.record_metric("m", 1) is True  # accepted, then written in the background
        with pytest.raises(PermissionDeniedError):
            await monitor.flush()
        for read in (
            monitor.list_open_worker_issues,
            monitor.get_queue_metrics,
            monitor.get_api_metrics,
            monitor.get_aggregated_metrics,
            lambda: monitor.get_system_health(raise_on_error=True),
            lambda: monitor.resolve_worker_issue(str(uuid.uuid4())),
        ):
            with pytest.raises(PermissionDeniedError):
                await read()
        assert monitor.stats.rejected == 1
    finally:
        await monitor.close()


async def test_anon_key_non_strict(stack_env: StackEnv) -> None:
    monitor = AsyncMonitoringClient(
        stack_env.url, stack_env.anon_key, retry=INTEGRATION_RETRY, disabled=False
    )
    monitor.record_event("e")
    assert await monitor.flush() is True
    assert monitor.stats.rejected == 1
    health = await monitor.get_system_health()
    assert health.overall_status is HealthStatus.UNKNOWN
    await monitor.close()

"""Metrics through monitoring.ingest_metrics on the real stack: rows land exactly once with
their values, tags and event times; a resent batch adds nothing; a row Postgres refuses is
isolated; the async client takes the same path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sdk_stack import INTEGRATION_RETRY, StackEnv

from supabase_monitoring import AsyncMonitoringClient, BatchingConfig, MonitoringClient
from supabase_monitoring._columns import MetricBatch
from supabase_monitoring._rows import metric_fields
from supabase_monitoring._tables import PIPELINE_METRICS
from supabase_monitoring._transport import SyncTransport

pytestmark = pytest.mark.integration

BATCHING = BatchingConfig(max_batch_size=500, flush_interval=0.05, retry_initial=0.05)


def rows_of(db: psycopg.Connection[dict[str, object]], unique: str) -> list[dict[str, object]]:
    return db.execute(
        'select id::text as id, metric_name, metric_value, tags, "timestamp" '
        "from monitoring.pipeline_metrics where tags->>'run' = %s order by metric_value",
        (unique,),
    ).fetchall()


def test_rows_land_exactly_once_with_their_values_tags_and_times(
    stack_env: StackEnv, db: psycopg.Connection[dict[str, object]], unique: str
) -> None:
    when = datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)
    with MonitoringClient(
        stack_env.url, stack_env.service_role_key, strict=True, batching=BATCHING, disabled=False
    ) as monitor:
        for i in range(1200):
            assert monitor.record_api_call(
                f"api-{i % 3}", float(i), i % 2 == 0, tags={"run": unique}
            )
        assert monitor.record_metric("rows_read", 5000.5, {"run": unique}, timestamp=when)
        assert monitor.flush(timeout=60)
        stats = monitor.stats
    rows = rows_of(db, unique)
    assert (stats.written, stats.rejected, stats.dropped) == (1201, 0, 0)
    assert len(rows) == len({r["id"] for r in rows}) == 1201
    assert [r["metric_value"] for r in rows] == [*map(float, range(1200)), 5000.5]
    assert rows[7]["tags"] == {"run": unique, "api": "api-1", "success": "false"}
    assert rows[7]["metric_name"] == "api_call"
    assert rows[-1]["metric_name"] == "rows_read"
    assert rows[-1]["timestamp"] == when  # to the microsecond
    assert abs(rows[0]["timestamp"] - datetime.now(UTC)) < timedelta(minutes=5)  # type: ignore[operator]


def test_a_resent_batch_adds_nothing(
    stack_env: StackEnv, db: psycopg.Connection[dict[str, object]], unique: str
) -> None:
    # What a retry after a lost response does: the very same rows (ids given on the first send).
    transport = SyncTransport.connect(stack_env.url, stack_env.service_role_key)
    batch = MetricBatch.of(
        metric_fields("rows_read", float(i), {"run": unique}, None) for i in range(300)
    )
    try:
        transport.write_metrics(batch)
        first = rows_of(db, unique)
        transport.write_metrics(batch)
        transport.write_metrics(batch[100:200])  # a half, as a split batch sends it
    finally:
        transport.close()
    again = rows_of(db, unique)
    assert len(first) == 300
    assert again == first
    assert {r["id"] for r in again} == set(batch.ids())


def test_a_row_postgres_refuses_is_isolated_and_the_rest_land(
    stack_env: StackEnv, db: psycopg.Connection[dict[str, object]], unique: str
) -> None:
    # Validation keeps such rows out of record_*; a row handed to the sink directly is
    # what another writer's bad data looks like to Postgres (a blank name breaks a CHECK).
    with MonitoringClient(
        stack_env.url,
        stack_env.service_role_key,
        batching=BATCHING,
        retry=INTEGRATION_RETRY,
        disabled=False,
    ) as monitor:
        for i in range(99):
            monitor.record_metric("rows_read", float(i), {"run": unique})
        bad = {"metric_name": "   ", "metric_value": 99.0, "tags": {"run": unique}}
        monitor.sink.submit(PIPELINE_METRICS, {**bad, "timestamp": datetime.now(UTC).timestamp()})
        assert monitor.flush(timeout=60)
        stats = monitor.stats
    rows = rows_of(db, unique)
    assert (stats.written, stats.rejected) == (99, 1)
    assert [r["metric_value"] for r in rows] == [float(i) for i in range(99)]


async def test_the_async_client_ingests_exactly_once(
    stack_env: StackEnv, db: psycopg.Connection[dict[str, object]], unique: str
) -> None:
    async with AsyncMonitoringClient(
        stack_env.url, stack_env.service_role_key, strict=True, batching=BATCHING, disabled=False
    ) as monitor:
        for i in range(1000):
            assert monitor.record_api_call("discogs", float(i), True, tags={"run": unique})
        assert await monitor.flush(timeout=60)
        stats = monitor.stats
    rows = rows_of(db, unique)
    assert (stats.written, stats.rejected, stats.dropped) == (1000, 0, 0)
    assert len({r["id"] for r in rows}) == 1000
    assert [r["metric_value"] for r in rows] == [float(i) for i in range(1000)]

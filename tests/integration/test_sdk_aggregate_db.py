"""aggregate_metrics() against the real database: a missed hour gets rolled up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from supabase_monitoring import AsyncMonitoringClient, MonitoringClient

pytestmark = pytest.mark.integration

DB = psycopg.Connection[dict[str, Any]]


def _seed_last_hour(db: DB, run: str) -> datetime:
    # Two hours back: always complete (an hour counts as complete 3 minutes after it ends).
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    for value in (10.0, 20.0, 30.0):
        db.execute(
            "insert into monitoring.pipeline_metrics "
            '(metric_name, metric_value, tags, "timestamp") '
            "values ('it_agg', %s, jsonb_build_object('run', %s::text), %s)",
            (value, run, hour + timedelta(minutes=10)),
        )
    return hour


def _rollup(db: DB, run: str, hour: datetime) -> dict[str, Any] | None:
    return db.execute(
        "select count_value, min_value, max_value from monitoring.aggregated_metrics "
        "where period = 'hourly' and metric_name = 'it_agg' and dimensions ->> 'run' = %s "
        "and period_start = %s",
        (run, hour),
    ).fetchone()


def test_aggregate_metrics_rolls_up_a_missed_hour(
    monitor: MonitoringClient, db: DB, unique: str
) -> None:
    # Roll up whatever is pending first, then forget the hour so this run must redo it.
    monitor.aggregate_metrics("hourly")
    hour = _seed_last_hour(db, unique)
    db.execute(
        "update monitoring.aggregation_watermarks set aggregated_until = %s "
        "where period = 'hourly'",
        (hour,),
    )
    try:
        written = monitor.aggregate_metrics("hourly")
        assert written >= 1
        assert _rollup(db, unique, hour) == {"count_value": 3, "min_value": 10.0, "max_value": 30.0}
    finally:
        db.execute(
            "delete from monitoring.aggregated_metrics where dimensions ->> 'run' = %s", (unique,)
        )


async def test_async_aggregate_metrics_answers_a_count(
    async_monitor: AsyncMonitoringClient,
) -> None:
    assert await async_monitor.aggregate_metrics("daily") >= 0

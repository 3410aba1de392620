"""Late and back-filled rows reach monitoring.aggregated_metrics (real stack, real commits).

Each step commits on its own, as workers and cron jobs do, so the seals' snapshot
rule is exercised across transactions. The SDK delivering its buffer after an
outage is in test_batching_outage.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from rollup_check import assert_rollups_equal_raw, rollups, run_aggregation
from sdk_stack import StackEnv

from supabase_monitoring import BatchingConfig, MonitoringClient

pytestmark = pytest.mark.integration

DB = psycopg.Connection[dict[str, Any]]
METRIC = "it_backfill"
DAYS = 3
ROWS_PER_HOUR = 12


def _sealed(db: DB, period: str, start: datetime, end: datetime) -> int:
    row = db.execute(
        "select count(*) as n from monitoring_internal.rollup_seals "
        "where kind = %s and period_start >= %s and period_start < %s",
        (period, start, end),
    ).fetchone()
    assert row is not None
    return int(row["n"])


def _last_written(db: DB, run: str) -> object:
    row = db.execute(
        "select max(created_at) as t from monitoring.aggregated_metrics "
        "where dimensions ->> 'run' = %s",
        (run,),
    ).fetchone()
    assert row is not None
    return row["t"]


def test_a_three_day_backfill_is_aggregated_exactly(
    stack_env: StackEnv, db: DB, unique: str
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=DAYS + 1)  # three complete days, well inside raw retention
    end = first + timedelta(days=DAYS)
    # On time: one row per day, then the jobs run as cron runs them.
    for day in range(DAYS):
        db.execute(
            "insert into monitoring.pipeline_metrics "
            '(metric_name, metric_value, tags, "timestamp") values (%s, 1, %s, %s)',
            (METRIC, f'{{"run": "{unique}", "shard": "a"}}', first + timedelta(days=day, hours=6)),
        )
    run_aggregation(db, "hourly")
    run_aggregation(db, "daily")
    assert _sealed(db, "hourly", first, end) == DAYS * 24, "the hours were not aggregated before"
    assert _sealed(db, "daily", first, end) == DAYS
    assert sum(s[0] for s in rollups(db, METRIC, "daily", unique).values()) == DAYS

    # The back-fill: the SDK writes the three days' history, two dimension sets.
    client = MonitoringClient(
        stack_env.url,
        stack_env.service_role_key,
        batching=BatchingConfig(max_batch_size=500, flush_interval=0.05),
        disabled=False,
    )
    try:
        for hour in range(DAYS * 24):
            start = first + timedelta(hours=hour)
            for i in range(ROWS_PER_HOUR):
                shard = "a" if i % 3 else "b"
                value = float((hour * 37 + i * 11) % 101) + (0.5 if shard == "b" else 0.0)
                client.record_metric(
                    METRIC,
                    value,
                    {"run": unique, "shard": shard, "row": i},
                    timestamp=start + timedelta(minutes=i * 5, seconds=7),
                )
        assert client.flush(timeout=120)
        assert client.stats.dropped == 0
    finally:
        client.close(timeout=30)

    # The next cron runs of each job.
    assert run_aggregation(db, "hourly") >= DAYS * 24 * 2
    assert run_aggregation(db, "daily") >= DAYS * 2

    assert assert_rollups_equal_raw(db, METRIC, "hourly", unique) == DAYS * 24 * 2
    assert assert_rollups_equal_raw(db, METRIC, "daily", unique) == DAYS * 2
    daily = rollups(db, METRIC, "daily", unique)
    assert sum(s[0] for s in daily.values()) == DAYS * (24 * ROWS_PER_HOUR + 1)

    # Nothing changed since: the jobs' next runs leave these periods alone.
    before = _last_written(db, unique)
    run_aggregation(db, "hourly")
    run_aggregation(db, "daily")
    assert _last_written(db, unique) == before


def test_a_late_row_is_aggregated_after_the_hour_was_sealed(db: DB, unique: str) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    insert = (
        "insert into monitoring.pipeline_metrics "
        '(metric_name, metric_value, tags, "timestamp") values (%s, %s, %s, %s)'
    )
    tags = f'{{"run": "{unique}"}}'
    db.execute(insert, (METRIC, 1.0, tags, hour + timedelta(minutes=10)))
    run_aggregation(db, "hourly")
    assert [s[0] for s in rollups(db, METRIC, "hourly", unique).values()] == [1]
    # Written by another transaction, committed after the seal: the seal's snapshot never saw it.
    with db.transaction():
        db.execute(insert, (METRIC, 3.0, tags, hour + timedelta(minutes=59, seconds=59)))
    run_aggregation(db, "hourly")
    assert assert_rollups_equal_raw(db, METRIC, "hourly", unique) == 1
    assert [s[:4] for s in rollups(db, METRIC, "hourly", unique).values()] == [(2, 4.0, 1.0, 3.0)]

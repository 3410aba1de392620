"""What monitoring.aggregated_metrics says about a test's rows, and what raw rows say.

Raw statistics come from plain aggregates over monitoring.pipeline_metrics (UTC
periods by date_trunc), not from the aggregation's own query, so a test that
compares the two checks the rollup against an independent computation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import pytest

DB = psycopg.Connection[dict[str, Any]]
STATS = (
    "count_value",
    "sum_value",
    "min_value",
    "max_value",
    "p50_value",
    "p95_value",
    "p99_value",
)
UNIT = {"hourly": "hour", "daily": "day"}


def run_aggregation(db: DB, period: str) -> int:
    """What the period's cron job does, at real time."""
    row = db.execute("select monitoring.aggregate_metrics(%s) as n", (period,)).fetchone()
    assert row is not None
    return int(row["n"])


Figures = dict[tuple[datetime, str], tuple[Any, ...]]


def rollups(db: DB, metric: str, period: str, run: str) -> Figures:
    """{(period_start, shard): stats} of the run's rows (tags.run = run)."""
    rows = db.execute(
        f"select period_start, coalesce(dimensions ->> 'shard', '') as shard, {', '.join(STATS)} "
        "from monitoring.aggregated_metrics "
        "where metric_name = %s and period = %s and dimensions ->> 'run' = %s",
        (metric, period, run),
    ).fetchall()
    return {(r["period_start"], r["shard"]): tuple(r[s] for s in STATS) for r in rows}


def raw(db: DB, metric: str, period: str, run: str) -> Figures:
    """The same figures computed straight from the raw rows."""
    rows = db.execute(
        "select date_trunc(%s, \"timestamp\", 'UTC') as period_start, "
        "coalesce(tags ->> 'shard', '') as shard, count(*)::integer as count_value, "
        "sum(metric_value) as sum_value, min(metric_value) as min_value, "
        "max(metric_value) as max_value, "
        "percentile_cont(0.5) within group (order by metric_value) as p50_value, "
        "percentile_cont(0.95) within group (order by metric_value) as p95_value, "
        "percentile_cont(0.99) within group (order by metric_value) as p99_value "
        "from monitoring.pipeline_metrics where metric_name = %s and tags ->> 'run' = %s "
        "group by 1, 2",
        (UNIT[period], metric, run),
    ).fetchall()
    return {(r["period_start"], r["shard"]): tuple(r[s] for s in STATS) for r in rows}


def assert_rollups_equal_raw(db: DB, metric: str, period: str, run: str) -> int:
    """Every period and dimension set of the run: rollup == raw. Returns how many."""
    have, want = rollups(db, metric, period, run), raw(db, metric, period, run)
    assert sorted(have) == sorted(want)
    for key, stats in want.items():
        # Sums may differ in the last bits: the aggregation adds in another order.
        assert have[key] == pytest.approx(stats, rel=1e-12), key
    return len(want)

"""The partitioned raw table through the REST API: rows of any day are accepted and land in
their day's partition or the default one, a resent upsert (on_conflict=id,timestamp) adds
nothing, creating a day moves its rows without changing what readers see, and the
partitions themselves are out of the API's reach."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from sdk_stack import StackEnv

from supabase_monitoring._columns import MetricBatch, metric_row
from supabase_monitoring._ids import finalize
from supabase_monitoring._rows import metric_fields
from supabase_monitoring._tables import PIPELINE_METRICS
from supabase_monitoring._transport import SyncTransport

pytestmark = pytest.mark.integration


@pytest.fixture
def own_rows(db: psycopg.Connection[dict[str, object]], unique: str) -> Iterator[str]:
    """The test's run tag; its rows are deleted afterwards.

    The row dated 2001 is past every retention window: left behind in the
    default partition, it would change what another test's purge counts on
    the same database (supabase/tests/03_retention.sql).
    """
    yield unique
    db.execute("delete from monitoring.pipeline_metrics where tags->>'run' = %s", (unique,))


def placed(db: psycopg.Connection[dict[str, object]], unique: str) -> dict[float, str]:
    rows = db.execute(
        "select metric_value, tableoid::regclass::text as part from monitoring.pipeline_metrics"
        " where tags->>'run' = %s",
        (unique,),
    ).fetchall()
    return {float(str(r["metric_value"])): str(r["part"]) for r in rows}


def test_rows_of_any_day_land_once_in_their_partition(
    stack_env: StackEnv, db: psycopg.Connection[dict[str, object]], own_rows: str
) -> None:
    unique = own_rows
    now = datetime.now(UTC)
    times = {
        1.0: now,
        2.0: now - timedelta(days=3),
        3.0: datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),  # long before any partition
        4.0: datetime(2035, 1, 1, tzinfo=UTC),  # a clock far in the future
    }
    batch = [
        metric_row(*metric_fields("rows_read", v, {"run": unique}, t)) for v, t in times.items()
    ]
    finalize(batch)  # ids and times given once, as the background writer does
    transport = SyncTransport.connect(stack_env.url, stack_env.service_role_key)
    try:
        transport.insert_rows(PIPELINE_METRICS, batch)
        transport.insert_rows(PIPELINE_METRICS, batch)  # a retry after a lost response
        transport.insert_rows(PIPELINE_METRICS, batch[1:3])  # a split half
    finally:
        transport.close()

    where = placed(db, unique)
    assert sorted(where) == [1.0, 2.0, 3.0, 4.0]  # each row once
    assert where[1.0] == f"monitoring_internal.pipeline_metrics_p{now:%Y%m%d}"
    assert where[2.0] == f"monitoring_internal.pipeline_metrics_p{now - timedelta(days=3):%Y%m%d}"
    assert where[3.0] == where[4.0] == "monitoring_internal.pipeline_metrics_default"
    stored = db.execute(
        "select \"timestamp\" from monitoring.pipeline_metrics where tags->>'run' = %s"
        " and metric_value = 3",
        (unique,),
    ).fetchone()
    assert stored == {"timestamp": times[3.0]}  # to the microsecond


def test_creating_a_day_moves_its_rows_and_readers_see_no_change(
    stack_env: StackEnv, db: psycopg.Connection[dict[str, object]], unique: str
) -> None:
    # 1999-03-04: no partition, and no other test writes that day.
    day = datetime(1999, 3, 4, tzinfo=UTC)
    batch = MetricBatch.of(
        metric_fields("rows_read", float(i), {"run": unique}, day + timedelta(hours=i))
        for i in range(24)
    )
    mine = [("tags->>run", "eq", unique)]
    transport = SyncTransport.connect(stack_env.url, stack_env.service_role_key)
    try:
        transport.write_metrics(batch)
        before = transport.select(
            PIPELINE_METRICS, columns="id,metric_value,timestamp", filters=mine
        )
        moved = db.execute(
            "select monitoring_internal.create_metric_partition('1999-03-04') as n"
        ).fetchone()
        try:
            where = placed(db, unique)
            after = transport.select(
                PIPELINE_METRICS, columns="id,metric_value,timestamp", filters=mine
            )
        finally:
            db.execute("drop table monitoring_internal.pipeline_metrics_p19990304")
    finally:
        transport.close()
    assert moved == {"n": 24}
    assert set(where.values()) == {"monitoring_internal.pipeline_metrics_p19990304"}
    assert len(before) == 24
    assert sorted(before, key=str) == sorted(after, key=str)


def test_partitions_are_not_reachable_through_the_api(stack_env: StackEnv) -> None:
    for key in (stack_env.service_role_key, stack_env.anon_key):
        response = httpx.get(
            f"{stack_env.url}/rest/v1/pipeline_metrics_default?limit=1",
            headers={
                "apikey": key,
                "Authorization": f"Bearer {key}",
                "Accept-Profile": "monitoring_internal",
            },
            timeout=10,
        )
        assert response.status_code == 406, response.text  # schema not exposed

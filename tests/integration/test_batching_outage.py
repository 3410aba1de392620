"""The batching writer against the real stack: outages in the middle of a stream,
forked workers, and exactly-once delivery counted in the database (and in the
hourly rollup, when the outage spans an hour boundary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from rollup_check import assert_rollups_equal_raw, rollups, run_aggregation
from sdk_stack import StackEnv

from supabase_monitoring import BatchingConfig, MonitoringClient

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "local-stack.sh"

# Small batches and short backoff so an outage spans many batches and retries.
OUTAGE_BATCHING = BatchingConfig(
    max_batch_size=200, flush_interval=0.05, retry_initial=0.05, retry_max=0.5, max_buffer=50_000
)


def stack(*args: str) -> None:
    subprocess.run([str(STACK), *args], check=True, capture_output=True, timeout=120)


def count_rows(db_url: str, run: str) -> tuple[int, int]:
    """(rows, distinct ids) carrying tags.run = run."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "select count(*), count(distinct id) from monitoring.pipeline_metrics "
            "where tags->>'run' = %s",
            (run,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.fixture
def batching_client(stack_env: StackEnv) -> Iterator[MonitoringClient]:
    client = MonitoringClient(
        stack_env.url, stack_env.service_role_key, batching=OUTAGE_BATCHING, disabled=False
    )
    yield client
    client.close(timeout=30)


@pytest.fixture
def restore_stack() -> Iterator[None]:
    yield
    # Whatever happened, leave the stack up for the tests that follow.
    stack("start", "postgrest")
    stack("start", "nginx")


@pytest.mark.parametrize("service", ["postgrest", "nginx"])
def test_service_restart_mid_stream_loses_and_duplicates_nothing(
    service: str,
    stack_env: StackEnv,
    batching_client: MonitoringClient,
    unique: str,
    restore_stack: None,
) -> None:
    n = 6000
    for i in range(n):
        if i == 2000:
            assert batching_client.flush(timeout=60)  # the first third is in before the outage
            stack("stop", service)
        if i == 4000:
            stack("start", service)
        batching_client.record_api_call("spotify", 10.0 + i % 7, i % 5 != 0, tags={"run": unique})
    assert batching_client.flush(timeout=120)
    stats = batching_client.stats
    assert count_rows(stack_env.db_url, unique) == (n, n)
    assert stats.dropped == 0
    assert stats.rejected == 0
    assert stats.retries > 0, "the outage was never noticed: the test proved nothing"


def test_rows_buffered_across_an_hour_boundary_reach_the_hourly_rollup(
    stack_env: StackEnv,
    batching_client: MonitoringClient,
    unique: str,
    restore_stack: None,
) -> None:
    # The worker records from 30 s before a boundary to 30 s after it; the API goes
    # down after the first rows, and the hourly job runs during the outage (as the
    # :05 cron run would), so both hours are aggregated before the buffered rows
    # land in them. Timestamps are what the worker's clock said: both hours are
    # long complete, so the test never waits for a real boundary.
    boundary = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    stamps = [boundary + timedelta(seconds=-30 + i * 0.01) for i in range(6000)]
    delivered = 1000
    metric = "it_outage_rollup"
    conn: psycopg.Connection[dict[str, Any]]
    with psycopg.connect(stack_env.db_url, autocommit=True, row_factory=dict_row) as conn:
        for i, stamp in enumerate(stamps):
            if i == delivered:
                assert batching_client.flush(timeout=60)
                stack("stop", "postgrest")
                run_aggregation(conn, "hourly")
                hours = rollups(conn, metric, "hourly", unique)
                assert [v[0] for v in hours.values()] == [delivered], "not rolled up before"
            batching_client.record_metric(metric, float(i % 97), {"run": unique}, timestamp=stamp)
        stack("start", "postgrest")
        assert batching_client.flush(timeout=120)
        assert batching_client.stats.retries > 0, "the outage was never noticed"
        assert batching_client.stats.dropped == 0
        run_aggregation(conn, "hourly")  # the next cron run
        before = sum(1 for s in stamps if s < boundary)
        counts = {k[0]: v[0] for k, v in rollups(conn, metric, "hourly", unique).items()}
        assert counts == {boundary - timedelta(hours=1): before, boundary: len(stamps) - before}
        assert assert_rollups_equal_raw(conn, metric, "hourly", unique) == 2


def test_outage_longer_than_the_buffer_drops_and_counts_the_excess(
    stack_env: StackEnv, unique: str, restore_stack: None
) -> None:
    config = BatchingConfig(
        max_batch_size=100, max_buffer=500, flush_interval=0.05, retry_initial=0.05, retry_max=0.2
    )
    client = MonitoringClient(
        stack_env.url, stack_env.service_role_key, batching=config, disabled=False
    )
    try:
        stack("stop", "postgrest")
        # record_* never raises into the worker; it answers False for a dropped row.
        accepted = sum(
            bool(client.record_api_call("spotify", 12.0, True, tags={"run": unique}))
            for _ in range(2000)
        )
        stats = client.stats
        assert stats.pending <= 500
        assert accepted == stats.enqueued
        assert stats.dropped == 2000 - stats.pending
        stack("start", "postgrest")
        assert client.flush(timeout=120)
        kept = client.stats.written
    finally:
        client.close(timeout=30)
    assert count_rows(stack_env.db_url, unique) == (kept, kept)
    assert kept == 2000 - client.stats.dropped


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_forked_worker_writes_its_own_rows_once_and_never_resends_the_parents(
    stack_env: StackEnv, unique: str, tmp_path: Path
) -> None:
    # A long flush interval keeps the parent's rows buffered across the fork.
    config = BatchingConfig(max_batch_size=5000, flush_interval=60)
    client = MonitoringClient(
        stack_env.url, stack_env.service_role_key, batching=config, disabled=False
    )
    parent_run, child_run = f"{unique}-parent", f"{unique}-child"
    for i in range(300):
        client.record_api_call("spotify", float(i), True, tags={"run": parent_run})
    assert client.stats.pending == 300
    report = tmp_path / "child.json"
    pid = os.fork()
    if pid == 0:  # the child: a worker process forked by a pool
        status = 1
        try:
            before = client.stats
            for i in range(200):
                client.record_api_call("musicbrainz", float(i), True, tags={"run": child_run})
            flushed = client.flush(timeout=60)
            after = client.stats
            client.close(timeout=10)
            report.write_text(
                json.dumps(
                    {
                        "pending_at_fork": before.pending,
                        "flushed": flushed,
                        "written": after.written,
                    }
                )
            )
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child = json.loads(report.read_text())
    assert child == {"pending_at_fork": 0, "flushed": True, "written": 200}
    assert count_rows(stack_env.db_url, child_run) == (200, 200)
    assert count_rows(stack_env.db_url, parent_run) == (0, 0)  # still buffered in the parent
    assert client.flush(timeout=60)
    client.close(timeout=10)
    assert count_rows(stack_env.db_url, parent_run) == (300, 300)
    assert client.stats.written == 300


def test_short_lived_job_that_just_exits_loses_nothing(stack_env: StackEnv, unique: str) -> None:
    script = (
        "from supabase_monitoring import MonitoringClient\n"
        "m = MonitoringClient.from_env()\n"
        "for i in range(1500):\n"
        f"    m.record_api_call('spotify', 5.0, True, tags={{'run': {unique!r}}})\n"
    )
    env = {**os.environ, "SUPABASE_MONITORING_DISABLED": ""}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120, cwd=ROOT)
    assert count_rows(stack_env.db_url, unique) == (1500, 1500)

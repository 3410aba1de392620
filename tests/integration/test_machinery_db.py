"""The machinery checks against the real stack: pg_cron really runs (and fails)
jobs, the health check sees them; queue depth history is recorded by the real
``queue-depth-history`` job; heartbeats go silent.

Checks read ``get_system_health()`` as ``service_role`` (what the API calls),
over a direct connection; everything a test creates carries a unique name and
is removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sdk_stack import wait_for

DB = psycopg.Connection[dict[str, Any]]

# pg_cron 1.4 schedules by the minute: a job scheduled now runs within ~60 s.
CRON_TIMEOUT_S = 95.0


def health_as_service_role(db: DB) -> dict[str, Any]:
    with db.transaction():
        db.execute("set local role service_role")
        row = db.execute("select public.get_system_health() as h").fetchone()
    assert row is not None
    health: dict[str, Any] = row["h"]
    return health


def problem(health: dict[str, Any], jobname: str) -> dict[str, Any] | None:
    for job in health["cron_health"]["problem_jobs"]:
        if job["jobname"] == jobname:
            found: dict[str, Any] = job
            return found
    return None


@pytest.fixture
def cron_job(db: DB) -> Iterator[Callable[[str, str, str], int]]:
    """Schedule jobs for a test; unschedule them and their history afterwards."""
    jobids: list[int] = []

    def schedule(name: str, schedule: str, command: str) -> int:
        row = db.execute(
            "select cron.schedule(%s, %s, %s) as jobid", (name, schedule, command)
        ).fetchone()
        assert row is not None
        jobids.append(row["jobid"])
        return int(row["jobid"])

    yield schedule
    for jobid in jobids:
        db.execute("select cron.unschedule(%s)", (jobid,))
        db.execute("delete from cron.job_run_details where jobid = %s", (jobid,))
    db.execute("select monitoring_internal.register_cron_jobs()")


def test_a_failing_job_makes_cron_health_report_it(db: DB, unique: str, cron_job: Any) -> None:
    # Calls into monitoring (so it is this project's job) and fails at every run.
    jobid = cron_job(unique, "* * * * *", "select 1/0 from monitoring.health_thresholds")
    db.execute("select monitoring_internal.register_cron_jobs()")

    run = wait_for(
        f"pg_cron to run job {unique}",
        lambda: db.execute(
            "select status, return_message from cron.job_run_details"
            " where jobid = %s and status in ('succeeded', 'failed') order by runid limit 1",
            (jobid,),
        ).fetchone(),
        CRON_TIMEOUT_S,
    )
    assert run["status"] == "failed"

    health = health_as_service_role(db)
    job = problem(health, unique)
    assert job is not None, health["cron_health"]
    assert "failed" in job["problems"]
    assert job["last_run_status"] == "failed"
    assert job["consecutive_failures"] >= 1
    assert "division by zero" in job["last_message"]
    assert health["cron_health"]["failed_jobs"] >= 1
    assert health["cron_health"]["status"] in ("warning", "critical")
    assert health["overall_status"] in ("warning", "critical")


def test_a_job_that_misses_its_schedule_is_reported_missed(
    db: DB, unique: str, cron_job: Any
) -> None:
    # Due every 1 January: seen since long before the last one, it never ran.
    jobid = cron_job(unique, "0 0 1 1 *", "select monitoring.prune_cron_history()")
    db.execute("select monitoring_internal.register_cron_jobs()")
    health = health_as_service_role(db)
    assert problem(health, unique) is None, "a job first seen now is not missed yet"

    db.execute(
        "update monitoring_internal.cron_job_registry"
        " set first_seen_at = now() - interval '2 years' where jobid = %s",
        (jobid,),
    )
    health = health_as_service_role(db)
    job = problem(health, unique)
    assert job is not None, health["cron_health"]
    assert job["problems"] == ["missed"]
    assert job["expected_interval_seconds"] == 365 * 86400
    assert datetime.fromisoformat(job["last_due_at"]).strftime("%m-%d %H:%M") == "01-01 00:00"
    assert health["cron_health"]["missed_jobs"] >= 1
    assert health["cron_health"]["status"] in ("warning", "critical")

    # Paused on purpose: not judged.
    db.execute("select cron.alter_job(%s, active := false)", (jobid,))
    assert problem(health_as_service_role(db), unique) is None


def test_a_worker_that_stops_reporting_turns_silent(db: DB, unique: str) -> None:
    instance = uuid.uuid4()
    try:
        with db.transaction():
            db.execute("set local role service_role")
            db.execute(
                "select monitoring.record_worker_heartbeat(%s, %s, 'it-host', 4242, 'it', now())",
                (instance, unique),
            )
        health = health_as_service_role(db)
        assert unique not in health["worker_health"]["silent_worker_names"]

        # Its last heartbeat, six minutes ago (the default threshold is five).
        db.execute(
            "update monitoring.worker_heartbeats"
            " set last_seen_at = now() - interval '6 minutes' where id = %s",
            (instance,),
        )
        health = health_as_service_role(db)
        assert unique in health["worker_health"]["silent_worker_names"]
        assert health["worker_health"]["silent_workers"] >= 1
        assert health["worker_health"]["status"] in ("warning", "critical")
        status = db.execute(
            "select status from monitoring.worker_status where id = %s", (instance,)
        ).fetchone()
        assert status == {"status": "silent"}

        # Closing cleanly (its last heartbeat says so) is not silence.
        db.execute(
            "select monitoring.record_worker_heartbeat(%s, %s, 'it-host', 4242, 'it', now(), true)",
            (instance, unique),
        )
        health = health_as_service_role(db)
        assert unique not in health["worker_health"]["silent_worker_names"]
    finally:
        db.execute("delete from monitoring.worker_heartbeats where id = %s", (instance,))


def test_a_growing_queue_is_recorded_every_minute_and_its_trend_rises(db: DB, unique: str) -> None:
    start = db.execute("select now() as t").fetchone()
    assert start is not None
    t0: datetime = start["t"]
    try:
        # Five minutes of a queue growing by 100 messages a minute, recorded as the job would.
        for minute in range(5):
            at = t0 - timedelta(minutes=5 - minute)
            db.execute(
                "insert into monitoring.queue_snapshots (queue_name, queue_length, stuck_messages,"
                " oldest_msg_age_sec, details, captured_at) values (%s, %s, 0, %s, %s, %s)",
                (unique, 100 * (minute + 1), 60 * (minute + 1), Jsonb({}), at),
            )
            db.execute("select monitoring.record_queue_depths(%s)", (at,))
        trend = db.execute(
            "select samples, first_depth, last_depth, avg_depth_first_third,"
            " avg_depth_middle_third, avg_depth_last_third, last_oldest_msg_age_sec, approximate"
            " from monitoring.queue_depth_trend(30, %s) where queue_name = %s",
            (t0, unique),
        ).fetchone()
        assert trend is not None
        assert (trend["samples"], trend["first_depth"], trend["last_depth"]) == (5, 100, 500)
        thirds = [trend[f"avg_depth_{t}_third"] for t in ("first", "middle", "last")]
        assert thirds == sorted(set(thirds)), "each third deeper than the one before"
        assert trend["last_oldest_msg_age_sec"] == 300
        assert trend["approximate"] is False

        # The hourly view adds up the same samples (pg_cron may have recorded one more meanwhile).
        hourly = db.execute(
            "select h.samples, h.max_depth, r.raw_samples, r.raw_max"
            " from (select sum(samples) as samples, max(max_depth) as max_depth"
            "       from monitoring.queue_depth_hourly where queue_name = %(q)s) as h,"
            "      (select count(*) as raw_samples, max(metric_value) as raw_max"
            "       from monitoring.pipeline_metrics"
            "       where metric_name = 'queue_depth' and tags ->> 'queue' = %(q)s) as r",
            {"q": unique},
        ).fetchone()
        assert hourly is not None
        assert hourly["samples"] == hourly["raw_samples"] >= 5
        assert hourly["max_depth"] == hourly["raw_max"] == 500

        # And pg_cron's queue-depth-history job records it on its own.
        db.execute(
            "insert into monitoring.queue_snapshots (queue_name, queue_length, captured_at)"
            " values (%s, 600, now())",
            (unique,),
        )
        recorded = wait_for(
            "the queue-depth-history job to record the queue",
            lambda: db.execute(
                "select metric_value, tags from monitoring.pipeline_metrics"
                " where metric_name = 'queue_depth' and tags ->> 'queue' = %s"
                ' and "timestamp" > %s',
                (unique, t0),
            ).fetchone(),
            CRON_TIMEOUT_S,
        )
        assert recorded["metric_value"] == 600
        assert recorded["tags"] == {"queue": unique, "source": "snapshot", "approximate": False}
    finally:
        db.execute("delete from monitoring.queue_snapshots where queue_name = %s", (unique,))
        db.execute(
            "delete from monitoring.pipeline_metrics"
            " where metric_name like 'queue\\_%%' and tags ->> 'queue' = %s",
            (unique,),
        )

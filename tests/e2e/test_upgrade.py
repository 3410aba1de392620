"""Upgrading a released schema keeps every row (the harness later schema changes rely on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from e2e_project import E2EStack
from e2e_upgrade import released_versions, upgrade_keeps_rows

pytestmark = pytest.mark.timeout(600)


def write_spec_rows(conn: psycopg.Connection[tuple[Any, ...]]) -> list[str]:
    """A few rows in each table other platform workers write, with the spec's columns."""
    conn.execute(
        "insert into monitoring.pipeline_metrics (metric_name, metric_value, tags) values "
        '(\'queue_processing\', 12.5, \'{"queue": "upgrade", "success_count": 3}\'), '
        '(\'api_call\', 80, \'{"api": "spotify", "success": true}\')'
    )
    # Days the partitioned table stores in different places: inside retention,
    # long expired, and clock-skewed past tomorrow (moved out of the legacy range).
    conn.execute(
        'insert into monitoring.pipeline_metrics (metric_name, metric_value, "timestamp") values '
        "('upgrade.days_ago', 1, now() - interval '13 days'), "
        "('upgrade.ancient', 2, '2001-01-01 00:00+00'), "
        "('upgrade.skewed', 3, now() + interval '2 days'), "
        "('upgrade.far_future', 4, '2035-01-01 00:00+00')"
    )
    conn.execute(
        "insert into monitoring.worker_issues (worker_name, issue_type, severity, message) "
        "values ('upgrade-probe', 'probe', 'warning', 'kept across upgrades')"
    )
    conn.execute(
        "insert into monitoring.queue_snapshots (queue_name, queue_length, stuck_messages) "
        "values ('upgrade', 7, 1)"
    )
    conn.execute(
        "insert into public.monitoring_events (event_type, details) "
        "values ('upgrade_probe', '{\"step\": 1}')"
    )
    return [
        "monitoring.pipeline_metrics",
        "monitoring.worker_issues",
        "monitoring.queue_snapshots",
        "public.monitoring_events",
    ]


@pytest.mark.parametrize("version", released_versions())
def test_upgrading_a_release_to_the_current_migrations_keeps_every_row(
    version: str, e2e_stack: E2EStack, tmp_path: Path
) -> None:
    assert upgrade_keeps_rows(e2e_stack, tmp_path, version, write_spec_rows) == {}
    with e2e_stack.db() as conn:
        where = dict(
            conn.execute(
                "select metric_name, tableoid::regclass::text from monitoring.pipeline_metrics "
                "where metric_name like 'upgrade.%'"
                " or metric_name in ('queue_processing', 'api_call')"
            ).fetchall()
        )
        total = conn.execute("select count(*) from monitoring.pipeline_metrics").fetchone()
    legacy = "monitoring_internal.pipeline_metrics_legacy"
    assert total == (6,), "no row doubled by the move out of the legacy range"
    assert {where[m] for m in ("queue_processing", "api_call", "upgrade.days_ago")} == {legacy}
    assert where["upgrade.ancient"] == legacy
    assert where["upgrade.skewed"].startswith("monitoring_internal.pipeline_metrics_p")
    assert where["upgrade.far_future"] == "monitoring_internal.pipeline_metrics_default"


def test_the_harness_reports_rows_an_upgrade_deletes_or_changes(
    e2e_stack: E2EStack, tmp_path: Path
) -> None:
    lossy = (
        "delete from monitoring.worker_issues where worker_name = 'upgrade-probe';\n"
        "update monitoring.queue_snapshots set queue_length = queue_length + 1;\n"
    )
    lost = upgrade_keeps_rows(
        e2e_stack,
        tmp_path,
        released_versions()[-1],
        write_spec_rows,
        extra={"29991231000000_e2e_loses_rows.sql": lossy},
    )
    assert sorted(lost) == ["monitoring.queue_snapshots", "monitoring.worker_issues"]
    assert lost["monitoring.worker_issues"][0]["message"] == "kept across upgrades"
    assert lost["monitoring.queue_snapshots"][0]["queue_length"] == 7

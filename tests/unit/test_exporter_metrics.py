"""Exporter families and cache: generic health components, hostile names, the cache TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from supabase_monitoring.exporter.server import CachedCollector
from supabase_monitoring.exporter.snapshot import Snapshot
from supabase_monitoring.models import ApiMetricsRow, SystemHealth

NOW = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


def health(**extra: Any) -> SystemHealth:
    doc: dict[str, Any] = {"overall_status": "warning", "timestamp": NOW.isoformat()}
    for c in ("queue_health", "processing_health", "worker_health"):
        doc[c] = {"status": "healthy"}
    doc["queue_health"]["total_stuck_messages"] = 7
    doc.update(extra)
    return SystemHealth.model_validate(doc)


def snapshot(h: SystemHealth, **fields: Any) -> Snapshot:
    return Snapshot(
        taken_at=NOW,
        duration_seconds=0.01,
        window_start=NOW - timedelta(minutes=30),
        health=h,
        sources={"health": True},
        **fields,
    )


def scrape(collector: CachedCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(f"supabase_monitoring_{name}", frozenset(labels.items()))]


def test_components_added_later_are_exported_without_code_changes() -> None:
    h = health(
        cron_health={
            "status": "critical",
            "failed_jobs": 2,
            "jobs": [
                {"jobname": "hourly", "status": "failed", "last_run_at": "2026-12-01T12:05:00Z"},
                {"jobname": "daily", "status": "healthy", "seconds_since_success": 30.5},
            ],
        },
        worker_heartbeats={
            "status": "warning",
            "workers": [{"worker_name": "ingest-1", "seconds_since_heartbeat": 75, "alive": True}],
        },
    )
    text = scrape(CachedCollector(lambda: snapshot(h)))
    assert value(text, "component_status", component="cron_health", status="critical") == 1
    assert value(text, "component_status", component="cron_health", status="healthy") == 0
    assert value(text, "cron_health_failed_jobs") == 2
    assert value(text, "cron_health_jobs_status", jobname="hourly", status="failed") == 1
    assert value(text, "cron_health_jobs_status", jobname="daily", status="healthy") == 1
    assert (
        value(text, "cron_health_jobs_last_run_at_timestamp_seconds", jobname="hourly")
        == datetime(2026, 12, 1, 12, 5, tzinfo=UTC).timestamp()
    )
    assert value(text, "cron_health_jobs_seconds_since_success", jobname="daily") == 30.5
    name = "worker_heartbeats_workers_seconds_since_heartbeat"
    assert value(text, name, worker_name="ingest-1") == 75
    assert value(text, "worker_heartbeats_workers_alive", worker_name="ingest-1") == 1
    assert value(text, "queue_health_total_stuck_messages") == 7
    assert value(text, "health_status_code") == 1


def test_hostile_names_are_escaped_and_do_not_break_the_scrape() -> None:
    name = 'evil"}\nsupabase_monitoring_up 1\n{'
    rows = [ApiMetricsRow(api_name=name, hour=NOW, total_calls=10, error_count=5, p95_time_ms=20.0)]
    text = scrape(CachedCollector(lambda: snapshot(health(), api_hours=rows)))
    assert "\nsupabase_monitoring_up 1\n" not in text
    assert 'api="evil\\"}\\nsupabase_monitoring_up 1\\n{"' in text
    assert "supabase_monitoring_api_error_ratio" in text


def test_cache_serves_within_ttl_and_refreshes_after() -> None:
    calls = []

    def refresh() -> Snapshot:
        calls.append(1)
        return snapshot(health())

    cached = CachedCollector(refresh, ttl=3600)
    scrape(cached)
    scrape(cached)
    assert len(calls) == 1
    always = CachedCollector(refresh, ttl=0)
    scrape(always)
    scrape(always)
    assert len(calls) == 3


def test_a_failing_refresh_still_answers_with_up_zero() -> None:
    def refresh() -> Snapshot:
        raise RuntimeError("boom")

    collector = CachedCollector(refresh, ttl=0)
    text = scrape(collector)
    assert value(text, "up") == 0
    assert value(text, "exporter_refresh_errors_total") == 1

"""Bad input is refused at the call site, before any request, without harming other metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from fractions import Fraction
from typing import Any

import pytest
import respx
from sdk_support import api, sync_client

from supabase_monitoring import InvalidInputError, MonitoringClient, Severity
from supabase_monitoring.testing import InMemoryRecorder

__all__ = ["api"]

Call = Callable[[MonitoringClient], object]
NOW = datetime.now(UTC)


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


BAD_INPUT: dict[str, tuple[Call, str]] = {
    "empty metric name": (lambda m: m.record_metric("", 1), "metric_name must not be empty"),
    "blank metric name": (lambda m: m.record_metric("   ", 1), "metric_name must not be empty"),
    "overlong metric name": (lambda m: m.record_metric("x" * 201, 1), "metric_name is 201"),
    "metric name not text": (lambda m: m.record_metric(None, 1), "metric_name must be a string"),  # type: ignore[arg-type]
    "NaN value": (lambda m: m.record_metric("m", float("nan")), "finite"),
    "inf value": (lambda m: m.record_metric("m", float("inf")), "finite"),
    "-inf value": (lambda m: m.record_metric("m", float("-inf")), "finite"),
    "value as text": (lambda m: m.record_metric("m", "12"), "metric_value must be a number"),  # type: ignore[arg-type]
    "bool value": (lambda m: m.record_metric("m", True), "metric_value must be a number"),
    "tags not a mapping": (lambda m: m.record_metric("m", 1, ["a"]), "tags must be a mapping"),  # type: ignore[arg-type]
    "unserialisable tag": (
        lambda m: m.record_metric("m", 1, {"k": object()}),
        "not JSON-serialisable",
    ),
    "datetime tag": (lambda m: m.record_metric("m", 1, {"at": NOW}), "not JSON-serialisable"),
    "inf tag": (lambda m: m.record_metric("m", 1, {"k": float("inf")}), "finite"),
    "nested NaN in details": (
        lambda m: m.record_event("e", {"k": {"x": [float("nan")]}}),
        "NaN or infinity",
    ),
    "object tag": (
        lambda m: m.record_metric("m", 1, {"k": {"x": 1}}),
        "tags['k'] is an object: tags are flat",
    ),
    "array tag": (lambda m: m.record_metric("m", 1, {"k": [1, 2]}), "tags['k'] is an array"),
    "tuple tag": (lambda m: m.record_api_call("a", 1, True, tags={"k": ("x",)}), "is an array"),
    "tag nested 200 levels deep": (
        lambda m: m.record_processing_metric("q", 1, 1, 0, tags={"deep": _deep(200)}),
        "tags['deep'] is an object",
    ),
    "non-text tag key": (lambda m: m.record_metric("m", 1, {1: "a"}), "keys must be strings"),  # type: ignore[dict-item]
    "empty tag key": (lambda m: m.record_metric("m", 1, {"": "a"}), "keys must not be empty"),
    "oversized tags": (lambda m: m.record_metric("m", 1, {"k": "x" * 9000}), "larger than"),
    "oversized nested details": (
        lambda m: m.record_event("e", {"k": ["x" * 1000] * 100}),
        "larger than",
    ),
    "too many tags": (
        lambda m: m.record_metric("m", 1, {f"k{i}": i for i in range(65)}),
        "65 keys",
    ),
    "naive timestamp": (
        lambda m: m.record_metric("m", 1, timestamp=datetime.now()),
        "timezone-aware",
    ),
    "timestamp as text": (
        lambda m: m.record_metric("m", 1, timestamp="2026-01-01T00:00:00Z"),  # type: ignore[arg-type]
        "timestamp must be a datetime",
    ),
    "negative processing time": (
        lambda m: m.record_processing_metric("q", -1, 1, 0),
        "processing_time_ms must not be negative",
    ),
    "negative count": (
        lambda m: m.record_processing_metric("q", 1, -1, 0),
        "success_count must not be negative",
    ),
    "fractional count": (
        lambda m: m.record_processing_metric("q", 1, 1.5, 0),  # type: ignore[arg-type]
        "success_count must be an integer",
    ),
    "count beyond int32": (
        lambda m: m.record_processing_metric("q", 1, 0, 2**31),
        "error_count must be at most",
    ),
    "reserved tag": (
        lambda m: m.record_processing_metric("q", 1, 1, 0, tags={"queue": "other"}),
        "must not set 'queue'",
    ),
    "empty queue name": (lambda m: m.record_processing_metric("", 1, 1, 0), "queue_name"),
    "success not bool": (
        lambda m: m.record_api_call("a", 1, "yes"),  # type: ignore[arg-type]
        "success must be a bool",
    ),
    "impossible status code": (
        lambda m: m.record_api_call("a", 1, True, status_code=999),
        "status_code must be an HTTP status",
    ),
    "NaN duration": (lambda m: m.record_api_call("a", float("nan"), True), "finite"),
    "empty api name": (lambda m: m.record_api_call("", 1, True), "api_name must not be empty"),
    "unknown severity": (
        lambda m: m.log_worker_issue("w", "t", "m", "fatal"),
        "severity must be one of info, warning, error, critical",
    ),
    "severity in capitals": (lambda m: m.log_worker_issue("w", "t", "m", "WARNING"), "severity"),
    "overlong message": (lambda m: m.log_worker_issue("w", "t", "x" * 10_001), "message is"),
    "oversized details": (
        lambda m: m.log_worker_issue("w", "t", "m", details={"blob": "x" * 70_000}),
        "details is larger",
    ),
    "empty issue type": (lambda m: m.log_worker_issue("w", "", "m"), "issue_type"),
    "naive issue time": (
        lambda m: m.log_worker_issue("w", "t", "m", created_at=datetime(2026, 1, 1)),
        "created_at must be timezone-aware",
    ),
    "NUL in a name": (lambda m: m.record_metric("a\x00b", 1), "metric_name contains a NUL"),
    "NUL in a tag": (lambda m: m.record_metric("m", 1, {"k": "a\x00"}), "NUL"),
    "surrogate in a tag": (lambda m: m.record_metric("m", 1, {"k": "\ud800"}), "surrogate"),
    "surrogate in a tag key": (lambda m: m.record_metric("m", 1, {"\udc00": 1}), "surrogate"),
    "NUL in a message": (lambda m: m.log_worker_issue("w", "t", "x\x00"), "message contains"),
    "NUL nested in details": (
        lambda m: m.record_event("e", {"d": {"x": ["\x00"]}}),
        "NUL",
    ),
    "surrogate nested in details": (
        lambda m: m.record_event("e", {"d": ["\ud83d"]}),
        "surrogate",
    ),
    "empty event type": (lambda m: m.record_event(""), "event_type must not be empty"),
    "event details not JSON": (
        lambda m: m.record_event("e", {"s": {1, 2}}),
        "not JSON-serialisable",
    ),
    "stuck beyond length": (
        lambda m: m.record_queue_snapshot("q", 5, 6),
        "stuck_messages (6) cannot exceed queue_length (5)",
    ),
    "negative queue length": (lambda m: m.record_queue_snapshot("q", -1), "queue_length"),
    "negative age": (
        lambda m: m.record_queue_snapshot("q", 1, oldest_msg_age_sec=-5),
        "oldest_msg_age_sec must not be negative",
    ),
    "issue id not a uuid": (lambda m: m.resolve_worker_issue("42"), "issue_id is not a UUID"),
}


@pytest.fixture
def all_routes(api: respx.MockRouter) -> respx.MockRouter:
    for path in ("/pipeline_metrics", "/worker_issues", "/monitoring_events", "/queue_snapshots"):
        api.post(path).respond(201)
    api.patch("/worker_issues").respond(200, json=[])
    return api


@pytest.mark.parametrize(("call", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_strict_mode_raises_before_any_request(
    all_routes: respx.MockRouter, call: Call, message: str
) -> None:
    with sync_client(strict=True) as monitor, pytest.raises(InvalidInputError) as info:
        call(monitor)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    assert all_routes.calls.call_count == 0


@pytest.mark.parametrize(("call", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_default_mode_logs_and_drops(
    all_routes: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    call: Call,
    message: str,
) -> None:
    with caplog.at_level(logging.ERROR, logger="supabase_monitoring"), sync_client() as monitor:
        result = call(monitor)
        stats = monitor.stats
    assert result in (False, None)
    assert all_routes.calls.call_count == 0
    assert any(message in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert (stats.invalid, stats.enqueued) == (1, 0)  # dropped and counted, never submitted


def test_a_nested_tag_is_dropped_and_counted_while_flat_ones_are_kept() -> None:
    recorder = InMemoryRecorder()
    monitor = MonitoringClient(sink=recorder, disabled=False)
    assert monitor.record_metric("m", 1, {"queue": "a", "n": 2, "ok": True, "none": None})
    assert monitor.record_metric("m", 2, {"queue": "a", "nested": {"x": 1}}) is False
    assert monitor.record_metric("m", 3, {"queue": "a", "list": ["x"]}) is False
    assert [m.metric_value for m in recorder.metrics()] == [1.0]
    assert monitor.stats.invalid == 2
    assert monitor.stats.enqueued == 1


def test_a_bad_metric_does_not_affect_the_others() -> None:
    recorder = InMemoryRecorder()
    monitor = MonitoringClient(sink=recorder, disabled=False)
    assert monitor.record_metric("good", 1)
    assert monitor.record_metric("bad", float("nan")) is False
    assert monitor.record_metric("good", 2)
    assert [m.metric_value for m in recorder.metrics()] == [1.0, 2.0]


def test_read_side_arguments_are_checked(all_routes: respx.MockRouter) -> None:
    with sync_client() as monitor:
        with pytest.raises(InvalidInputError, match="severity"):
            monitor.list_open_worker_issues(severity="fatal")
        with pytest.raises(InvalidInputError, match="period"):
            monitor.get_aggregated_metrics(period="monthly")
        with pytest.raises(InvalidInputError, match="limit"):
            monitor.get_queue_metrics(limit=0)
        with pytest.raises(InvalidInputError, match="since"):
            monitor.get_api_metrics(since=datetime(2026, 1, 1))
    assert all_routes.calls.call_count == 0


class Queue(str, Enum):
    ARTISTS = "artists"


def test_accepted_edge_values() -> None:
    recorder = InMemoryRecorder()
    monitor = MonitoringClient(sink=recorder, strict=True, disabled=False)
    monitor.record_metric("m", Fraction(1, 4), {"queue": Queue.ARTISTS, "n": None, "ok": True})
    monitor.record_metric("x" * 200, -3)
    monitor.log_worker_issue("w", "t", None, Severity.CRITICAL)
    monitor.record_processing_metric(Queue.ARTISTS, 0, 0, 0)
    monitor.record_event("é", {"emoji": "🎵", "nested": ["ünï", {"k": "✓"}]})
    first, second, third = recorder.rows()[0], recorder.rows()[1], recorder.rows()[-2]
    assert recorder.events("é")[0].details["nested"] == ["ünï", {"k": "✓"}]
    assert first["metric_value"] == 0.25
    assert first["tags"] == {"queue": "artists", "n": None, "ok": True}
    assert type(first["tags"]["queue"]) is str
    assert second["metric_value"] == -3.0
    assert third["tags"]["queue"] == "artists"
    assert recorder.worker_issues()[0].severity is Severity.CRITICAL


def test_recorded_rows_do_not_follow_later_mutation() -> None:
    recorder = InMemoryRecorder()
    monitor = MonitoringClient(sink=recorder, strict=True, disabled=False)
    tags: dict[str, Any] = {"queue": "a", "n": 1}
    details: dict[str, Any] = {"nested": {"k": [1]}}
    monitor.record_metric("m", 1, tags)
    monitor.record_event("e", details)
    tags["queue"] = "b"
    details["nested"]["k"].append(2)
    assert recorder.rows()[0]["tags"] == {"queue": "a", "n": 1}
    assert recorder.events("e")[0].details == {"nested": {"k": [1]}}

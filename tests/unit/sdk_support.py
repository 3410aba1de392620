"""Shared helpers for the SDK unit tests (respx against a fake project URL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from supabase_monitoring import AsyncMonitoringClient, MonitoringClient, RetryPolicy

URL = "http://sdk.test"
REST = f"{URL}/rest/v1"
# Shaped like a real service_role JWT so the redaction of JWT-looking text is exercised too.
KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIiwidW5pdCI6InRlc3QifQ."
    "c2VjcmV0LXNpZ25hdHVyZS1mb3ItdW5pdC10ZXN0cw"
)
# Waits of zero: retries happen at once, the test only counts them.
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0, max_backoff=0, max_elapsed=30)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A respx router for the fake project; unmatched requests fail the test."""
    with respx.mock(base_url=REST, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def sync_client(**options: Any) -> MonitoringClient:
    # Direct writes: one request per record call, so request shapes and
    # failure paths are observable at the call (test_batching_requests covers batching).
    options.setdefault("retry", FAST_RETRY)
    if "sink" not in options:
        options.setdefault("batching", False)
    options.setdefault("disabled", False)
    return MonitoringClient(URL, KEY, **options)


def async_client(**options: Any) -> AsyncMonitoringClient:
    options.setdefault("retry", FAST_RETRY)
    if "sink" not in options:
        options.setdefault("batching", False)
    options.setdefault("disabled", False)
    return AsyncMonitoringClient(URL, KEY, **options)


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def pg_error(status: int, code: str, message: str = "boom") -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": message, "details": None, "hint": None}
    )


def health_document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "timestamp": "2026-11-27T12:00:00+00:00",
        "overall_status": "healthy",
        "queue_health": {
            "status": "healthy",
            "queues_checked": 2,
            "queues_with_issues": 0,
            "total_stuck_messages": 0,
            "last_check_time": None,
        },
        "processing_health": {
            "status": "healthy",
            "window_minutes": 15,
            "total_batches": 4,
            "messages_processed": 40,
            "batch_error_rate": 0.0,
            "throughput_per_minute": 2.67,
            "api_calls": 3,
            "api_error_rate": None,
        },
        "worker_health": {
            "status": "healthy",
            "open_issues": 0,
            "critical_issues": 0,
            "error_issues": 0,
            "warning_issues": 0,
            "info_issues": 0,
        },
    }
    doc.update(overrides)
    return doc


def effect(make: Any) -> Any:
    """A respx side effect answering with make(), raising it when it is an exception."""

    def side_effect(request: httpx.Request) -> httpx.Response:
        result = make()
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[no-any-return]

    return side_effect

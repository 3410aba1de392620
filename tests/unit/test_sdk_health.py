"""get_system_health: parsing, retries, and the spec's "unknown" fallback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx
from sdk_support import (
    FAST_RETRY,
    api,
    async_client,
    effect,
    health_document,
    pg_error,
    sync_client,
)

from supabase_monitoring import (
    HealthStatus,
    InvalidResponseError,
    MonitoringClient,
    PermissionDeniedError,
    ServerError,
    SystemHealth,
    TransientError,
)
from supabase_monitoring.testing import InMemoryRecorder

__all__ = ["api"]

HEALTH = "/rpc/get_system_health"


def test_parses_every_component(api: respx.MockRouter) -> None:
    doc = health_document(overall_status="critical")
    doc["worker_health"] = {**doc["worker_health"], "status": "critical", "critical_issues": 2}
    doc["queue_health"] = {**doc["queue_health"], "oldest_stuck_age_sec": 900}  # a later addition
    api.post(HEALTH).respond(200, json=doc)
    with sync_client() as monitor:
        health = monitor.get_system_health()
    assert health.overall_status is HealthStatus.CRITICAL
    assert health.is_critical
    assert not health.is_healthy
    assert health.worker_health is not None
    assert health.worker_health.critical_issues == 2
    assert health.queue_health is not None
    assert health.queue_health.model_extra == {"oldest_stuck_age_sec": 900}
    assert health.timestamp is not None
    assert health.timestamp.utcoffset() is not None


def test_transient_failures_are_retried(api: respx.MockRouter) -> None:
    route = api.post(HEALTH)
    route.side_effect = [
        httpx.ConnectError("refused"),
        pg_error(503, "PGRST001"),
        httpx.Response(200, json=health_document()),
    ]
    with sync_client() as monitor:
        assert monitor.get_system_health().overall_status is HealthStatus.HEALTHY
    assert route.call_count == 3


NOT_HEALTH: dict[str, Callable[[], httpx.Response]] = {
    "200 html page": lambda: httpx.Response(
        200, text="<html><body>Captive portal</body></html>", headers={"content-type": "text/html"}
    ),
    "200 null": lambda: httpx.Response(200, json=None),
    "200 error object": lambda: httpx.Response(200, json={"error": "nope"}),
    "200 list": lambda: httpx.Response(200, json=[health_document()]),
    "200 unknown status": lambda: httpx.Response(
        200, json=health_document(overall_status="unknown")
    ),
    "200 bogus status": lambda: httpx.Response(200, json=health_document(overall_status="fine")),
    "200 missing component": lambda: httpx.Response(
        200, json={k: v for k, v in health_document().items() if k != "worker_health"}
    ),
    "200 rate above one": lambda: httpx.Response(
        200,
        json=health_document(
            processing_health={**health_document()["processing_health"], "batch_error_rate": 3}
        ),
    ),
}


@pytest.mark.parametrize("make", NOT_HEALTH.values(), ids=NOT_HEALTH.keys())
def test_a_2xx_that_is_not_a_health_document_is_a_failure(
    api: respx.MockRouter, make: Callable[[], httpx.Response], caplog: pytest.LogCaptureFixture
) -> None:
    route = api.post(HEALTH).mock(side_effect=effect(make))
    with caplog.at_level(logging.WARNING, logger="supabase_monitoring"), sync_client() as monitor:
        health = monitor.get_system_health()
    assert health.overall_status is HealthStatus.UNKNOWN
    assert health.error is not None
    assert "health document" in health.error
    assert (health.queue_health, health.processing_health, health.worker_health) == (None,) * 3
    assert route.call_count == 1  # garbage is not retried
    assert "health check failed" in caplog.text


def test_html_answer_raises_when_asked(api: respx.MockRouter) -> None:
    api.post(HEALTH).respond(200, text="<html>hi</html>", headers={"content-type": "text/html"})
    with sync_client() as monitor, pytest.raises(InvalidResponseError, match="<html>"):
        monitor.get_system_health(raise_on_error=True)


FAILURES: dict[str, tuple[Callable[[], Any], type[Exception], int]] = {
    "server error": (lambda: pg_error(500, "XX000", "internal"), ServerError, 1),
    "permission": (lambda: pg_error(401, "42501", "denied"), PermissionDeniedError, 1),
    "outage": (lambda: httpx.ConnectError("refused"), TransientError, FAST_RETRY.max_attempts),
    "missing function": (lambda: pg_error(404, "PGRST202", "not found"), Exception, 1),
}


@pytest.mark.parametrize(("make", "exc_type", "attempts"), FAILURES.values(), ids=FAILURES.keys())
def test_failures_fall_back_to_unknown(
    api: respx.MockRouter, make: Callable[[], Any], exc_type: type[Exception], attempts: int
) -> None:
    route = api.post(HEALTH).mock(side_effect=effect(make))
    with sync_client() as monitor:
        health = monitor.get_system_health()
    assert health == SystemHealth(overall_status=HealthStatus.UNKNOWN, error=health.error)
    assert health.error
    assert route.call_count == attempts


@pytest.mark.parametrize(("make", "exc_type", "attempts"), FAILURES.values(), ids=FAILURES.keys())
def test_failures_raise_when_asked(
    api: respx.MockRouter, make: Callable[[], Any], exc_type: type[Exception], attempts: int
) -> None:
    api.post(HEALTH).mock(side_effect=effect(make))
    with sync_client() as monitor, pytest.raises(exc_type):
        monitor.get_system_health(raise_on_error=True)


def test_strict_client_raises_by_default_but_can_fall_back(api: respx.MockRouter) -> None:
    api.post(HEALTH).respond(500, text="oops")
    with sync_client(strict=True) as monitor:
        with pytest.raises(ServerError):
            monitor.get_system_health()
        assert (
            monitor.get_system_health(raise_on_error=False).overall_status is HealthStatus.UNKNOWN
        )


async def test_async_fallback_and_success(api: respx.MockRouter) -> None:
    route = api.post(HEALTH)
    route.side_effect = [
        httpx.Response(200, text="<html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json=health_document(overall_status="warning")),
    ]
    async with async_client() as monitor:
        first = await monitor.get_system_health()
        second = await monitor.get_system_health()
    assert first.overall_status is HealthStatus.UNKNOWN
    assert second.overall_status is HealthStatus.WARNING


def test_sink_only_client_has_no_health() -> None:
    monitor = MonitoringClient(sink=InMemoryRecorder(), disabled=False)
    health = monitor.get_system_health()
    assert health.overall_status is HealthStatus.UNKNOWN
    assert health.error is not None
    assert "no database connection" in health.error

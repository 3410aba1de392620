"""The default batching writer on the wire: bulk upserts, retried batches, isolation."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from sdk_support import FAST_RETRY, KEY, URL, api, body

from supabase_monitoring import (
    AsyncMonitoringClient,
    BatchingConfig,
    MonitoringClient,
    MonitoringError,
)

__all__ = ["api"]

CONFIG = BatchingConfig(max_batch_size=250, flush_interval=0.05, retry_initial=0.01, retry_max=0.02)


def client(**options: object) -> MonitoringClient:
    return MonitoringClient(URL, KEY, retry=FAST_RETRY, disabled=False, batching=CONFIG, **options)  # type: ignore[arg-type]


def bulk_rows(calls: respx.models.CallList) -> list[dict[str, object]]:
    return [row for call in calls for row in body(call.request)]


def test_metrics_go_out_as_bulk_upserts_that_ignore_duplicates(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    events = api.post("/monitoring_events").respond(201)
    with client(strict=True) as monitor:
        for i in range(600):
            assert monitor.record_api_call("spotify", float(i), True)
        monitor.record_event("pipeline_started", {"run": 1})
        assert monitor.flush(timeout=10)
    requests = [call.request for call in route.calls]
    assert 3 <= len(requests) <= 10  # batched, not one request per metric
    for request in requests:
        assert request.headers["content-profile"] == "monitoring"
        assert {p.strip() for p in request.headers["prefer"].split(",")} == {
            "return=minimal",
            "resolution=ignore-duplicates",
        }
        assert parse_qs(urlsplit(str(request.url)).query)["on_conflict"] == ["id"]
        assert len(body(request)) <= 250
    rows = bulk_rows(route.calls)
    assert sorted(r["metric_value"] for r in rows) == [float(i) for i in range(600)]
    assert len({r["id"] for r in rows}) == 600
    assert all(uuid.UUID(str(r["id"])).version == 7 for r in rows)
    assert events.calls.last.request.headers["content-profile"] == "public"


def test_a_batch_retried_after_a_lost_response_resends_the_same_ids(
    api: respx.MockRouter,
) -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), httpx.Response(201)])
    route = api.post("/pipeline_metrics").mock(side_effect=lambda request: next(answers))
    with client() as monitor:
        for i in range(100):
            monitor.record_metric("rows_read", i)
        assert monitor.flush(timeout=10)
        stats = monitor.stats
    attempts = [sorted(str(r["id"]) for r in body(c.request)) for c in route.calls]
    assert len(attempts) == 3
    assert attempts[0] == attempts[1] == attempts[2]  # same rows, same ids: ON CONFLICT dedups
    assert (stats.written, stats.retries, stats.dropped) == (100, 2, 0)


def test_permission_errors_are_not_retried_and_count_as_rejected(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(
        401, json={"code": "42501", "message": "permission denied for schema monitoring"}
    )
    with client() as monitor:
        monitor.record_metric("rows_read", 1)
        assert monitor.flush(timeout=10)
        stats = monitor.stats
    assert route.call_count == 1
    assert (stats.written, stats.rejected, stats.retries) == (0, 1, 0)


def test_a_row_the_server_refuses_does_not_take_its_batch_down(api: respx.MockRouter) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if any(r["metric_value"] == 13 for r in body(request)):
            return httpx.Response(400, json={"code": "23514", "message": "check violation"})
        return httpx.Response(201)

    route = api.post("/pipeline_metrics").mock(side_effect=answer)
    with client() as monitor:
        for i in range(40):
            monitor.record_metric("rows_read", i)
        assert monitor.flush(timeout=10)
        stats = monitor.stats
    written = [
        r["metric_value"]
        for c in route.calls
        if c.response.status_code == 201
        for r in body(c.request)
    ]
    assert sorted(written) == [i for i in range(40) if i != 13]
    assert (stats.written, stats.rejected) == (39, 1)


def test_strict_flush_raises_when_rows_were_rejected(api: respx.MockRouter) -> None:
    api.post("/pipeline_metrics").respond(400, json={"code": "23514", "message": "nope"})
    monitor = client(strict=True)
    monitor.record_metric("rows_read", 1)
    with pytest.raises(MonitoringError):  # a typed error, not a silent False
        monitor.flush(timeout=10)
    monitor.close(timeout=1)


async def test_async_client_batches_too(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    async with AsyncMonitoringClient(
        URL, KEY, retry=FAST_RETRY, disabled=False, batching=CONFIG
    ) as monitor:
        for i in range(500):
            monitor.record_api_call("discogs", float(i), i % 2 == 0)
        assert await monitor.flush(timeout=10)
    assert 2 <= route.call_count <= 10
    rows = bulk_rows(route.calls)
    assert len({r["id"] for r in rows}) == 500
    assert sum(1 for r in rows if r["tags"]["success"] == "false") == 250  # type: ignore[index]

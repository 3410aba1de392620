"""The default batching writer on the wire: metrics through monitoring.ingest_metrics (one
columnar call per batch), other tables as bulk upserts; retried batches, isolation, fallback."""

from __future__ import annotations

import logging
import uuid
from typing import Any
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
from supabase_monitoring._columns import MetricBatch
from supabase_monitoring._ids import block_ids, epoch_us
from supabase_monitoring._transport import AsyncTransport, SyncTransport

__all__ = ["api"]

CONFIG = BatchingConfig(max_batch_size=250, flush_interval=0.05, retry_initial=0.01, retry_max=0.02)
INGEST = "/rpc/ingest_metrics"
COLUMNS = "p_series,p_values,p_times_s,p_series_names,p_series_tags,p_id_prefix,p_id_start"


def client(**options: object) -> MonitoringClient:
    return MonitoringClient(URL, KEY, retry=FAST_RETRY, disabled=False, batching=CONFIG, **options)  # type: ignore[arg-type]


def ingested(request: httpx.Request) -> list[dict[str, Any]]:
    """The rows of one ingest_metrics call, as the function reads them."""
    doc = body(request)
    return [
        {
            "id": row_id,
            "metric_name": doc["p_series_names"][series - 1],
            "tags": doc["p_series_tags"][series - 1],
            "metric_value": value,
            "timestamp_us": epoch_us(seconds),
        }
        for row_id, series, value, seconds in zip(
            ids_of(doc), doc["p_series"], doc["p_values"], doc["p_times_s"], strict=True
        )
    ]


def ids_of(doc: dict[str, Any]) -> list[str]:
    """The ids ingest_metrics stores for one call (a block it spells out, or one per row)."""
    if "p_ids" in doc:
        return list(doc["p_ids"])
    return block_ids(doc["p_id_prefix"], doc["p_id_start"], len(doc["p_series"]))


def count_rows(request: httpx.Request) -> httpx.Response:
    """What ingest_metrics answers: the number of new rows."""
    return httpx.Response(200, json=len(body(request)["p_series"]))


def test_metrics_go_out_as_columnar_ingest_calls(api: respx.MockRouter) -> None:
    route = api.post(INGEST).mock(side_effect=count_rows)
    events = api.post("/monitoring_events").respond(201)
    with client(strict=True) as monitor:
        for i in range(600):
            assert monitor.record_api_call("spotify", float(i), i % 3 == 0)
        monitor.record_event("pipeline_started", {"run": 1})
        assert monitor.flush(timeout=10)
    requests = [call.request for call in route.calls]
    assert 3 <= len(requests) <= 10  # batched, not one request per metric
    for request in requests:
        assert request.headers["content-profile"] == "monitoring"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["apikey"] == KEY
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert parse_qs(urlsplit(str(request.url)).query)["columns"] == [COLUMNS]
        doc = body(request)
        assert set(doc) == set(COLUMNS.split(","))
        assert len(doc["p_series"]) <= 250
        assert len(doc["p_series_names"]) <= 2  # success true / false: each series once
    rows = [row for request in requests for row in ingested(request)]
    assert sorted(r["metric_value"] for r in rows) == [float(i) for i in range(600)]
    assert {r["metric_name"] for r in rows} == {"api_call"}
    assert sum(r["tags"] == {"api": "spotify", "success": "true"} for r in rows) == 200
    assert len({r["id"] for r in rows}) == 600
    assert all(uuid.UUID(str(r["id"])).version == 7 for r in rows)
    assert all(isinstance(r["timestamp_us"], int) for r in rows)
    assert events.calls.last.request.headers["content-profile"] == "public"
    assert body(events.calls.last.request)[0]["event_type"] == "pipeline_started"


def test_a_batch_retried_after_a_lost_response_resends_the_same_ids(
    api: respx.MockRouter,
) -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), None])
    route = api.post(INGEST).mock(side_effect=lambda r: next(answers) or count_rows(r))
    with client() as monitor:
        for i in range(100):
            monitor.record_metric("rows_read", i)
        assert monitor.flush(timeout=10)
        stats = monitor.stats
    attempts = [body(c.request) for c in route.calls]
    assert len(attempts) == 3
    assert attempts[0] == attempts[1] == attempts[2]  # same rows, same ids: ON CONFLICT dedups
    assert len(set(ids_of(attempts[0]))) == 100
    assert (stats.written, stats.retries, stats.dropped) == (100, 2, 0)


def test_a_success_without_the_row_count_is_retried_with_the_same_ids(
    api: respx.MockRouter,
) -> None:
    # A proxy's HTML page with status 200 proves nothing was written.
    answers = iter([httpx.Response(200, text="<html>maintenance</html>"), None])
    route = api.post(INGEST).mock(side_effect=lambda r: next(answers) or count_rows(r))
    with client() as monitor:
        for i in range(10):
            monitor.record_metric("rows_read", i)
        assert monitor.flush(timeout=10)
        stats = monitor.stats
    assert route.call_count == 2
    assert ids_of(body(route.calls[0].request)) == ids_of(body(route.calls[1].request))
    assert (stats.written, stats.retries) == (10, 1)


def test_permission_errors_are_not_retried_and_count_as_rejected(api: respx.MockRouter) -> None:
    route = api.post(INGEST).respond(
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
        if 13 in body(request)["p_values"]:
            return httpx.Response(400, json={"code": "23514", "message": "check violation"})
        return count_rows(request)

    route = api.post(INGEST).mock(side_effect=answer)
    with client() as monitor:
        for i in range(40):
            monitor.record_metric("rows_read", i)
        assert monitor.flush(timeout=10)
        stats = monitor.stats
    written = [
        r["metric_value"]
        for c in route.calls
        if c.response.status_code == 200
        for r in ingested(c.request)
    ]
    assert sorted(written) == [i for i in range(40) if i != 13]
    assert (stats.written, stats.rejected) == (39, 1)
    # Halving keeps every row's id: the refused row is finally sent alone, under its first id.
    first = body(route.calls[0].request)
    alone = [body(c.request) for c in route.calls if body(c.request)["p_values"] == [13]]
    assert [ids_of(doc) for doc in alone] == [[ids_of(first)[first["p_values"].index(13)]]]


def test_strict_flush_raises_when_rows_were_rejected(api: respx.MockRouter) -> None:
    api.post(INGEST).respond(400, json={"code": "23514", "message": "nope"})
    monitor = client(strict=True)
    monitor.record_metric("rows_read", 1)
    with pytest.raises(MonitoringError):  # a typed error, not a silent False
        monitor.flush(timeout=10)
    monitor.close(timeout=1)


def test_without_the_function_metrics_fall_back_to_bulk_inserts_once_and_for_all(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    # A database that has not applied the migration yet: PostgREST answers PGRST202.
    rpc = api.post(INGEST).respond(
        404, json={"code": "PGRST202", "message": "Could not find the function"}
    )
    bulk = api.post("/pipeline_metrics").respond(201)
    with caplog.at_level(logging.WARNING, "supabase_monitoring"), client() as monitor:
        for i in range(600):
            monitor.record_metric("rows_read", i)
        assert monitor.flush(timeout=10)
        stats = monitor.stats
    assert rpc.call_count == 1  # asked once; every later batch goes straight to the table
    rows = [row for call in bulk.calls for row in body(call.request)]
    assert sorted(r["metric_value"] for r in rows) == list(range(600))
    assert len({r["id"] for r in rows}) == 600
    assert set(ids_of(body(rpc.calls[0].request))) <= {r["id"] for r in rows}  # same ids
    assert (stats.written, stats.rejected, stats.dropped) == (600, 0, 0)
    assert sum("ingest_metrics is missing" in r.getMessage() for r in caplog.records) == 1


async def test_async_client_takes_the_same_path(api: respx.MockRouter) -> None:
    answers = iter([httpx.Response(503), None])
    route = api.post(INGEST).mock(side_effect=lambda r: next(answers, None) or count_rows(r))
    async with AsyncMonitoringClient(
        URL, KEY, retry=FAST_RETRY, disabled=False, batching=CONFIG
    ) as monitor:
        for i in range(500):
            monitor.record_api_call("discogs", float(i), i % 2 == 0)
        assert await monitor.flush(timeout=10)
        stats = monitor.stats
    assert 3 <= route.call_count <= 11
    refused = body(route.calls[0].request)
    assert [body(c.request) for c in route.calls[1:]].count(refused) == 1  # retried, same ids
    rows = [r for c in route.calls[1:] for r in ingested(c.request)]
    assert len({r["id"] for r in rows}) == 500
    assert sum(1 for r in rows if r["tags"]["success"] == "false") == 250
    assert (stats.written, stats.retries) == (500, 1)


def one_metric(value: float) -> MetricBatch:
    return MetricBatch.of([("rows_read", value, {}, 1_700_000_000.25)])


def test_ingest_requests_are_built_once_per_postgrest_client(api: respx.MockRouter) -> None:
    route = api.post(INGEST).mock(side_effect=count_rows)
    transport = SyncTransport.connect(URL, KEY, timeout=0.7)
    try:
        transport.write_metrics(one_metric(1))
        target = transport._ingest_target
        transport.write_metrics(one_metric(2))
        assert transport._ingest_target is target  # reused, not rebuilt per batch
        # What supabase-py does on an auth change: new headers, a new PostgREST client.
        transport._client.options.headers["Authorization"] = "Bearer renewed"
        transport._client._postgrest = None
        transport.write_metrics(one_metric(3))
        assert transport._ingest_target is not target
    finally:
        transport.close()
    first, second, third = (c.request for c in route.calls)
    for request in (first, second, third):
        assert request.headers["content-profile"] == "monitoring"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-client-info"].startswith("supabase-py/postgrest-py")
        assert request.headers["user-agent"].startswith("python-httpx/")  # the session's default
        assert request.extensions["timeout"] == dict.fromkeys(
            ("connect", "read", "write", "pool"), 0.7
        )
    assert [body(r)["p_values"] for r in (first, second, third)] == [[1], [2], [3]]
    assert int(first.headers["content-length"]) == len(first.content)
    assert first.headers["authorization"] == second.headers["authorization"] == f"Bearer {KEY}"
    assert third.headers["authorization"] == "Bearer renewed"


async def test_async_ingest_requests_have_the_same_shape(api: respx.MockRouter) -> None:
    route = api.post(INGEST).mock(side_effect=count_rows)
    sync, transport = SyncTransport.connect(URL, KEY), AsyncTransport.connect(URL, KEY)
    try:
        sync.write_metrics(one_metric(1))
        await transport.write_metrics(one_metric(1))
        await transport.write_metrics(MetricBatch.of([("x", 2, {}, "2026-01-01T00:00:00+00:00")]))
    finally:
        sync.close()
        await transport.close()
    from_sync, from_async, with_datetime = (c.request for c in route.calls)
    assert from_async.url == from_sync.url
    assert dict(from_async.headers) | {"content-length": "0"} == dict(from_sync.headers) | {
        "content-length": "0"
    }
    assert from_async.extensions["timeout"] == from_sync.extensions["timeout"]
    assert body(from_async)["p_values"] == [1]
    assert "p_times_us" in parse_qs(urlsplit(str(with_datetime.url)).query)["columns"][0]

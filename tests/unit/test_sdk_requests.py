"""What goes over the wire: paths, profiles, Prefer headers, bodies, query strings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from sdk_support import KEY, api, async_client, body, health_document, sync_client

from supabase_monitoring import (
    HealthStatus,
    Severity,
    WorkerIssue,
)

__all__ = ["api"]  # the fixture, imported for pytest

INSERT_PREFER = {"return=minimal", "resolution=ignore-duplicates"}


def prefer(request: httpx.Request) -> set[str]:
    return {p.strip() for p in request.headers["prefer"].split(",")}


def query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


def assert_insert(request: httpx.Request, schema: str, conflict: str = "id") -> dict[str, object]:
    assert request.method == "POST"
    assert request.headers["content-profile"] == schema
    assert request.headers["accept-profile"] == schema
    assert prefer(request) == INSERT_PREFER
    assert query(request)["on_conflict"] == [conflict]
    assert request.headers["apikey"] == KEY
    assert request.headers["authorization"] == f"Bearer {KEY}"
    rows = body(request)
    assert isinstance(rows, list)
    assert len(rows) == 1
    row = rows[0]
    assert uuid.UUID(row["id"]).version == 7
    return row


def aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() is not None
    return value


def test_record_metric_posts_one_row_to_pipeline_metrics(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    with sync_client(strict=True) as monitor:
        assert monitor.record_metric("rows_read", 42, {"source": "s3", "shard": 3}, timestamp=when)
    row = assert_insert(route.calls.last.request, "monitoring", "id,timestamp")
    assert row["metric_name"] == "rows_read"
    assert row["metric_value"] == 42.0
    assert row["tags"] == {"source": "s3", "shard": 3}
    assert aware(row["timestamp"]) == when
    assert set(row) == {"id", "metric_name", "metric_value", "tags", "timestamp"}


def test_record_processing_metric_follows_the_contract(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    before = datetime.now(UTC)
    with sync_client(strict=True) as monitor:
        monitor.record_processing_metric("artists", 1250.5, 98, 2, tags={"region": "eu"})
    row = assert_insert(route.calls.last.request, "monitoring", "id,timestamp")
    assert row["metric_name"] == "queue_processing"
    assert row["metric_value"] == 1250.5
    assert row["tags"] == {
        "queue": "artists",
        "success_count": 98,
        "error_count": 2,
        "batch_size": 100,
        "region": "eu",
    }
    assert aware(row["timestamp"]) >= before


def test_record_processing_metric_explicit_batch_size(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    with sync_client(strict=True) as monitor:
        monitor.record_processing_metric("artists", 10, 3, 1, batch_size=7)
    assert body(route.calls.last.request)[0]["tags"]["batch_size"] == 7


def test_record_api_call_tags_success_as_text(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    with sync_client(strict=True) as monitor:
        monitor.record_api_call("spotify", 120.0, True)
        monitor.record_api_call("spotify", 80.0, False, endpoint="/v1/artists", status_code=429)
    ok, failed = (body(call.request)[0] for call in route.calls)
    assert ok["metric_name"] == "api_call"
    assert ok["tags"] == {"api": "spotify", "success": "true"}
    assert failed["tags"] == {
        "api": "spotify",
        "success": "false",
        "endpoint": "/v1/artists",
        "status_code": "429",
    }
    assert failed["metric_value"] == 80.0


def test_log_worker_issue_opens_an_issue_and_returns_its_id(api: respx.MockRouter) -> None:
    route = api.post("/worker_issues").respond(201)
    with sync_client(strict=True) as monitor:
        issue_id = monitor.log_worker_issue(
            "enricher-1", "rate_limit", "429 from Spotify", Severity.ERROR, {"retry_after": 30}
        )
    row = assert_insert(route.calls.last.request, "monitoring")
    assert row["id"] == issue_id
    assert row == {
        "id": issue_id,
        "worker_name": "enricher-1",
        "issue_type": "rate_limit",
        "severity": "error",
        "message": "429 from Spotify",
        "details": {"retry_after": 30},
        "resolved": False,
        "created_at": row["created_at"],
    }
    aware(row["created_at"])


def test_log_worker_issue_default_severity_is_warning(api: respx.MockRouter) -> None:
    route = api.post("/worker_issues").respond(201)
    with sync_client(strict=True) as monitor:
        monitor.log_worker_issue("w", "t", "m")
    assert body(route.calls.last.request)[0]["severity"] == "warning"
    assert body(route.calls.last.request)[0]["details"] == {}


def test_record_event_goes_to_the_public_schema(api: respx.MockRouter) -> None:
    route = api.post("/monitoring_events").respond(201)
    with sync_client(strict=True) as monitor:
        monitor.record_event("dlq_replay", {"queue": "artists", "count": 12})
    row = assert_insert(route.calls.last.request, "public")
    assert row["event_type"] == "dlq_replay"
    assert row["details"] == {"queue": "artists", "count": 12}
    aware(row["created_at"])


def test_record_queue_snapshot(api: respx.MockRouter) -> None:
    route = api.post("/queue_snapshots").respond(201)
    with sync_client(strict=True) as monitor:
        monitor.record_queue_snapshot("artists", 120, 3, oldest_msg_age_sec=900)
    row = assert_insert(route.calls.last.request, "monitoring")
    assert (row["queue_name"], row["queue_length"], row["stuck_messages"]) == ("artists", 120, 3)
    assert row["oldest_msg_age_sec"] == 900
    aware(row["captured_at"])


def test_ids_are_unique_and_time_ordered(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    with sync_client(strict=True) as monitor:
        for i in range(20):
            monitor.record_metric("m", i)
    ids = [body(call.request)[0]["id"] for call in route.calls]
    assert len(set(ids)) == 20
    assert ids == sorted(ids)


def test_get_system_health_calls_the_rpc(api: respx.MockRouter) -> None:
    route = api.post("/rpc/get_system_health").respond(200, json=health_document())
    with sync_client() as monitor:
        health = monitor.get_system_health()
    request = route.calls.last.request
    assert request.headers["content-profile"] == "public"
    assert body(request) == {}
    assert health.overall_status is HealthStatus.HEALTHY
    assert health.processing_health is not None
    assert health.processing_health.messages_processed == 40
    assert health.error is None


def test_list_open_worker_issues_query(api: respx.MockRouter) -> None:
    issue = {
        "id": "01a21d17-60e8-7179-a80f-072e5650f4fe",
        "worker_name": "w1",
        "issue_type": "timeout",
        "severity": "critical",
        "message": "boom",
        "details": {},
        "resolved": False,
        "resolution_details": None,
        "created_at": "2026-11-27T12:00:00+00:00",
        "resolved_at": None,
    }
    route = api.get("/worker_issues").respond(200, json=[issue])
    with sync_client() as monitor:
        issues = monitor.list_open_worker_issues(worker_name="w1", severity="critical", limit=5)
    request = route.calls.last.request
    assert request.headers["accept-profile"] == "monitoring"
    assert query(request) == {
        "select": ["*"],
        "resolved": ["eq.false"],
        "worker_name": ["eq.w1"],
        "severity": ["eq.critical"],
        "order": ["created_at.desc"],
        "limit": ["5"],
    }
    assert issues == [WorkerIssue.model_validate(issue)]


def test_resolve_worker_issue_patches_only_an_open_issue(api: respx.MockRouter) -> None:
    issue_id = "01a21d17-60e8-7179-a80f-072e5650f4fe"
    route = api.patch("/worker_issues").respond(200, json=[{"id": issue_id}])
    with sync_client(strict=True) as monitor:
        assert monitor.resolve_worker_issue(issue_id, "restarted") is True
    request = route.calls.last.request
    assert request.headers["content-profile"] == "monitoring"
    assert query(request) == {"id": [f"eq.{issue_id}"], "resolved": ["eq.false"]}
    sent = body(request)
    assert sent["resolved"] is True
    assert sent["resolution_details"] == "restarted"
    aware(sent["resolved_at"])


def test_resolve_worker_issue_reports_no_match(api: respx.MockRouter) -> None:
    api.patch("/worker_issues").respond(200, json=[])
    with sync_client(strict=True) as monitor:
        assert monitor.resolve_worker_issue(str(uuid.uuid4())) is False


def test_view_readers_query_the_views(api: respx.MockRouter) -> None:
    queues = api.get("/queue_metrics").respond(
        200,
        json=[
            {
                "queue_name": "artists",
                "hour": "2026-11-27T12:00:00+00:00",
                "total_batches": 3,
                "success_count": 27,
                "error_count": 3,
                "avg_processing_time_ms": 12.5,
                "total_messages_processed": 30,
            }
        ],
    )
    apis = api.get("/api_metrics").respond(200, json=[])
    since = datetime(2026, 11, 27, tzinfo=UTC)
    with sync_client() as monitor:
        rows = monitor.get_queue_metrics("artists", since=since)
        assert monitor.get_api_metrics("spotify") == []
    assert rows[0].total_messages_processed == 30
    q = query(queues.calls.last.request)
    assert q["queue_name"] == ["eq.artists"]
    assert q["hour"] == [f"gte.{since.isoformat()}"]
    assert q["order"] == ["queue_name.asc,hour.desc"]
    assert queues.calls.last.request.headers["accept-profile"] == "monitoring"
    assert query(apis.calls.last.request)["api_name"] == ["eq.spotify"]


def test_aggregated_metrics_query(api: respx.MockRouter) -> None:
    route = api.get("/aggregated_metrics").respond(200, json=[])
    with sync_client() as monitor:
        monitor.get_aggregated_metrics(
            "api_call", period="hourly", dimensions={"api": "spotify"}, limit=10
        )
    q = query(route.calls.last.request)
    assert q["metric_name"] == ["eq.api_call"]
    assert q["period"] == ["eq.hourly"]
    assert q["dimensions"] == ['cs.{"api":"spotify"}']
    assert q["limit"] == ["10"]


async def test_async_client_same_shapes(api: respx.MockRouter) -> None:
    metrics = api.post("/pipeline_metrics").respond(201)
    events = api.post("/monitoring_events").respond(201)
    health = api.post("/rpc/get_system_health").respond(200, json=health_document())
    async with async_client(strict=True) as monitor:
        assert monitor.record_api_call("spotify", 5.0, True)
        assert monitor.record_event("reset")
        assert await monitor.flush()
        result = await monitor.get_system_health()
    assert_insert(metrics.calls.last.request, "monitoring", "id,timestamp")
    assert_insert(events.calls.last.request, "public")
    assert health.called
    assert result.overall_status is HealthStatus.HEALTHY


async def test_async_readers(api: respx.MockRouter) -> None:
    issue_id = str(uuid.uuid4())
    api.get("/worker_issues").respond(200, json=[])
    patch = api.patch("/worker_issues").respond(200, json=[{"id": issue_id}])
    api.get("/queue_metrics").respond(200, json=[])
    api.get("/api_metrics").respond(200, json=[])
    api.get("/aggregated_metrics").respond(200, json=[])
    async with async_client(strict=True) as monitor:
        assert await monitor.list_open_worker_issues() == []
        assert await monitor.resolve_worker_issue(issue_id) is True
        assert await monitor.get_queue_metrics() == []
        assert await monitor.get_api_metrics() == []
        assert await monitor.get_aggregated_metrics() == []
    assert query(patch.calls.last.request)["id"] == [f"eq.{issue_id}"]


@pytest.mark.parametrize("schema_path", ["/monitoring.pipeline_metrics"])
def test_never_uses_dotted_table_names(api: respx.MockRouter, schema_path: str) -> None:
    dotted = api.post(schema_path).respond(201)
    api.post("/pipeline_metrics").respond(201)
    with sync_client(strict=True) as monitor:
        monitor.record_metric("m", 1)
    assert not dotted.called

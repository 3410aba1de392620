"""Construction, from_env, the kill switch, sinks, the recorder and its pytest fixtures."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from sdk_support import KEY, URL, api, async_client, sync_client

import supabase_monitoring
from supabase_monitoring import (
    AsyncBatchingSink,
    AsyncMonitoringClient,
    BatchingSink,
    ClosedError,
    ConfigurationError,
    DirectSink,
    HealthStatus,
    MonitoringClient,
    NullSink,
    PermissionDeniedError,
    SinkContext,
    SinkStats,
    TableRef,
    TransientError,
    is_transient,
)
from supabase_monitoring._ids import uuid7
from supabase_monitoring._sink import AsyncDirectSink, SyncSinkAdapter
from supabase_monitoring._transport import AsyncTransport, SyncTransport
from supabase_monitoring.testing import InMemoryRecorder

__all__ = ["api"]


# ---------------------------------------------------------------- from_env


@pytest.mark.parametrize("cls", [MonitoringClient, AsyncMonitoringClient])
@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are not set"),
        ({"SUPABASE_URL": URL}, "SUPABASE_SERVICE_ROLE_KEY is not set"),
        ({"SUPABASE_SERVICE_ROLE_KEY": KEY}, "SUPABASE_URL is not set"),
        ({"SUPABASE_URL": " ", "SUPABASE_SERVICE_ROLE_KEY": KEY}, "SUPABASE_URL is not set"),
    ],
)
def test_from_env_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, cls: Any, env: dict[str, str], missing: str
) -> None:
    for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_MONITORING_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        cls.from_env()
    assert missing in str(info.value)
    assert cls.__name__ in str(info.value)
    assert KEY not in str(info.value)


def test_from_env_passes_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", URL)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", KEY)
    monkeypatch.delenv("SUPABASE_MONITORING_DISABLED", raising=False)
    with MonitoringClient.from_env(strict=True, timeout=0.5) as monitor:
        assert monitor.strict
        assert not monitor.disabled
        assert isinstance(monitor.sink, BatchingSink)  # the default writer batches
    with MonitoringClient.from_env(batching=False) as direct:
        assert isinstance(direct.sink, DirectSink)
    amonitor = AsyncMonitoringClient.from_env(strict=True)
    assert amonitor.strict
    assert isinstance(amonitor.sink, AsyncBatchingSink)
    assert isinstance(AsyncMonitoringClient.from_env(batching=False).sink, AsyncDirectSink)


def test_sink_and_batching_are_exclusive() -> None:
    with pytest.raises(ConfigurationError, match="either sink or batching"):
        MonitoringClient(URL, KEY, sink=DirectSink.from_context, batching=False, disabled=False)


def test_constructor_needs_a_destination() -> None:
    with pytest.raises(ConfigurationError, match="needs url and key"):
        MonitoringClient(disabled=False)
    with pytest.raises(ConfigurationError, match="both url and key"):
        MonitoringClient(URL, disabled=False)
    with pytest.raises(ConfigurationError, match="either url and key, or an existing client"):
        MonitoringClient(URL, KEY, client=object(), disabled=False)  # type: ignore[arg-type]


def test_timeout_reaches_the_http_client() -> None:
    monitor = MonitoringClient(URL, KEY, timeout=0.25, disabled=False)
    http = monitor._transport._http  # type: ignore[union-attr]
    assert http is not None
    assert http.timeout == httpx.Timeout(0.25)
    monitor.close()
    assert http.is_closed


def test_wraps_an_existing_supabase_client(api: respx.MockRouter) -> None:
    from supabase import ClientOptions, create_client

    # Metrics go through the user's own session, to monitoring.ingest_metrics.
    route = api.post("/rpc/ingest_metrics").respond(200, json=1)
    user_http = httpx.Client()
    user_client = create_client(URL, KEY, ClientOptions(httpx_client=user_http))
    monitor = MonitoringClient(client=user_client, strict=True, disabled=False)
    assert monitor.record_metric("m", 1)
    monitor.close()
    assert route.called
    assert not user_http.is_closed  # the user's client is theirs to close
    user_http.close()


# ---------------------------------------------------------------- disabled


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_disabled_env_makes_everything_a_no_op(
    monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter, value: str
) -> None:
    monkeypatch.setenv("SUPABASE_MONITORING_DISABLED", value)
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    monkeypatch.delenv("SUPABASE_SERVICE_ROLE_KEY", raising=False)
    monitor = MonitoringClient.from_env()  # no credentials needed
    assert monitor.disabled
    assert isinstance(monitor.sink, NullSink)
    assert monitor.record_metric("m", 1) is False
    assert monitor.log_worker_issue("w", "t", "m") is None
    with monitor.time_api_call("spotify"):
        pass
    assert monitor.list_open_worker_issues() == []
    assert monitor.get_queue_metrics() == []
    assert monitor.get_api_metrics() == []
    assert monitor.get_aggregated_metrics() == []
    assert monitor.resolve_worker_issue(str(uuid.uuid4())) is False
    health = monitor.get_system_health(raise_on_error=True)
    assert health.overall_status is HealthStatus.UNKNOWN
    assert "disabled" in (health.error or "")
    assert monitor.stats.enqueued == 3
    assert monitor.stats.dropped == 3
    assert api.calls.call_count == 0


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_disabled_env_off_values(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SUPABASE_MONITORING_DISABLED", value)
    assert not MonitoringClient(URL, KEY).disabled


async def test_disabled_async(monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter) -> None:
    monkeypatch.setenv("SUPABASE_MONITORING_DISABLED", "1")
    monitor = AsyncMonitoringClient(URL, KEY)
    assert monitor.record_event("e") is False
    assert await monitor.list_open_worker_issues() == []
    assert (await monitor.get_system_health()).overall_status is HealthStatus.UNKNOWN
    await monitor.close()
    assert api.calls.call_count == 0


# ---------------------------------------------------------------- sinks


def test_custom_sink_factory_gets_the_transport(api: respx.MockRouter) -> None:
    seen: list[SinkContext] = []

    def factory(context: SinkContext) -> DirectSink:
        seen.append(context)
        return DirectSink(context.transport, context.retry, strict=context.strict)

    api.post("/pipeline_metrics").respond(201)
    with sync_client(sink=factory, strict=True) as monitor:
        assert monitor.record_metric("m", 1)
    assert seen
    assert seen[0].strict is True


def test_async_sink_refused_by_sync_client() -> None:
    sink = AsyncDirectSink(None, supabase_monitoring.RetryPolicy())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="async sink"):
        MonitoringClient(sink=sink, disabled=False)


def test_closed_client_drops_writes(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    monitor = sync_client()
    monitor.close()
    monitor.close()  # idempotent
    assert monitor.record_metric("m", 1) is False
    assert monitor.stats.dropped == 1
    strict = sync_client(strict=True)
    strict.close()
    with pytest.raises(ClosedError):
        strict.record_metric("m", 1)
    assert not route.called


def test_sink_exceptions_never_reach_the_worker_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(InMemoryRecorder):
        def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
            raise RuntimeError("sink bug")

    monitor = MonitoringClient(sink=Broken(), disabled=False)
    assert monitor.record_metric("m", 1) is False
    assert "sink bug" in caplog.text
    with pytest.raises(RuntimeError):
        MonitoringClient(sink=Broken(), strict=True, disabled=False).record_metric("m", 1)


def test_async_direct_sink_outside_a_loop() -> None:
    monitor = async_client()
    assert monitor.record_metric("m", 1) is False  # no running loop: dropped, logged
    strict = async_client(strict=True)
    with pytest.raises(ClosedError, match="running event loop"):
        strict.record_metric("m", 1)


async def test_async_close_waits_for_pending_writes(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    monitor = async_client()
    for i in range(5):
        monitor.record_metric("m", i)
    assert monitor.stats.pending == 5
    await monitor.close()
    assert route.call_count == 5
    assert monitor.stats == SinkStats(enqueued=5, written=5, batches_written=5)


async def test_async_close_deadline_drops_the_rest(api: respx.MockRouter) -> None:
    gate = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(201)

    api.post("/pipeline_metrics").mock(side_effect=slow)
    monitor = async_client()
    monitor.record_metric("m", 1)
    monitor.record_metric("m", 2)
    await monitor.close(timeout=0.01)
    stats = monitor.stats
    assert (stats.dropped, stats.pending, stats.written) == (2, 0, 0)


async def test_async_client_adapts_sync_sinks() -> None:
    recorder = InMemoryRecorder()
    monitor = AsyncMonitoringClient(sink=recorder, disabled=False)
    assert isinstance(monitor.sink, SyncSinkAdapter)
    monitor.record_event("e", {"k": "v"})
    assert await monitor.flush()
    await monitor.close()
    assert recorder.events()[0].details == {"k": "v"}
    assert monitor.record_event("late") is False  # recorder closed with the client


# ---------------------------------------------------------------- recorder and fixtures


def test_recorder_models_and_filters() -> None:
    recorder = InMemoryRecorder()
    monitor = MonitoringClient(sink=recorder, strict=True, disabled=False)
    monitor.record_processing_metric("artists", 10, 1, 0)
    monitor.record_api_call("spotify", 5, True)
    issue_id = monitor.log_worker_issue("w", "t", "m", "critical")
    monitor.record_event("reset")
    monitor.record_queue_snapshot("artists", 3)
    assert [m.metric_name for m in recorder.metrics()] == ["queue_processing", "api_call"]
    assert len(recorder.metrics("api_call")) == 1
    assert recorder.worker_issues()[0].id == issue_id
    assert recorder.events("reset")[0].event_type == "reset"
    assert recorder.queue_snapshots()[0].queue_length == 3
    assert [t.name for t, _ in recorder.recorded] == [
        "pipeline_metrics",
        "pipeline_metrics",
        "worker_issues",
        "monitoring_events",
        "queue_snapshots",
    ]
    recorder.clear()
    assert recorder.rows() == []
    with pytest.raises(ConfigurationError, match="no database connection"):
        monitor.list_open_worker_issues()


def test_pytest_fixtures(
    monitoring_client: MonitoringClient, monitoring_recorder: InMemoryRecorder
) -> None:
    monitoring_client.record_metric("from_fixture", 1)
    assert monitoring_recorder.metrics("from_fixture")[0].metric_value == 1.0
    assert monitoring_client.strict
    with pytest.raises(supabase_monitoring.InvalidInputError):
        monitoring_client.record_metric("bad", float("nan"))


# ---------------------------------------------------------------- ids, errors, API surface


def test_uuid7_layout_order_and_time() -> None:
    before = int(time.time() * 1000)
    ids = [uuid7() for _ in range(5000)]
    after = int(time.time() * 1000)
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    stamp = parsed[0].int >> 80
    assert before <= stamp <= after
    assert datetime.fromtimestamp(stamp / 1000, UTC).year >= 2024


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("x"), True),
        (httpx.ReadTimeout("x"), True),
        (httpx.PoolTimeout("x"), True),
        (httpx.RemoteProtocolError("x"), True),
        (httpx.UnsupportedProtocol("x"), False),
        (httpx.LocalProtocolError("x"), False),
        (TransientError("x"), True),
        (PermissionDeniedError("x"), False),
        (ValueError("x"), False),
    ],
)
def test_is_transient_on_raw_and_mapped_errors(exc: Exception, expected: bool) -> None:
    assert is_transient(exc) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("PGRST000", True),
        ("PGRST003", True),
        ("PGRST004", False),
        ("503", True),
        ("520", True),
        ("500", False),
        ("08001", True),
        ("53200", True),
        ("42501", False),
        ("23505", False),
        (None, False),
    ],
)
def test_is_transient_on_postgrest_api_errors(code: str | None, expected: bool) -> None:
    from postgrest import APIError

    assert is_transient(APIError({"code": code, "message": "m"})) is expected


def test_public_api_is_documented() -> None:
    for name in supabase_monitoring.__all__:
        if name.isupper() or name == "__version__":
            continue
        obj = getattr(supabase_monitoring, name)
        assert obj.__doc__, name
        assert obj.__doc__.strip(), name
        for attr, member in vars(obj).items() if isinstance(obj, type) else ():
            if attr.startswith("_") or (not callable(member) and not isinstance(member, property)):
                continue
            assert getattr(member, "__doc__", None), f"{name}.{attr}"


def test_clients_share_the_record_api() -> None:
    sync_names = {n for n in dir(MonitoringClient) if not n.startswith("_")}
    async_names = {n for n in dir(AsyncMonitoringClient) if not n.startswith("_")}
    assert sync_names == async_names


def test_disabled_still_feeds_an_explicit_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_MONITORING_DISABLED", "1")
    recorder = InMemoryRecorder()
    monitor = MonitoringClient.from_env(sink=recorder)
    assert monitor.disabled
    assert monitor.record_metric("m", 1)
    assert len(recorder.metrics("m")) == 1
    assert monitor.get_system_health().overall_status is HealthStatus.UNKNOWN
    factory_built = MonitoringClient.from_env(sink=DirectSink.from_context)
    assert isinstance(factory_built.sink, NullSink)


async def test_disabled_async_still_feeds_an_explicit_recorder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPABASE_MONITORING_DISABLED", "1")
    recorder = InMemoryRecorder()
    monitor = AsyncMonitoringClient.from_env(sink=recorder)
    assert monitor.record_event("e")
    await monitor.close()
    assert recorder.events("e")


def test_transport_reset_after_fork_uses_a_new_http_client(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(201)
    monitor = sync_client(strict=True, timeout=0.75)
    transport = monitor._transport
    assert transport is not None
    old_http = transport._http
    assert monitor.record_metric("m", 1)
    transport.reset_after_fork()
    new_http = transport._http
    assert new_http is not None
    assert new_http is not old_http
    assert new_http.timeout == httpx.Timeout(0.75)
    assert old_http is not None
    assert not old_http.is_closed  # the parent's connections are left alone
    old_http.close()  # requests still going through it would now fail
    assert monitor.record_metric("m", 2)
    assert route.call_count == 2
    monitor.close()
    assert new_http.is_closed


def _failing_connect(monkeypatch: pytest.MonkeyPatch, transport: Any) -> list[Any]:
    # supabase-py refuses to build its client: connect() must release the HTTP
    # client it made for it, and word the error without the key.
    import supabase

    made: list[Any] = []
    http_type = httpx.AsyncClient if transport is AsyncTransport else httpx.Client

    class Recorded(http_type):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ValueError(f"Invalid key {KEY}")

    monkeypatch.setattr(httpx, http_type.__name__, Recorded)
    monkeypatch.setattr(
        supabase, "AsyncClient" if transport is AsyncTransport else "Client", refuse
    )
    with pytest.raises(ConfigurationError, match="cannot create the Supabase client") as info:
        transport.connect(URL, KEY)
    assert KEY not in str(info.value)
    assert len(made) == 1
    return made


@pytest.mark.parametrize("transport", [SyncTransport, AsyncTransport])
def test_connect_closes_its_http_client_when_supabase_refuses(
    monkeypatch: pytest.MonkeyPatch, transport: Any
) -> None:
    (http,) = _failing_connect(monkeypatch, transport)
    assert http.is_closed


async def test_async_connect_inside_a_loop_closes_its_http_client_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (http,) = _failing_connect(monkeypatch, AsyncTransport)
    for _ in range(10):
        if http.is_closed:
            break
        await asyncio.sleep(0)
    assert http.is_closed

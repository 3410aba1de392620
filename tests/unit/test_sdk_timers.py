"""Timers: context managers and decorators, sync and async, success and failure."""

from __future__ import annotations

import asyncio
import logging

import pytest

from supabase_monitoring import AsyncMonitoringClient, MonitoringClient
from supabase_monitoring.testing import InMemoryRecorder


class Boom(Exception):
    pass


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def monitor(recorder: InMemoryRecorder) -> MonitoringClient:
    return MonitoringClient(sink=recorder, strict=True, disabled=False)


def test_api_call_success(monitor: MonitoringClient, recorder: InMemoryRecorder) -> None:
    with monitor.time_api_call("spotify", endpoint="/v1/artists") as call:
        call.status_code = 200
    (metric,) = recorder.metrics("api_call")
    assert metric.tags == {
        "api": "spotify",
        "success": "true",
        "endpoint": "/v1/artists",
        "status_code": "200",
    }
    assert call.duration_ms is not None
    assert metric.metric_value == call.duration_ms
    assert metric.metric_value >= 0


def test_api_call_failure_is_recorded_and_reraised(
    monitor: MonitoringClient, recorder: InMemoryRecorder
) -> None:
    with pytest.raises(Boom), monitor.time_api_call("spotify"):
        raise Boom
    (metric,) = recorder.metrics("api_call")
    assert metric.tags["success"] == "false"


def test_api_call_marked_failed_without_raising(
    monitor: MonitoringClient, recorder: InMemoryRecorder
) -> None:
    with monitor.time_api_call("spotify") as call:
        call.success = False
        call.status_code = 503
    assert recorder.metrics("api_call")[0].tags["success"] == "false"


def test_api_call_decorator(monitor: MonitoringClient, recorder: InMemoryRecorder) -> None:
    @monitor.time_api_call("musicbrainz", tags={"region": "eu"})
    def lookup(name: str) -> str:
        if name == "bad":
            raise Boom
        return name.upper()

    assert lookup("abba") == "ABBA"
    with pytest.raises(Boom):
        lookup("bad")
    assert lookup.__name__ == "lookup"
    ok, failed = recorder.metrics("api_call")
    assert ok.tags == {"region": "eu", "api": "musicbrainz", "success": "true"}
    assert failed.tags["success"] == "false"


async def test_async_context_manager_and_decorator(recorder: InMemoryRecorder) -> None:
    monitor = AsyncMonitoringClient(sink=recorder, strict=True, disabled=False)

    async with monitor.time_api_call("spotify"):
        await asyncio.sleep(0)

    @monitor.time_api_call("spotify")
    async def fetch(fail: bool) -> int:
        await asyncio.sleep(0)
        if fail:
            raise Boom
        return 7

    assert await fetch(False) == 7
    with pytest.raises(Boom):
        await fetch(True)
    assert [m.tags["success"] for m in recorder.metrics("api_call")] == ["true", "true", "false"]
    await monitor.close()


def test_batch_success_counts_the_whole_batch(
    monitor: MonitoringClient, recorder: InMemoryRecorder
) -> None:
    with monitor.time_batch("artists", batch_size=50):
        pass
    (metric,) = recorder.metrics("queue_processing")
    assert metric.tags == {
        "queue": "artists",
        "success_count": 50,
        "error_count": 0,
        "batch_size": 50,
    }


def test_batch_failure_counts_every_message_failed(
    monitor: MonitoringClient, recorder: InMemoryRecorder
) -> None:
    with pytest.raises(Boom), monitor.time_batch("artists", batch_size=50):
        raise Boom
    tags = recorder.metrics("queue_processing")[0].tags
    assert (tags["success_count"], tags["error_count"]) == (0, 50)


def test_batch_partial_counts(monitor: MonitoringClient, recorder: InMemoryRecorder) -> None:
    with monitor.time_batch("artists", batch_size=50) as batch:
        batch.error_count = 3

    def partial_failure() -> None:
        with monitor.time_batch("artists", batch_size=10) as batch:
            batch.success_count = 4
            raise Boom

    with pytest.raises(Boom):
        partial_failure()
    with monitor.time_batch("artists") as batch:
        batch.success_count, batch.error_count = 8, 2
    first, second, third = (m.tags for m in recorder.metrics("queue_processing"))
    assert (first["success_count"], first["error_count"], first["batch_size"]) == (47, 3, 50)
    assert (second["success_count"], second["error_count"], second["batch_size"]) == (4, 6, 10)
    assert (third["success_count"], third["error_count"], third["batch_size"]) == (8, 2, 10)


async def test_batch_decorator_async(recorder: InMemoryRecorder) -> None:
    monitor = AsyncMonitoringClient(sink=recorder, strict=True, disabled=False)

    @monitor.time_batch("tracks", batch_size=5)
    async def process() -> None:
        await asyncio.sleep(0)

    await process()
    await process()
    assert len(recorder.metrics("queue_processing")) == 2


def test_recording_failure_never_masks_the_blocks_exception(
    monitor: MonitoringClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Strict client, invalid api name: recording raises, but the block's error wins.
    with (
        caplog.at_level(logging.ERROR, logger="supabase_monitoring"),
        pytest.raises(Boom),
        monitor.time_api_call(""),
    ):
        raise Boom
    assert "could not record" in caplog.text


def test_recording_failure_raises_in_strict_mode_when_block_succeeds(
    monitor: MonitoringClient,
) -> None:
    from supabase_monitoring import InvalidInputError

    with pytest.raises(InvalidInputError), monitor.time_batch("q", batch_size=-1):
        pass


def test_non_strict_timer_never_raises(recorder: InMemoryRecorder) -> None:
    monitor = MonitoringClient(sink=recorder, disabled=False)
    with monitor.time_batch("q", batch_size=-1):
        pass
    assert recorder.rows() == []

"""Worker heartbeats: identity and schedule (``_heartbeat``), sent by the batching
writers (thread and asyncio), and the request they make (respx)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from typing import Any

import httpx
import pytest
import respx
from sdk_support import FAST_RETRY, KEY, URL, api, body

from supabase_monitoring import (
    AsyncMonitoringClient,
    BatchingConfig,
    HeartbeatConfig,
    MonitoringClient,
)
from supabase_monitoring._batching import AsyncBatchingSink, BatchingSink
from supabase_monitoring._heartbeat import WORKER_NAME_ENV, Heartbeat, default_worker_name

__all__ = ["api"]

WAIT_S = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Beats:
    """A heartbeat RPC that records what it was sent (optionally failing)."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail
        self.changed = threading.Condition()

    def __call__(self, params: dict[str, Any]) -> object:
        with self.changed:
            self.sent.append(params)
            self.changed.notify_all()
        if self.fail:
            raise ConnectionError("API down")
        return params["p_id"]

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.sent) >= count, WAIT_S), self.sent
            return list(self.sent)


# ---------------------------------------------------------------- identity and schedule
@pytest.mark.parametrize("interval", [0, -1, float("nan"), float("inf")])
def test_an_interval_must_be_a_positive_number(interval: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        HeartbeatConfig(interval=interval)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_a_worker_name_must_be_non_blank_and_bounded(name: str) -> None:
    with pytest.raises(ValueError, match="worker_name"):
        HeartbeatConfig(worker_name=name)


def test_the_default_worker_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_worker_name({WORKER_NAME_ENV: " enricher-3 "}) == "enricher-3"
    monkeypatch.setattr("sys.argv", ["/srv/app/artist_enricher.py", "--fast"])
    assert default_worker_name({}) == "artist_enricher"
    monkeypatch.setattr("sys.argv", [""])
    assert default_worker_name({}) == "python"


def test_a_heartbeat_is_due_at_once_then_once_per_interval() -> None:
    clock = FakeClock()
    hb = Heartbeat(HeartbeatConfig(interval=30, worker_name="w"), clock=clock)
    assert hb.claim() is True
    assert hb.claim() is False  # claimed: the next caller waits
    clock.now += 29.9
    assert hb.claim() is False
    clock.now += 0.1
    assert hb.claim() is True


def test_the_rpc_arguments_name_this_instance() -> None:
    hb = Heartbeat(HeartbeatConfig(worker_name="enricher-1"))
    params = hb.params()
    assert set(params) == {
        "p_id",
        "p_worker_name",
        "p_host",
        "p_pid",
        "p_sdk_version",
        "p_started_at",
        "p_closed",
    }
    assert uuid.UUID(params["p_id"]) == hb.instance_id
    assert (params["p_worker_name"], params["p_pid"], params["p_closed"]) == (
        "enricher-1",
        os.getpid(),
        False,
    )
    assert hb.params(closed=True)["p_closed"] is True


def test_after_a_fork_the_child_is_a_new_instance_due_at_once() -> None:
    clock = FakeClock()
    hb = Heartbeat(HeartbeatConfig(worker_name="w"), clock=clock)
    first = hb.instance_id
    assert hb.claim() is True
    hb.reset_after_fork()
    assert hb.instance_id != first
    assert hb.claim() is True


def test_a_failed_heartbeat_is_logged_once_as_a_warning_never_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hb = Heartbeat(HeartbeatConfig(worker_name="w"))
    rpc = Beats(fail=True)
    with caplog.at_level(logging.DEBUG, logger="supabase_monitoring"):
        assert hb.send(rpc) is False
        assert hb.send(rpc) is False
    levels = [r.levelno for r in caplog.records if "heartbeat" in r.getMessage()]
    assert levels == [logging.WARNING, logging.DEBUG]
    assert "API down" not in caplog.text  # the exception type only, never its text
    rpc.fail = False
    assert hb.send(rpc) is True


# ---------------------------------------------------------------- the thread writer
def _writer(rpc: Beats | None, **config: Any) -> tuple[BatchingSink[str], list[Any]]:
    written: list[Any] = []
    options: dict[str, Any] = {"flush_interval": 0.01, **config}
    sink: BatchingSink[str] = BatchingSink(
        lambda table, rows: written.extend(rows),
        is_transient=lambda exc: False,
        config=BatchingConfig(**options),
        heartbeat_rpc=rpc,
    )
    return sink, written


def test_the_writer_beats_before_anything_is_recorded_and_then_every_interval() -> None:
    rpc = Beats()
    sink, _ = _writer(rpc, heartbeat=HeartbeatConfig(interval=0.05, worker_name="w"))
    try:
        sent = rpc.wait_for(3)
        assert {p["p_id"] for p in sent} == {str(sink.heartbeat.instance_id)}  # type: ignore[union-attr]
        assert not any(p["p_closed"] for p in sent)
    finally:
        sink.close(timeout=WAIT_S)
    assert rpc.sent[-1]["p_closed"] is True
    assert [p["p_closed"] for p in rpc.sent].count(True) == 1


def test_failing_heartbeats_do_not_touch_the_rows_or_their_counts() -> None:
    rpc = Beats(fail=True)
    sink, written = _writer(rpc, heartbeat=HeartbeatConfig(interval=0.02, worker_name="w"))
    for n in range(50):
        assert sink.submit("t", {"n": n})
    assert sink.flush(timeout=WAIT_S)
    rpc.wait_for(2)
    sink.close(timeout=WAIT_S)
    assert [r["n"] for r in written] == list(range(50))
    stats = sink.stats
    assert (stats.enqueued, stats.written, stats.dropped, stats.rejected) == (50, 50, 0, 0)


def test_heartbeats_can_be_turned_off() -> None:
    rpc = Beats()
    sink, written = _writer(rpc, heartbeat=None)
    assert sink.heartbeat is None
    sink.submit("t", {"n": 1})
    assert sink.flush(timeout=WAIT_S)
    sink.close(timeout=WAIT_S)
    assert written == [{"n": 1}]
    assert rpc.sent == []


def test_a_close_past_its_deadline_sends_no_closed_heartbeat() -> None:
    rpc = Beats()
    sink, _ = _writer(rpc, heartbeat=HeartbeatConfig(interval=3600, worker_name="w"))
    rpc.wait_for(1)
    sink.close(timeout=0)
    assert [p["p_closed"] for p in rpc.sent] == [False]


# ---------------------------------------------------------------- the asyncio writer
async def test_the_async_writer_beats_and_sends_the_closed_heartbeat() -> None:
    sent: list[dict[str, Any]] = []
    three = asyncio.Event()

    async def rpc(params: dict[str, Any]) -> object:
        sent.append(params)
        if len(sent) >= 3:
            three.set()
        return None

    written: list[Any] = []

    async def write(table: str, rows: list[Any]) -> None:
        written.extend(rows)

    sink: AsyncBatchingSink[str] = AsyncBatchingSink(
        write,
        is_transient=lambda exc: False,
        config=BatchingConfig(
            flush_interval=0.01, heartbeat=HeartbeatConfig(interval=0.05, worker_name="aw")
        ),
        heartbeat_rpc=rpc,
    )
    await asyncio.wait_for(three.wait(), WAIT_S)
    sink.submit("t", {"n": 1})
    await sink.close(timeout=WAIT_S)
    assert written == [{"n": 1}]
    assert [p["p_closed"] for p in sent].count(True) == 1
    assert sent[-1]["p_closed"] is True
    assert {p["p_worker_name"] for p in sent} == {"aw"}


# ---------------------------------------------------------------- the request (respx)
def _answer(seen: threading.Event | asyncio.Event) -> Any:
    def side_effect(request: httpx.Request) -> httpx.Response:
        seen.set()
        return httpx.Response(200, json="2026-12-01T00:00:00Z")

    return side_effect


def test_the_client_reports_through_the_monitoring_rpc(api: respx.MockRouter) -> None:
    seen = threading.Event()
    route = api.post("/rpc/record_worker_heartbeat").mock(side_effect=_answer(seen))
    client = MonitoringClient(
        URL,
        KEY,
        retry=FAST_RETRY,
        disabled=False,
        batching=BatchingConfig(heartbeat=HeartbeatConfig(interval=3600, worker_name="enricher-1")),
    )
    assert seen.wait(WAIT_S), "no heartbeat before anything was recorded"
    client.close(timeout=WAIT_S)
    assert route.call_count == 2
    first, last = (call.request for call in route.calls)
    assert first.headers["content-profile"] == "monitoring"
    assert body(first)["p_worker_name"] == "enricher-1"
    assert body(first)["p_closed"] is False
    assert body(last)["p_closed"] is True
    assert body(first)["p_id"] == body(last)["p_id"]


def test_direct_writes_send_no_heartbeat(api: respx.MockRouter) -> None:
    route = api.post("/rpc/record_worker_heartbeat").respond(200, json=None)
    client = MonitoringClient(URL, KEY, retry=FAST_RETRY, disabled=False, batching=False)
    client.close()
    assert route.call_count == 0


async def test_the_async_client_reports_too(api: respx.MockRouter) -> None:
    seen = asyncio.Event()
    route = api.post("/rpc/record_worker_heartbeat").mock(side_effect=_answer(seen))
    client = AsyncMonitoringClient(
        URL,
        KEY,
        retry=FAST_RETRY,
        disabled=False,
        batching=BatchingConfig(heartbeat=HeartbeatConfig(interval=3600, worker_name="async-1")),
    )
    await asyncio.wait_for(seen.wait(), WAIT_S)
    await client.close(timeout=WAIT_S)
    assert [body(c.request)["p_closed"] for c in route.calls] == [False, True]

"""Which failures are retried, how often, how long, and what the caller sees."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import httpx
import pytest
import respx
import tenacity
from sdk_support import FAST_RETRY, KEY, URL, api, async_client, pg_error, sync_client

from supabase_monitoring import (
    MonitoringClient,
    MonitoringError,
    PermissionDeniedError,
    RequestError,
    RetryPolicy,
    ServerError,
    TransientError,
)
from supabase_monitoring._retry import call_with_retry

__all__ = ["api"]

Fail = Callable[[], "httpx.Response | Exception"]

TRANSIENT: dict[str, Fail] = {
    "503 html page": lambda: httpx.Response(503, text="<html>Service Unavailable</html>"),
    "502 text": lambda: httpx.Response(502, text="Bad Gateway"),
    "504 text": lambda: httpx.Response(504, text="Gateway Timeout"),
    "520 empty": lambda: httpx.Response(520),
    "502 json without code": lambda: httpx.Response(
        502, json={"message": "An invalid response was received from the upstream server"}
    ),
    "PGRST000": lambda: pg_error(503, "PGRST000", "Database connection error"),
    "PGRST001": lambda: pg_error(503, "PGRST001", "Database client error"),
    "PGRST002": lambda: pg_error(
        503, "PGRST002", "Could not query the database for the schema cache"
    ),
    "PGRST003": lambda: pg_error(504, "PGRST003", "Timed out acquiring connection"),
    "08006 connection failure": lambda: pg_error(503, "08006", "connection failure"),
    "53300 too many connections": lambda: pg_error(500, "53300", "too many connections"),
    "53100 disk full": lambda: pg_error(500, "53100", "could not extend file"),
    "40001 serialization": lambda: pg_error(500, "40001", "could not serialize access"),
    "connect error": lambda: httpx.ConnectError("connection refused"),
    "read timeout": lambda: httpx.ReadTimeout("timed out"),
    "connection dropped": lambda: httpx.RemoteProtocolError("peer closed connection"),
}

PERMANENT: dict[str, tuple[Fail, type[MonitoringError]]] = {
    "bad body PGRST102": (lambda: pg_error(400, "PGRST102", "Invalid body"), RequestError),
    "anon on schema 42501": (
        lambda: pg_error(401, "42501", "permission denied for schema monitoring"),
        PermissionDeniedError,
    ),
    "authenticated 403 42501": (
        lambda: pg_error(403, "42501", "permission denied for table worker_issues"),
        PermissionDeniedError,
    ),
    "bad jwt PGRST301": (lambda: pg_error(401, "PGRST301", "JWSError"), PermissionDeniedError),
    "gateway without apikey": (
        lambda: httpx.Response(401, json={"message": "No API key found in request"}),
        PermissionDeniedError,
    ),
    "unknown table PGRST205": (
        lambda: pg_error(404, "PGRST205", "Could not find the table"),
        RequestError,
    ),
    "duplicate 23505": (lambda: pg_error(409, "23505", "duplicate key"), RequestError),
    "check violation 23514": (lambda: pg_error(400, "23514", "violates check"), RequestError),
    "bad text 22P02": (lambda: pg_error(400, "22P02", "invalid input syntax"), RequestError),
    "internal XX000": (lambda: pg_error(500, "XX000", "internal error"), ServerError),
    "raise P0001": (lambda: pg_error(400, "P0001", "raised by a function"), RequestError),
    "500 html": (lambda: httpx.Response(500, text="<html>oops</html>"), ServerError),
}


@pytest.mark.parametrize("make_failure", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_write_failures_are_retried(api: respx.MockRouter, make_failure: Fail) -> None:
    route = api.post("/pipeline_metrics")
    route.side_effect = [make_failure(), make_failure(), httpx.Response(201)]
    with sync_client(strict=True) as monitor:
        assert monitor.record_metric("m", 1.0) is True
        stats = monitor.stats
    assert route.call_count == 3
    assert (stats.written, stats.retries, stats.dropped) == (1, 2, 0)
    # Each retry re-sends the same row: same id, so ON CONFLICT DO NOTHING dedupes.
    ids = {call.request.content for call in route.calls}
    assert len(ids) == 1


@pytest.mark.parametrize(("make_failure", "expected"), PERMANENT.values(), ids=PERMANENT.keys())
def test_permanent_failures_are_not_retried(
    api: respx.MockRouter, make_failure: Fail, expected: type[MonitoringError]
) -> None:
    route = api.post("/pipeline_metrics")
    route.side_effect = lambda request: make_failure()
    with sync_client(strict=True) as monitor, pytest.raises(expected) as info:
        monitor.record_metric("m", 1.0)
    assert route.call_count == 1
    assert not isinstance(info.value, TransientError)


def test_exhausted_retries_raise_transient_in_strict_mode(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(503, text="down")
    with sync_client(strict=True) as monitor:
        with pytest.raises(TransientError) as info:
            monitor.record_metric("m", 1.0)
        stats = monitor.stats
    assert route.call_count == FAST_RETRY.max_attempts
    assert info.value.status_code == 503
    assert (stats.dropped, stats.retries, stats.written) == (1, FAST_RETRY.max_attempts - 1, 0)


def test_exhausted_retries_are_logged_not_raised_by_default(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    api.post("/pipeline_metrics").mock(side_effect=httpx.ConnectError("refused"))
    with caplog.at_level(logging.WARNING, logger="supabase_monitoring"), sync_client() as monitor:
        assert monitor.record_metric("m", 1.0) is False
    assert any("dropped" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_permanent_failure_is_logged_not_raised_by_default(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    route = api.post("/worker_issues").respond(401, json={"code": "42501", "message": "denied"})
    with caplog.at_level(logging.WARNING, logger="supabase_monitoring"), sync_client() as monitor:
        assert monitor.log_worker_issue("w", "t", "m") is None
        assert monitor.stats.rejected == 1
    assert route.call_count == 1
    assert "42501" in caplog.text


def test_reads_are_retried_and_supabase_retry_is_off(api: respx.MockRouter) -> None:
    route = api.get("/worker_issues")
    route.side_effect = [httpx.Response(503, text="down"), httpx.Response(200, json=[])]
    with sync_client() as monitor:
        assert monitor.list_open_worker_issues() == []
    assert route.call_count == 2


def test_supabase_py_get_retry_is_disabled(api: respx.MockRouter) -> None:
    # With postgrest-py's own retry on, a GET answered 503 is re-sent (after 1 s).
    route = api.get("/worker_issues").respond(503, text="down")
    with sync_client(retry=RetryPolicy.disabled()) as monitor, pytest.raises(TransientError):
        monitor.list_open_worker_issues()
    assert route.call_count == 1


# supabase-py warns when built without an httpx client, as users often do.
@pytest.mark.filterwarnings(
    "ignore:The '(timeout|verify)' parameter is deprecated:DeprecationWarning"
)
def test_a_users_client_with_retry_on_still_makes_one_attempt(api: respx.MockRouter) -> None:
    from supabase import create_client

    route = api.get("/worker_issues").respond(503, text="down")
    user_client = create_client(URL, KEY)  # postgrest_client_retry defaults to True
    monitor = MonitoringClient(client=user_client, retry=RetryPolicy.disabled(), disabled=False)
    with pytest.raises(TransientError):
        monitor.list_open_worker_issues()
    assert route.call_count == 1


def test_reads_raise_permission_errors_without_retry(api: respx.MockRouter) -> None:
    route = api.get("/queue_metrics").respond(401, json={"code": "42501", "message": "denied"})
    with sync_client() as monitor, pytest.raises(PermissionDeniedError):
        monitor.get_queue_metrics()
    assert route.call_count == 1


async def test_async_transient_then_success(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics")
    route.side_effect = [httpx.ReadTimeout("slow"), pg_error(503, "PGRST001"), httpx.Response(201)]
    async with async_client(strict=True) as monitor:
        assert monitor.record_metric("m", 1.0) is True
        assert await monitor.flush() is True
        stats = monitor.stats
    assert route.call_count == 3
    assert (stats.written, stats.retries) == (1, 2)


async def test_async_strict_write_error_surfaces_at_flush(api: respx.MockRouter) -> None:
    route = api.post("/pipeline_metrics").respond(401, json={"code": "42501", "message": "no"})
    monitor = async_client(strict=True)
    assert monitor.record_metric("m", 1.0) is True  # only scheduled
    with pytest.raises(PermissionDeniedError):
        await monitor.flush()
    assert route.call_count == 1
    await monitor.close()


async def test_async_non_strict_exhaustion_is_counted(api: respx.MockRouter) -> None:
    route = api.post("/monitoring_events").respond(504, text="timeout")
    async with async_client() as monitor:
        monitor.record_event("e")
        assert await monitor.flush() is True
        stats = monitor.stats
    assert route.call_count == FAST_RETRY.max_attempts
    assert (stats.dropped, stats.written, stats.pending) == (1, 0, 0)


# ---------------------------------------------------------------- the policy itself


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(tenacity.time, "monotonic", fake.monotonic)
    # Jitter at its upper bound makes the exponential schedule visible.
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    return fake


def always(exc: Exception) -> Callable[[], None]:
    def fail() -> None:
        raise exc

    return fail


def test_backoff_is_exponential_and_capped(clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.5, max_backoff=3.0, max_elapsed=100)
    with pytest.raises(TransientError):
        call_with_retry(policy, always(TransientError("down")), sleep=clock.sleep)
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_total_time_is_bounded(clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=100, initial_backoff=1.0, max_backoff=4.0, max_elapsed=10)
    with pytest.raises(TransientError):
        call_with_retry(policy, always(TransientError("down")), sleep=clock.sleep)
    # Waits 1, 2, 4 (7 s); the next 4 s wait would end past 10 s: no attempt starts after it.
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert sum(clock.sleeps) < policy.max_elapsed


def test_jitter_spreads_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=40, initial_backoff=1.0, max_backoff=1.0, max_elapsed=1000)
    with pytest.raises(TransientError):
        call_with_retry(policy, always(TransientError("down")), sleep=sleeps.append)
    assert all(0 <= s <= 1.0 for s in sleeps)
    assert len(set(sleeps)) > 1


@pytest.mark.parametrize(
    "exc",
    [
        PermissionDeniedError("no"),
        RequestError("bad"),
        ServerError("broken"),
        ValueError("bug"),
    ],
)
def test_policy_never_retries_non_transient(exc: Exception) -> None:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        call_with_retry(RetryPolicy(), fail, sleep=lambda s: None)
    assert calls == [1]


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(max_elapsed=-1)


def test_every_retrier_waits_with_the_same_full_jitter() -> None:
    # Requests, the batching writer and alert delivery share one Backoff: each
    # wait is uniform over [0, cap], not just its upper half.
    from supabase_monitoring._batching import BatchingConfig, _BufferCore
    from supabase_monitoring._retry import Backoff
    from supabase_monitoring.alerting.delivery import DeliveryRetry

    core: _BufferCore[str] = _BufferCore(
        BatchingConfig(retry_initial=0.5, retry_max=3.0), lambda exc: True, "t"
    )
    samplers = {
        "requests": (RetryPolicy(initial_backoff=0.5, max_backoff=3.0).backoff.delay, 2.0),
        "batching": (core.backoff.delay, 2.0),
        "delivery": (lambda n: DeliveryRetry(base_delay=0.5, max_delay=3.0).delay(n + 1), 2.0),
    }
    for name, (delay, cap) in samplers.items():
        waits = [delay(2) for _ in range(2000)]
        assert max(waits) <= cap, name
        assert min(waits) < cap / 4, name  # full jitter reaches near zero
        assert sum(waits) / len(waits) == pytest.approx(cap / 2, rel=0.1), name
    assert Backoff(0.5, 3.0).cap(10) == 3.0

"""aggregate_metrics(): the RPC it sends, what it accepts back, and bad periods."""

from __future__ import annotations

import httpx
import pytest
import respx
from sdk_support import api, async_client, body, sync_client

from supabase_monitoring import InvalidInputError, InvalidResponseError

__all__ = ["api"]


def test_runs_the_monitoring_rpc_and_returns_its_count(api: respx.MockRouter) -> None:
    route = api.post("/rpc/aggregate_metrics").respond(200, json=42)
    with sync_client(strict=True) as monitor:
        assert monitor.aggregate_metrics("daily") == 42
    request = route.calls.last.request
    assert request.headers["content-profile"] == "monitoring"
    assert body(request) == {"p_period": "daily"}


def test_transient_failures_are_retried(api: respx.MockRouter) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json=7)])
    route = api.post("/rpc/aggregate_metrics").mock(side_effect=lambda request: next(answers))
    with sync_client() as monitor:
        assert monitor.aggregate_metrics() == 7
    assert route.call_count == 2


@pytest.mark.parametrize("period", ["monthly", "", None, "HOURLY"])
def test_unknown_periods_are_refused_before_any_request(
    api: respx.MockRouter, period: object
) -> None:
    with sync_client() as monitor, pytest.raises(InvalidInputError, match="period must be one of"):
        monitor.aggregate_metrics(period)  # type: ignore[arg-type]
    assert api.calls.call_count == 0


def test_an_answer_that_is_not_a_count_is_an_error(api: respx.MockRouter) -> None:
    api.post("/rpc/aggregate_metrics").respond(200, json={"rows": 3})
    with sync_client() as monitor, pytest.raises(InvalidResponseError):
        monitor.aggregate_metrics()


async def test_async_twin(api: respx.MockRouter) -> None:
    route = api.post("/rpc/aggregate_metrics").respond(200, json=3)
    async with async_client(strict=True) as monitor:
        assert await monitor.aggregate_metrics("weekly") == 3
    assert body(route.calls.last.request) == {"p_period": "weekly"}

"""The CLI's requests (respx): one client with the SDK's retries behind every command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sdk_support import KEY, URL, api, body, pg_error

from supabase_monitoring.cli import main

__all__ = ["api"]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", URL)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", KEY)
    monkeypatch.delenv("SUPABASE_MONITORING_DISABLED", raising=False)


def test_aggregate_retries_a_transient_failure_like_the_clients(
    api: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([pg_error(503, "PGRST001"), httpx.Response(200, json=5)])
    route = api.post("/rpc/aggregate_metrics").mock(side_effect=lambda request: next(answers))
    assert main(["aggregate", "--period", "hourly"]) == 0
    assert route.call_count == 2
    assert capsys.readouterr().out == "hourly: 5 rollup rows written\n"


def test_backfill_steps_p_now_from_the_watermark_in_chunks(
    api: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    mark = datetime.now(UTC) - timedelta(hours=13)
    api.get("/aggregation_watermarks").respond(200, json=[{"aggregated_until": mark.isoformat()}])
    route = api.post("/rpc/aggregate_metrics").respond(200, json=1)
    assert main(["aggregate", "--period", "daily", "--backfill", "--chunk-hours", "6"]) == 0
    sent = [body(call.request) for call in route.calls]
    assert [b["p_period"] for b in sent] == ["daily"] * 3
    stops = [datetime.fromisoformat(b["p_now"]) for b in sent]
    assert stops[:2] == [mark + timedelta(hours=6), mark + timedelta(hours=12)]
    assert stops[2] > stops[1]
    out, err = capsys.readouterr()
    assert out == "daily: 3 rollup rows written\n"
    assert "daily   [3/3]" in err


@pytest.mark.parametrize(
    ("argv", "advice"),
    [
        (["--period", "weekly"], "`aggregate --period weekly --backfill`"),
        (["--period", "hourly", "--backfill"], "`--chunk-hours 6`"),
        (["--period", "daily", "--backfill", "--chunk-hours", "30"], "`--chunk-hours 24`"),
        (["--period", "daily", "--backfill"], "select monitoring.aggregate_metrics('daily')"),
        (
            ["--period", "hourly", "--backfill", "--chunk-hours", "1"],
            "select monitoring.aggregate_metrics('hourly')",
        ),
    ],
)
def test_a_statement_timeout_says_how_to_get_through_the_back_log(
    api: respx.MockRouter, capsys: pytest.CaptureFixture[str], argv: list[str], advice: str
) -> None:
    mark = datetime.now(UTC) - timedelta(days=3)
    api.get("/aggregation_watermarks").respond(200, json=[{"aggregated_until": mark.isoformat()}])
    route = api.post("/rpc/aggregate_metrics").respond(
        500, json={"code": "57014", "message": "canceling statement due to statement timeout"}
    )
    assert main(["aggregate", *argv]) == 1
    assert route.call_count == 1  # not retried: the same call would time out again
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = [x for x in err.splitlines() if "error:" in x]
    assert "outlasted the API's statement timeout" in line
    assert advice in line


def test_other_aggregation_errors_are_reported_as_they_are(
    api: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    api.post("/rpc/aggregate_metrics").mock(return_value=pg_error(400, "22023", "bad period"))
    assert main(["aggregate", "--period", "hourly"]) == 1
    err = capsys.readouterr().err
    assert "bad period" in err
    assert "statement timeout" not in err


def test_alert_reads_and_stores_state_through_one_http_pool(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools: list[httpx.Client] = []

    class CountedClient(httpx.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(httpx, "Client", CountedClient)
    api.post("/rpc/get_system_health").respond(200, json={"not": "health"})
    api.get("/api_metrics").respond(200, json=[])
    api.get("/worker_issues").respond(200, json=[])
    api.post("/rpc/queue_depth_trend").respond(200, json=[])
    events = api.get("/monitoring_events").respond(200, json=[])
    claims = api.post("/monitoring_events").respond(201)
    # 1: this fake table never shows the claim back, so the run reports a store error.
    assert main(["alert", "--json"]) == 1
    assert events.call_count >= 1  # the store read its state ...
    assert claims.call_count == 1  # ... and wrote its claim
    assert len(pools) == 1  # all through the client's one HTTP pool


def test_a_command_without_the_api_runs_with_no_connection(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Room for commands such as a database installer: needs_api=False, conn=None,
    # and no SUPABASE_* variable required.
    import types

    from supabase_monitoring.cli import app as cli_main

    seen: list[object] = []

    def run(args: Any, conn: object, out: Any) -> int:
        seen.append(conn)
        out.write("offline\n")
        return 0

    offline = types.ModuleType("offline")
    offline.register = lambda sub: sub.add_parser("offline").set_defaults(  # type: ignore[attr-defined]
        run=run, needs_api=False
    )
    monkeypatch.setattr(cli_main, "COMMANDS", (*cli_main.COMMANDS, offline))
    monkeypatch.delenv("SUPABASE_URL")
    assert main(["offline"]) == 0
    assert seen == [None]
    assert capsys.readouterr().out == "offline\n"

"""The API key never shows in a repr, a log line or an exception."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
import respx
from sdk_support import KEY, URL, api, async_client, sync_client

from supabase_monitoring import (
    AsyncMonitoringClient,
    ConfigurationError,
    MonitoringClient,
    MonitoringError,
)
from supabase_monitoring._redact import redact

__all__ = ["api"]

# What a leak would look like: the whole key, or its signature part alone.
SIGNATURE = KEY.rsplit(".", 1)[1]


def assert_clean(text: str) -> None:
    assert KEY not in text
    assert SIGNATURE not in text


def test_reprs_hide_the_key() -> None:
    monitor = sync_client()
    amonitor = async_client()
    for obj in (monitor, monitor.sink, monitor._transport, amonitor, amonitor.sink):
        assert_clean(repr(obj))
        assert_clean(str(obj))
    assert "sdk.test" in repr(monitor)
    monitor.close()


def test_url_credentials_stay_out_of_the_repr() -> None:
    monitor = MonitoringClient("http://admin:hunter2@sdk.test/?token=abc", KEY, disabled=False)
    assert "hunter2" not in repr(monitor)
    assert "abc" not in repr(monitor)
    monitor.close()


def test_errors_echoing_the_key_are_redacted(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    # A misbehaving proxy that echoes request headers in its error page and JSON.
    api.post("/pipeline_metrics").respond(
        400,
        json={"code": "PGRST100", "message": f"bad apikey {KEY}", "details": f"Bearer {KEY}"},
    )
    api.post("/monitoring_events").respond(500, text=f"<html>Authorization: Bearer {KEY}</html>")
    api.post("/rpc/get_system_health").respond(200, text=f"<html>apikey: {KEY}</html>")
    with caplog.at_level(logging.DEBUG, logger="supabase_monitoring"):
        with sync_client(strict=True) as strict:
            for call in (lambda: strict.record_metric("m", 1), lambda: strict.record_event("e")):
                with pytest.raises(MonitoringError) as info:
                    call()
                exc = info.value
                for text in (str(exc), repr(exc), exc.details or "", exc.hint or ""):
                    assert_clean(text)
                assert_clean("".join(traceback.format_exception(exc)))
        with sync_client() as lenient:
            assert lenient.record_metric("m", 1) is False
            assert lenient.record_event("e") is False
            health = lenient.get_system_health()
    assert_clean(caplog.text)
    assert_clean(health.error or "")
    assert "[REDACTED]" in (health.error or "")
    assert "[REDACTED]" in caplog.text


def test_network_errors_are_redacted(api: respx.MockRouter) -> None:
    api.post("/pipeline_metrics").mock(side_effect=httpx.ConnectError(f"refused {KEY}"))
    with sync_client(strict=True) as monitor, pytest.raises(MonitoringError) as info:
        monitor.record_metric("m", 1)
    assert_clean(str(info.value))
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_bad_url_error_hides_the_key() -> None:
    with pytest.raises(ConfigurationError) as info:
        MonitoringClient("not a url", KEY, disabled=False)
    assert_clean(str(info.value))
    with pytest.raises(ConfigurationError) as ainfo:
        AsyncMonitoringClient("ftp://x", KEY, disabled=False)
    assert_clean(str(ainfo.value))


def test_redact_catches_any_jwt() -> None:
    other = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.abcdefghijk"
    assert redact(f"key={other}!") == "key=[REDACTED]!"
    assert redact("nothing here") == "nothing here"
    assert redact("sb_secret_abcdefgh12345", ["sb_secret_abcdefgh12345"]) == "[REDACTED]"


async def test_async_errors_are_redacted(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    api.post("/worker_issues").respond(401, json={"code": "42501", "message": f"no {KEY}"})
    with caplog.at_level(logging.DEBUG, logger="supabase_monitoring"):
        monitor = async_client(strict=True)
        monitor.log_worker_issue("w", "t", "m")
        with pytest.raises(MonitoringError) as info:
            await monitor.flush()
        await monitor.close()
    assert_clean(str(info.value))
    assert_clean(caplog.text)


# supabase-py warns when built without an httpx client, as users often do.
@pytest.mark.filterwarnings(
    "ignore:The '(timeout|verify)' parameter is deprecated:DeprecationWarning"
)
def test_key_from_users_client_is_redacted(api: respx.MockRouter) -> None:
    from supabase import create_client

    secret = "sb_secret_" + "q" * 30  # new-style key: not a JWT, known only from the client
    api.post("/pipeline_metrics").respond(400, json={"code": "PGRST100", "message": secret})
    monitor = MonitoringClient(
        client=create_client(URL, secret), strict=True, disabled=False, batching=False
    )
    with pytest.raises(MonitoringError) as info:
        monitor.record_metric("m", 1)
    assert secret not in str(info.value)
    assert secret not in repr(monitor)

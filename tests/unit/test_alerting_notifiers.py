"""Notifiers and retrying delivery against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from supabase_monitoring.alerting.delivery import DeliveryRetry, deliver
from supabase_monitoring.alerting.model import Alert, AlertSeverity, Notification, Transition
from supabase_monitoring.alerting.notifiers import (
    DeliveryError,
    JsonWebhookNotifier,
    LogNotifier,
    SlackWebhookNotifier,
    redact_url,
)
from supabase_monitoring.alerting.receiver import WebhookReceiver

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _notification(transition: Transition = Transition.FIRED) -> Notification:
    alert = Alert(
        rule="api_error_rate",
        key="api_error_rate:stripe",
        severity=AlertSeverity.CRITICAL,
        summary="stripe error rate 25.0% over 5.0%",
        details={"api": "stripe", "error_rate": 0.25, "calls": 40},
    )
    return Notification(transition, alert, "evt-1", NOW)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as rx:
        yield rx


def _no_sleep(_: float) -> None:
    pass


def test_json_webhook_posts_the_notification(receiver: WebhookReceiver) -> None:
    notifier = JsonWebhookNotifier(receiver.url("/hook"), headers={"X-Team": "ops"})
    notifier.send(_notification())
    (req,) = receiver.wait_for(1)
    body = req.json()
    assert req.path == "/hook"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Team"] == "ops"
    assert body["transition"] == "fired"
    assert body["key"] == "api_error_rate:stripe"
    assert body["severity"] == "critical"
    assert body["details"]["error_rate"] == 0.25
    assert body["fingerprint"] == _notification().alert.fingerprint
    assert "X-Signature-SHA256" not in req.headers


def test_json_webhook_signs_the_body_with_a_secret(receiver: WebhookReceiver) -> None:
    JsonWebhookNotifier(receiver.url("/signed"), secret="s3cret").send(_notification())
    (req,) = receiver.wait_for(1)
    expected = hmac.new(b"s3cret", req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Signature-SHA256"] == f"sha256={expected}"


def test_slack_payload_has_text_and_colored_attachment(receiver: WebhookReceiver) -> None:
    SlackWebhookNotifier(receiver.url("/services/T/B/x")).send(_notification())
    SlackWebhookNotifier(receiver.url("/services/T/B/x")).send(_notification(Transition.RESOLVED))
    fired, resolved = (r.json() for r in receiver.wait_for(2))
    assert fired["text"].startswith("[FIRING] CRITICAL: stripe error rate")
    attachment = fired["attachments"][0]
    assert attachment["color"] == "#d93f3f"
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["Alert"] == "api_error_rate:stripe"
    assert fields["error_rate"] == "0.25"
    assert resolved["text"].startswith("[RESOLVED]")
    assert resolved["attachments"][0]["color"] == "#2eb67d"


def test_server_error_is_retryable_and_client_error_permanent(receiver: WebhookReceiver) -> None:
    notifier = JsonWebhookNotifier(receiver.url("/x"))
    receiver.respond_with([503, 404])
    with pytest.raises(DeliveryError) as first:
        notifier.send(_notification())
    assert not first.value.permanent
    assert "HTTP 503" in str(first.value)
    with pytest.raises(DeliveryError) as second:
        notifier.send(_notification())
    assert second.value.permanent


def test_delivery_retries_until_the_server_recovers(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the longest full-jitter wait
    receiver.respond_with([500, 502])
    sleeps: list[float] = []
    (outcome,) = deliver(
        _notification(),
        [JsonWebhookNotifier(receiver.url("/r"))],
        DeliveryRetry(attempts=3, base_delay=0.5),
        sleep=sleeps.append,
    )
    assert outcome.delivered
    assert outcome.attempts == 3
    assert len(receiver.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_delivery_gives_up_after_the_attempts_and_reports_why(receiver: WebhookReceiver) -> None:
    receiver.respond_with([500, 500, 500])
    slack = SlackWebhookNotifier(receiver.url("/services/T000/B000/secret-token"))
    log = LogNotifier()
    failed, logged = deliver(_notification(), [slack, log], DeliveryRetry(attempts=3), _no_sleep)
    assert not failed.delivered
    assert failed.attempts == 3
    assert failed.error is not None
    assert "HTTP 500" in failed.error
    assert "secret-token" not in failed.error
    assert "secret-token" not in failed.notifier
    assert logged.delivered  # one notifier failing does not stop the others


def test_permanent_failure_is_not_retried(receiver: WebhookReceiver) -> None:
    receiver.respond_with([410])
    (outcome,) = deliver(
        _notification(), [JsonWebhookNotifier(receiver.url("/gone"))], sleep=_no_sleep
    )
    assert not outcome.delivered
    assert outcome.attempts == 1
    assert len(receiver.requests) == 1


def test_connection_refused_is_a_retryable_delivery_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    notifier = JsonWebhookNotifier(f"http://127.0.0.1:{port}/hook?token=abc", timeout=2)
    (outcome,) = deliver(_notification(), [notifier], DeliveryRetry(attempts=2), _no_sleep)
    assert not outcome.delivered
    assert outcome.attempts == 2
    assert outcome.error is not None
    assert "ConnectError" in outcome.error
    assert "abc" not in outcome.error


def test_a_crashing_notifier_is_reported_not_raised() -> None:
    class Broken:
        name = "broken"

        def send(self, notification: Notification) -> None:
            raise RuntimeError("bug")

    (outcome,) = deliver(_notification(), [Broken()], DeliveryRetry(attempts=2), _no_sleep)
    assert not outcome.delivered
    assert outcome.error == "RuntimeError in notifier"


def test_log_notifier_levels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="supabase_monitoring")
    LogNotifier().send(_notification())
    LogNotifier().send(_notification(Transition.RESOLVED))
    levels = [(r.levelno, r.getMessage().split("]")[0]) for r in caplog.records]
    assert levels == [(logging.ERROR, "[FIRING"), (logging.INFO, "[RESOLVED")]


def test_webhook_url_is_redacted_in_repr_and_name() -> None:
    url = "https://hooks.example.com:8443/services/T/B/very-secret"
    notifier = SlackWebhookNotifier(url)
    assert "very-secret" not in repr(notifier)
    assert "very-secret" not in notifier.name
    assert redact_url(url) == "https://hooks.example.com:8443/..."
    notifier.close()


@pytest.mark.parametrize("url", ["", "ftp://x/y", "hooks.slack.com/services/x", "http:///path"])
def test_invalid_webhook_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        JsonWebhookNotifier(url)

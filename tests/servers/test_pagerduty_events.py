"""The PagerDuty notifier against a local Events API v2 endpoint that checks each event
the way PagerDuty documents it (and answers 202, or 400 with the errors)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from supabase_monitoring.alerting.delivery import DeliveryRetry
from supabase_monitoring.alerting.engine import AlertEngine
from supabase_monitoring.alerting.model import AlertSeverity
from supabase_monitoring.alerting.pagerduty import PagerDutyNotifier
from supabase_monitoring.alerting.rules import AlertInputs, OverallStatusRule
from supabase_monitoring.alerting.state import MemoryAlertStore
from supabase_monitoring.models import SystemHealth

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef"  # 32 characters, like an integration key
ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}


def problems(event: Any) -> list[str]:
    """What PagerDuty's Events API v2 would reject in ``event``."""
    if not isinstance(event, dict):
        return ["event is not an object"]
    errors = []
    if event.get("routing_key") != ROUTING_KEY:
        errors.append("routing_key is wrong")
    if event.get("event_action") not in ACTIONS:
        errors.append("event_action is invalid")
    dedup = event.get("dedup_key")
    if not isinstance(dedup, str) or not 0 < len(dedup) <= 255:
        errors.append("dedup_key must be a string of 1-255 characters")
    if event.get("event_action") == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "payload is required for trigger"]
        for name in ("summary", "source", "severity"):
            if not isinstance(payload.get(name), str) or not payload[name]:
                errors.append(f"payload.{name} is required")
        if len(payload.get("summary", "")) > 1024:
            errors.append("payload.summary is longer than 1024")
        if payload.get("severity") not in SEVERITIES:
            errors.append("payload.severity is invalid")
        try:
            datetime.fromisoformat(payload["timestamp"])
        except (KeyError, TypeError, ValueError):
            errors.append("payload.timestamp must be ISO 8601")
        if not isinstance(payload.get("custom_details", {}), dict):
            errors.append("payload.custom_details must be an object")
    return errors


class EventsApi:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = json.loads(body)
                except ValueError:
                    event = None
                errors = problems(event)
                if self.path != "/v2/enqueue":
                    errors.append(f"wrong path {self.path}")
                if self.headers.get("Content-Type") != "application/json":
                    errors.append("Content-Type must be application/json")
                if errors:
                    status, answer = 400, {"status": "invalid event", "errors": errors}
                else:
                    api.events.append(event)
                    status = 202
                    answer = {"status": "success", "dedup_key": event["dedup_key"]}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"


@pytest.fixture
def events_api() -> Iterator[EventsApi]:
    api = EventsApi()
    api.thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()
    api.thread.join(timeout=5)


def health(status: str) -> SystemHealth:
    doc: dict[str, Any] = {"overall_status": status}
    for c in ("queue_health", "processing_health", "worker_health"):
        doc[c] = {"status": "healthy"}
    return SystemHealth.model_validate(doc)


def test_trigger_escalate_resolve_with_dedup_keys(events_api: EventsApi) -> None:
    notifier = PagerDutyNotifier(
        ROUTING_KEY, url=events_api.url, severities={AlertSeverity.WARNING: "error"}
    )
    engine = AlertEngine(
        [OverallStatusRule()],
        [notifier],
        MemoryAlertStore(),
        retry=DeliveryRetry(attempts=1, base_delay=0),
    )
    t0 = datetime.now(UTC)
    for minutes, status in ((0, "warning"), (1, "critical"), (2, "healthy")):
        result = engine.run_once(AlertInputs(health(status), t0 + timedelta(minutes=minutes)))
        assert result.failed_deliveries == 0, result.sent

    fired, resolve_old, escalated, resolved = events_api.events
    assert fired["event_action"] == "trigger"
    assert fired["payload"]["severity"] == "error"  # the configured mapping
    assert fired["payload"]["summary"] == "System health is WARNING"
    assert fired["payload"]["group"] == "overall_status"
    assert fired["payload"]["custom_details"]["key"] == "overall_status"
    # The escalation closes the warning incident and opens the critical one.
    assert resolve_old == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": fired["dedup_key"],
    }
    assert escalated["event_action"] == "trigger"
    assert escalated["payload"]["severity"] == "critical"
    assert escalated["dedup_key"] != fired["dedup_key"]
    assert resolved["event_action"] == "resolve"
    assert resolved["dedup_key"] == escalated["dedup_key"]
    # dedup_key is our fingerprint: the same alert and severity always map to it.
    note = engine.run_once(AlertInputs(health("critical"), t0 + timedelta(minutes=3)))
    assert note.sent[0].notification.alert.fingerprint == escalated["dedup_key"]


def test_a_rejected_event_is_a_permanent_failure_without_the_key(events_api: EventsApi) -> None:
    notifier = PagerDutyNotifier("not-the-key", url=events_api.url)
    engine = AlertEngine(
        [OverallStatusRule()], [notifier], MemoryAlertStore(), retry=DeliveryRetry(attempts=3)
    )
    result = engine.run_once(AlertInputs(health("critical"), datetime.now(UTC)))
    (outcome,) = result.sent[0].outcomes
    assert not outcome.delivered
    assert outcome.attempts == 1  # a 400 is not retried
    assert "HTTP 400" in str(outcome.error)
    assert "not-the-key" not in str(outcome.error)
    assert "not-the-key" not in repr(notifier)
    assert events_api.events == []


def test_empty_routing_key_and_unknown_severity_are_refused() -> None:
    with pytest.raises(ValueError, match="routing key"):
        PagerDutyNotifier("  ")
    with pytest.raises(ValueError, match="severity"):
        PagerDutyNotifier(ROUTING_KEY, severities={AlertSeverity.WARNING: "loud"})

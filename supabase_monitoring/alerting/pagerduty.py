"""PagerDuty Events API v2 notifier (``POST /v2/enqueue``).

``dedup_key`` is the alert's fingerprint (its key and severity), so a
re-sent trigger lands on the same incident and a resolve closes it. A
severity change resolves the incident of the old severity and triggers one
for the new. The routing (integration) key is a secret: it travels in the
body only and never appears in reprs, logs or errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .model import Alert, AlertSeverity, Notification, Transition
from .notifiers import _WebhookNotifier

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
ROUTING_KEY_ENV = "SUPABASE_MONITORING_PAGERDUTY_ROUTING_KEY"
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_SEVERITIES = {AlertSeverity.WARNING: "warning", AlertSeverity.CRITICAL: "critical"}


class PagerDutyNotifier(_WebhookNotifier):
    kind = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        *,
        url: str = EVENTS_URL,
        source: str = "supabase-monitoring",
        severities: Mapping[AlertSeverity, str] | None = None,
        client_url: str | None = None,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(url, timeout=timeout, client=client)
        if not routing_key.strip():
            raise ValueError("PagerDuty routing key is empty")
        mapping = {**DEFAULT_SEVERITIES, **(severities or {})}
        bad = sorted(v for v in mapping.values() if v not in PAGERDUTY_SEVERITIES)
        if bad:
            raise ValueError(f"PagerDuty severity must be one of {PAGERDUTY_SEVERITIES}: {bad}")
        self._routing_key = routing_key.strip()
        self._source = source
        self._severities = mapping
        self._client_url = client_url

    def events(self, notification: Notification) -> list[dict[str, Any]]:
        """The Events v2 documents one notification becomes (in order)."""
        n = notification
        if n.transition is Transition.FLAPPING:
            return []  # the incident follows the state chain; the held change comes later
        if n.transition is Transition.RESOLVED:
            return [self._resolve(n.alert)]
        events = []
        if n.transition is Transition.CHANGED:
            other = (
                AlertSeverity.WARNING
                if n.alert.severity is AlertSeverity.CRITICAL
                else AlertSeverity.CRITICAL
            )
            events.append(
                self._resolve(Alert(n.alert.rule, n.alert.key, other, n.alert.summary, {}))
            )
        events.append(self._trigger(n))
        return events

    def payload(self, notification: Notification) -> list[dict[str, Any]]:
        return self.events(notification)

    def send(self, notification: Notification) -> None:
        for event in self.events(notification):
            self._post(event)

    def _resolve(self, alert: Alert) -> dict[str, Any]:
        return {
            "routing_key": self._routing_key,
            "event_action": "resolve",
            "dedup_key": alert.fingerprint,
        }

    def _trigger(self, n: Notification) -> dict[str, Any]:
        alert = n.alert
        details = dict(alert.details)
        component = details.get("component") or details.get("api")
        payload: dict[str, Any] = {
            "summary": alert.summary[:1024] or alert.key,
            "source": self._source,
            "severity": self._severities[alert.severity],
            "timestamp": n.occurred_at.isoformat(),
            "group": alert.rule,
            "class": alert.rule,
            "custom_details": {"key": alert.key, "transition": n.transition.value, **details},
        }
        if isinstance(component, str):
            payload["component"] = component
        event: dict[str, Any] = {
            "routing_key": self._routing_key,
            "event_action": "trigger",
            "dedup_key": alert.fingerprint,
            "payload": payload,
            "client": "supabase-monitoring",
        }
        if self._client_url:
            event["client_url"] = self._client_url
        return event

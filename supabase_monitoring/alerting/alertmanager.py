"""Prometheus Alertmanager notifier (API v2, ``POST /api/v2/alerts``).

Alertmanager owns grouping, inhibition, its own silences and routing to
receivers; we hand it alerts the way Prometheus does. An alert it is not
sent again expires at its ``endsAt``, so every run re-sends the firing alerts
(:meth:`AlertmanagerNotifier.refresh`) with ``endsAt`` a lease ahead: if the
alerter stops, its alerts resolve by themselves after the lease instead of
firing forever. A resolution is sent with ``endsAt`` = now. Labels identify
an alert (see :func:`.holds.alert_labels`); the figures go into annotations,
because a label that changes every run would be a new alert every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from .holds import alert_labels
from .model import Alert, AlertSeverity, Notification, Transition
from .notifiers import _WebhookNotifier


class AlertmanagerNotifier(_WebhookNotifier):
    """``url`` is Alertmanager's base URL, e.g. ``http://127.0.0.1:9093``.

    ``lease`` should exceed the alerter's run interval (a few times over);
    ``generator_url`` links back to whatever shows the figures (a dashboard).
    """

    kind = "alertmanager"

    def __init__(
        self,
        url: str,
        *,
        lease: timedelta = timedelta(minutes=5),
        generator_url: str | None = None,
        extra_labels: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            url.rstrip("/") + "/api/v2/alerts", timeout=timeout, headers=headers, client=client
        )
        if lease <= timedelta(0):
            raise ValueError("lease must be positive")
        self._lease = lease
        self._generator_url = generator_url
        self._extra_labels = dict(extra_labels or {})

    def payload(self, notification: Notification) -> list[dict[str, Any]]:
        n = notification
        if n.transition is Transition.FLAPPING:
            # Alertmanager's view follows the state chain; the held change arrives later.
            return []
        starts = n.episode_started_at or n.occurred_at
        if n.transition is Transition.RESOLVED:
            return [self._entry(n.alert, starts, n.occurred_at)]
        alerts = [self._entry(n.alert, starts, n.occurred_at + self._lease)]
        if n.transition is Transition.CHANGED:
            # Severity is a label: the alert under the old severity is a different
            # Alertmanager alert, resolved now rather than left to its lease.
            other = (
                AlertSeverity.WARNING
                if n.alert.severity is AlertSeverity.CRITICAL
                else AlertSeverity.CRITICAL
            )
            before = Alert(n.alert.rule, n.alert.key, other, n.alert.summary, n.alert.details)
            alerts.append(self._entry(before, starts, n.occurred_at))
        return alerts

    def send(self, notification: Notification) -> None:
        document = self.payload(notification)
        if document:
            self._post(document)

    def refresh(self, notifications: Sequence[Notification]) -> None:
        """Re-send still-firing alerts in one request (what Alertmanager expects)."""
        document = [e for n in notifications for e in self.payload(n)]
        if document:
            self._post(document)

    def _entry(self, alert: Alert, starts: datetime, ends: datetime) -> dict[str, Any]:
        annotations = {"summary": alert.summary}
        for name, value in alert.details.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                annotations[name] = f"{value:g}" if isinstance(value, float) else str(value)
        entry: dict[str, Any] = {
            "labels": {**self._extra_labels, **alert_labels(alert)},
            "annotations": annotations,
            "startsAt": starts.isoformat(),
            "endsAt": ends.isoformat(),
        }
        if self._generator_url:
            entry["generatorURL"] = self._generator_url
        return entry

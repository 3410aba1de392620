"""Where alert notifications go: Slack-compatible webhooks, JSON webhooks, the log.

A notifier makes exactly one delivery attempt and raises :class:`DeliveryError`
on failure; retrying is :mod:`.delivery`'s job so every notifier gets the same
policy. Webhook URLs usually embed a secret token, so they never appear in
reprs, logs or exception messages (only scheme and host do).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from .model import AlertSeverity, Notification, Transition

logger = logging.getLogger("supabase_monitoring.alerting")

_SLACK_COLORS = {
    AlertSeverity.WARNING: "#f2c744",
    AlertSeverity.CRITICAL: "#d93f3f",
}
_RESOLVED_COLOR = "#2eb67d"


class DeliveryError(Exception):
    """One delivery attempt failed. ``permanent`` means retrying cannot help (e.g. HTTP 404)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Notifier(Protocol):
    """Delivers one notification, once. Raises :class:`DeliveryError` on failure."""

    @property
    def name(self) -> str: ...

    def send(self, notification: Notification) -> None: ...


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T/B/secret`` -> ``https://hooks.slack.com/...``."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..."


class LogNotifier:
    """Logs notifications (to stderr when the CLI configures logging): the always-there channel."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logger

    @property
    def name(self) -> str:
        return "log"

    def send(self, notification: Notification) -> None:
        if notification.transition is Transition.RESOLVED:
            level = logging.INFO
        elif notification.alert.severity is AlertSeverity.CRITICAL:
            level = logging.ERROR
        else:
            level = logging.WARNING
        self._log.log(level, "%s %s", notification.title, _compact(notification.alert.details))


class _WebhookNotifier:
    """POSTs JSON to a URL; 2xx is success, 408/429/5xx and network errors are retryable."""

    kind = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook URL must be an absolute http(s) URL")
        self._url = url
        self._headers = dict(headers or {})
        self._client = client or httpx.Client(timeout=timeout)
        self._owns_client = client is None

    @property
    def name(self) -> str:
        return f"{self.kind}({redact_url(self._url)})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self._url)!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def payload(self, notification: Notification) -> dict[str, Any]:
        raise NotImplementedError

    def _extra_headers(self, body: bytes) -> dict[str, str]:
        return {}

    def send(self, notification: Notification) -> None:
        body = json.dumps(self.payload(notification), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **self._headers}
        headers.update(self._extra_headers(body))
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # The exception text may carry the URL: report only its type.
            raise DeliveryError(f"{self.name}: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        permanent = 400 <= status < 500 and status not in (408, 425, 429)
        raise DeliveryError(f"{self.name}: HTTP {status}", permanent=permanent)


class JsonWebhookNotifier(_WebhookNotifier):
    """Generic webhook: the notification as JSON, optionally HMAC-SHA256 signed.

    With ``secret`` set, ``X-Signature-SHA256: sha256=<hex>`` lets the receiver
    check the body came from us.
    """

    kind = "json-webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(url, timeout=timeout, headers=headers, client=client)
        self._secret = secret.encode() if secret else None

    def payload(self, notification: Notification) -> dict[str, Any]:
        return {"source": "supabase-monitoring", **notification.to_dict()}

    def _extra_headers(self, body: bytes) -> dict[str, str]:
        if self._secret is None:
            return {}
        digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        return {"X-Signature-SHA256": f"sha256={digest}"}


class SlackWebhookNotifier(_WebhookNotifier):
    """Slack incoming webhook format (also accepted by Mattermost, Rocket.Chat, ...)."""

    kind = "slack"

    def payload(self, notification: Notification) -> dict[str, Any]:
        alert = notification.alert
        resolved = notification.transition is Transition.RESOLVED
        fields = [
            {"title": "Alert", "value": alert.key, "short": True},
            {"title": "AlertSeverity", "value": alert.severity.value, "short": True},
        ]
        fields.extend(
            {"title": str(name), "value": _format_value(value), "short": True}
            for name, value in alert.details.items()
            if not isinstance(value, (dict, list))
        )
        return {
            "text": notification.title,
            "attachments": [
                {
                    "color": _RESOLVED_COLOR if resolved else _SLACK_COLORS[alert.severity],
                    "title": notification.title,
                    "fields": fields,
                    "footer": "supabase-monitoring",
                    "ts": int(notification.occurred_at.timestamp()),
                }
            ],
        }


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _compact(details: Mapping[str, Any]) -> str:
    return json.dumps(dict(details), default=str, sort_keys=True)

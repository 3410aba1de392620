"""The database-backed :class:`AlertStore`: ``public.monitoring_events`` through PostgREST."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .._retry import RetryPolicy, call_with_retry
from .._tables import MONITORING_EVENTS
from ..errors import ConfigurationError, InvalidResponseError
from .state import (
    ALERT_DELIVERY_FAILED,
    STATE_EVENT_TYPES,
    StateEvent,
    chain_tips,
    delivery_failure_id,
    utcnow,
)

if TYPE_CHECKING:
    from .._client import MonitoringClient
    from .._transport import SyncTransport

logger = logging.getLogger("supabase_monitoring.alerting")


class PostgrestAlertStore:
    """Alert chains in ``monitoring_events``; safe between processes (see :mod:`.state`).

    ``horizon`` bounds how far back chains are read; keep it longer than the
    events' retention (30 days by default) or a very old open alert could be
    forgotten and fire again.
    """

    def __init__(
        self,
        transport: SyncTransport,
        *,
        horizon: timedelta = timedelta(days=35),
        max_events: int = 20_000,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._t = transport
        self._horizon = horizon
        self._max_events = max_events
        self._retry = retry or RetryPolicy()

    @classmethod
    def from_client(cls, client: MonitoringClient, **options: Any) -> PostgrestAlertStore:
        """A store on the connection of ``client`` (which owns and closes it)."""
        transport = client._transport
        if transport is None:
            raise ConfigurationError(
                "the client has no database connection (disabled, or built from a sink only)"
            )
        return cls(transport, **options)

    def load_tips(self) -> dict[str, StateEvent]:
        since = (utcnow() - self._horizon).isoformat()
        rows = call_with_retry(
            self._retry,
            lambda: self._t.select(
                MONITORING_EVENTS,
                columns="id,event_type,details,created_at",
                filters=[
                    ("event_type", "in", f"({','.join(STATE_EVENT_TYPES)})"),
                    ("created_at", "gte", since),
                ],
                order=[("created_at", True)],
                limit=self._max_events,
            ),
        )
        if len(rows) >= self._max_events:
            logger.warning("alert state truncated at %d events", self._max_events)
        events = []
        for row in rows:
            try:
                events.append(StateEvent.from_row(row))
            except (KeyError, ValueError, TypeError):
                logger.warning("ignoring malformed alert event %s", row.get("id"))
        return chain_tips(events)

    def claim(self, event: StateEvent) -> bool:
        row = event.to_row()
        call_with_retry(self._retry, lambda: self._t.insert_rows(MONITORING_EVENTS, [row]))
        stored = call_with_retry(
            self._retry,
            lambda: self._t.select(
                MONITORING_EVENTS,
                columns="id,details->>claim_token",
                filters=[("id", "eq", event.id)],
            ),
        )
        if not stored:
            raise InvalidResponseError(f"alert event {event.id} missing right after its insert")
        return bool(stored[0].get("claim_token") == event.claim_token)

    def record_delivery_failure(self, event: StateEvent, details: Mapping[str, Any]) -> None:
        notifier = str(details.get("notifier", ""))
        row = {
            "id": delivery_failure_id(event.id, notifier),
            "event_type": ALERT_DELIVERY_FAILED,
            "details": {
                "alert_key": event.key,
                "rule": event.rule,
                "event_id": event.id,
                "transition": event.transition.value,
                "severity": event.severity.value,
                "fingerprint": event.alert.fingerprint,
                "summary": event.summary,
                **details,
            },
        }
        call_with_retry(self._retry, lambda: self._t.insert_rows(MONITORING_EVENTS, [row]))

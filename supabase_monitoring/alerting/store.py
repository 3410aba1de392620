"""The database-backed :class:`AlertStore`: ``public.monitoring_events`` through PostgREST."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
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
    note_row,
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
        return chain_tips(self.load_events(utcnow() - self._horizon))

    def load_events(self, since: datetime) -> list[StateEvent]:
        rows = call_with_retry(
            self._retry,
            lambda: self._t.select(
                MONITORING_EVENTS,
                columns="id,event_type,details,created_at",
                filters=[
                    ("event_type", "in", f"({','.join(STATE_EVENT_TYPES)})"),
                    ("created_at", "gte", since.isoformat()),
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
        events.reverse()  # newest were read first, so a truncation drops the oldest
        return events

    def claim(self, event: StateEvent) -> bool:
        return self._claim_row(event.to_row(), event.claim_token)

    def record_hold(
        self, event: StateEvent, kind: str, hold_id: str, details: Mapping[str, Any]
    ) -> bool:
        token = str(uuid.uuid4())
        row = note_row(event, kind, hold_id, {**details, "claim_token": token})
        return self._claim_row(row, token)

    def _claim_row(self, row: dict[str, Any], token: str) -> bool:
        """Insert unless the id exists, read back: True if the stored row carries ``token``."""
        call_with_retry(self._retry, lambda: self._t.insert_rows(MONITORING_EVENTS, [row]))
        stored = call_with_retry(
            self._retry,
            lambda: self._t.select(
                MONITORING_EVENTS,
                columns="id,details->>claim_token",
                filters=[("id", "eq", row["id"])],
            ),
        )
        if not stored:
            raise InvalidResponseError(f"alert event {row['id']} missing right after its insert")
        return bool(stored[0].get("claim_token") == token)

    def record_delivery_failure(self, event: StateEvent, details: Mapping[str, Any]) -> None:
        notifier = str(details.get("notifier", ""))
        row = note_row(
            event, ALERT_DELIVERY_FAILED, delivery_failure_id(event.id, notifier), details
        )
        call_with_retry(self._retry, lambda: self._t.insert_rows(MONITORING_EVENTS, [row]))

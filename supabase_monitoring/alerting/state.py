"""Alert state as a hash chain of ``public.monitoring_events`` rows.

Each alert key (``api_error_rate:stripe``) has a chain of state events:
``alert_fired`` (transition fired / reminder / changed) and ``alert_resolved``.
The id of the next event is derived from the id of the current tip::

    next_id = uuid5(NAMESPACE, key + "\\n" + (tip_id or "genesis"))

so every process that sees the same tip computes the same id for "what
happens next". Claiming a transition is an ``INSERT ... ON CONFLICT (id) DO
NOTHING`` of that row carrying a random ``claim_token``, followed by reading
the row back: only the process whose token is in the row sends the
notification. Two alerting processes therefore never double-send, a stale
process (whose tip is out of date) computes an id that already exists and
loses, and a restarted process reads the tip and does not re-fire. A retried
insert whose first attempt did land still reads back its own token, so a
flaky network cannot turn a won claim into a lost one. Each event has at most
one successor, so the chain is linear and its tip is the event no other event
points to.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .model import Alert, AlertSeverity, Transition

ALERT_FIRED = "alert_fired"
ALERT_RESOLVED = "alert_resolved"
ALERT_DELIVERY_FAILED = "alert_delivery_failed"
STATE_EVENT_TYPES = (ALERT_FIRED, ALERT_RESOLVED)

#: Namespace of alert event ids (uuid5); fixed forever, changing it forks every chain.
NAMESPACE = uuid.UUID("6f0c1b8e-8a51-4f0e-9d0c-2b7a3c5e9a10")


def next_event_id(key: str, tip_id: str | None) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{key}\n{tip_id or 'genesis'}"))


def delivery_failure_id(event_id: str, notifier: str) -> str:
    """One failure record per (event, notifier): recording it twice is harmless."""
    return str(uuid.uuid5(NAMESPACE, f"delivery-failed\n{event_id}\n{notifier}"))


def _ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class StateEvent:
    """One link of an alert's chain, as stored in ``monitoring_events.details``."""

    id: str
    key: str
    rule: str
    transition: Transition
    severity: AlertSeverity
    summary: str
    prev_id: str | None
    episode_id: str
    episode_started_at: datetime
    occurred_at: datetime
    claim_token: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def firing(self) -> bool:
        return self.transition is not Transition.RESOLVED

    @property
    def event_type(self) -> str:
        return ALERT_RESOLVED if self.transition is Transition.RESOLVED else ALERT_FIRED

    @property
    def alert(self) -> Alert:
        return Alert(self.rule, self.key, self.severity, self.summary, self.details)

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "details": {
                "alert_key": self.key,
                "rule": self.rule,
                "transition": self.transition.value,
                "severity": self.severity.value,
                "fingerprint": self.alert.fingerprint,
                "summary": self.summary,
                "prev_id": self.prev_id,
                "episode_id": self.episode_id,
                "episode_started_at": self.episode_started_at.isoformat(),
                "occurred_at": self.occurred_at.isoformat(),
                "claim_token": self.claim_token,
                "context": dict(self.details),
            },
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StateEvent:
        d = row["details"]
        return cls(
            id=str(row["id"]),
            key=str(d["alert_key"]),
            rule=str(d["rule"]),
            transition=Transition(d["transition"]),
            severity=AlertSeverity(d["severity"]),
            summary=str(d.get("summary") or ""),
            prev_id=d.get("prev_id"),
            episode_id=str(d["episode_id"]),
            episode_started_at=_ts(d["episode_started_at"]),
            occurred_at=_ts(d.get("occurred_at") or row["created_at"]),
            claim_token=str(d.get("claim_token") or ""),
            details=d.get("context") or {},
        )

    @classmethod
    def successor(
        cls,
        tip: StateEvent | None,
        transition: Transition,
        alert: Alert,
        now: datetime,
    ) -> StateEvent:
        """The event that follows ``tip`` (``None``: the key's first event)."""
        event_id = next_event_id(alert.key, tip.id if tip else None)
        new_episode = transition is Transition.FIRED
        if not new_episode and tip is None:
            raise ValueError(f"{transition.value} needs an open episode")
        return cls(
            id=event_id,
            key=alert.key,
            rule=alert.rule,
            transition=transition,
            severity=alert.severity,
            summary=alert.summary,
            prev_id=tip.id if tip else None,
            episode_id=event_id if new_episode or tip is None else tip.episode_id,
            episode_started_at=now if new_episode or tip is None else tip.episode_started_at,
            occurred_at=now,
            claim_token=str(uuid.uuid4()),
            details=alert.details,
        )


def chain_tips(events: Iterable[StateEvent]) -> dict[str, StateEvent]:
    """The tip (latest event) of every key's chain.

    The tip is the event no other event names as ``prev_id``. Should a purge
    have cut a chain into pieces, the most recent candidate wins.
    """
    by_key: dict[str, list[StateEvent]] = defaultdict(list)
    for event in events:
        by_key[event.key].append(event)
    tips = {}
    for key, chain in by_key.items():
        referenced = {e.prev_id for e in chain}
        candidates = [e for e in chain if e.id not in referenced] or chain
        tips[key] = max(candidates, key=lambda e: e.occurred_at)
    return tips


class AlertStore(Protocol):
    """Where alert state lives; see the module docstring for the protocol."""

    def load_tips(self) -> dict[str, StateEvent]: ...

    def claim(self, event: StateEvent) -> bool:
        """Insert ``event`` unless its id exists; True if this call's row is the one stored."""
        ...

    def record_delivery_failure(self, event: StateEvent, details: Mapping[str, Any]) -> None: ...


class MemoryAlertStore:
    """Process-local store: for tests, and the fallback while the database is unreachable."""

    def __init__(self) -> None:
        self.events: dict[str, StateEvent] = {}
        self.failures: list[dict[str, Any]] = []

    def load_tips(self) -> dict[str, StateEvent]:
        return chain_tips(self.events.values())

    def claim(self, event: StateEvent) -> bool:
        if event.id in self.events:
            return self.events[event.id].claim_token == event.claim_token
        self.events[event.id] = event
        return True

    def record_delivery_failure(self, event: StateEvent, details: Mapping[str, Any]) -> None:
        self.failures.append({"event_id": event.id, **details})


def utcnow() -> datetime:
    return datetime.now(UTC)

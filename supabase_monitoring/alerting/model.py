"""Plain data shared by rules, state, delivery and notifiers (no I/O here)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class AlertSeverity(str, Enum):
    """How loud an alert is. Ordered: ``critical`` outranks ``warning``."""

    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return 2 if self is AlertSeverity.CRITICAL else 1


class Transition(str, Enum):
    """Why a notification is sent; each is one link of an alert's state chain."""

    FIRED = "fired"
    REMINDER = "reminder"
    CHANGED = "changed"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """A condition that holds right now, as produced by a rule.

    ``key`` identifies the alert across runs and processes (rule plus subject,
    e.g. ``api_error_rate:stripe``); ``details`` are the numbers behind it.
    """

    rule: str
    key: str
    severity: AlertSeverity
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Stable identity of *what* fires: the key and its severity, not the numbers."""
        raw = f"{self.key}\n{self.severity.value}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Notification:
    """What a notifier delivers: one transition of one alert."""

    transition: Transition
    alert: Alert
    event_id: str
    occurred_at: datetime
    episode_started_at: datetime | None = None

    @property
    def title(self) -> str:
        label = {
            Transition.FIRED: "FIRING",
            Transition.REMINDER: "STILL FIRING",
            Transition.CHANGED: "CHANGED",
            Transition.RESOLVED: "RESOLVED",
        }[self.transition]
        return f"[{label}] {self.alert.severity.value.upper()}: {self.alert.summary}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the generic webhook and the event rows."""
        return {
            "transition": self.transition.value,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
            "episode_started_at": (
                self.episode_started_at.isoformat() if self.episode_started_at else None
            ),
            "rule": self.alert.rule,
            "key": self.alert.key,
            "severity": self.alert.severity.value,
            "fingerprint": self.alert.fingerprint,
            "summary": self.alert.summary,
            "details": dict(self.alert.details),
        }

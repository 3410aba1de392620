"""Holding notifications back: silences and flapping, between "planned" and "claimed".

A :class:`Gate` looks at each planned state event before the engine claims
it. A held event is not claimed, so the alert's chain does not move: the
same transition is planned again on the next run, and goes out once no gate
holds it any more (a silence ended, a flapping alert settled) if the alert
still holds. An alert that fired and cleared while held never notifies. Each
hold is recorded once (its id is deterministic) as an event, for history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .model import Alert
from .state import AlertStore, StateEvent


@dataclass(frozen=True)
class Hold:
    """Why one planned event is held. ``announce``: send one notification of the hold."""

    kind: str  # the event type recorded: alert_silenced, alert_flapping
    hold_id: str  # deterministic, so recording it again is a no-op
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)
    announce: bool = False


class Gate(Protocol):
    """Decides holds; ``prepare`` reads what it needs once per run."""

    @property
    def name(self) -> str: ...

    def prepare(self, store: AlertStore, now: datetime) -> None: ...

    def check(self, event: StateEvent) -> Hold | None: ...


def alert_labels(alert: Alert) -> dict[str, str]:
    """The labels an alert is matched and routed by (and sent to Alertmanager with).

    ``alertname``/``rule``, ``key``, ``severity``, and every scalar detail
    (``api``, ``component``, ...); numbers stay out of labels on purpose: a
    label that changes every run would make a new alert every run.
    """
    labels = {
        "alertname": alert.rule,
        "rule": alert.rule,
        "key": alert.key,
        "severity": alert.severity.value,
    }
    for name, value in alert.details.items():
        if isinstance(value, str) and name not in labels:
            labels[name] = value
    return labels

"""Flapping suppression: an alert that keeps firing and clearing notifies once, then waits.

An alert whose chain already changed state (fired or resolved)
``max_changes`` times within ``window`` is flapping: its next change is held
(see :mod:`.holds`) and announced with one ``flapping`` notification. It stays
held until fewer than ``max_changes`` changes remain in the window (the
alert settled); then whatever state it is in by then goes out as a normal
transition. So a flapping alert sends at most ``max_changes + 1``
notifications per window, however fast it flips.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .holds import Hold
from .model import Transition
from .state import NAMESPACE, AlertStore, StateEvent

ALERT_FLAPPING = "alert_flapping"
_CHANGES = (Transition.FIRED, Transition.RESOLVED)


@dataclass
class FlappingGate:
    max_changes: int = 4
    window: timedelta = timedelta(minutes=30)
    _counts: Counter[str] = field(default_factory=Counter, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_changes < 1:
            raise ValueError("max_changes must be >= 1")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")

    @property
    def name(self) -> str:
        return "flapping"

    def prepare(self, store: AlertStore, now: datetime) -> None:
        events = store.load_events(now - self.window)
        self._counts = Counter(e.key for e in events if e.transition in _CHANGES)

    def check(self, event: StateEvent) -> Hold | None:
        if event.transition not in _CHANGES:
            return None
        changes = self._counts.get(event.key, 0)
        if changes < self.max_changes:
            return None
        minutes = self.window.total_seconds() / 60
        # One hold (and one announcement) per chain tip: the tip does not move while held.
        anchor = event.prev_id or event.id
        return Hold(
            kind=ALERT_FLAPPING,
            hold_id=str(uuid.uuid5(NAMESPACE, f"flapping\n{anchor}")),
            reason=f"{changes} state changes in the last {minutes:g} minutes",
            details={"changes": changes, "window_minutes": minutes},
            announce=True,
        )

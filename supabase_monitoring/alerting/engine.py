"""One alerting pass: evaluate rules, diff against stored state, claim, deliver, record."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .delivery import DeliveryOutcome, DeliveryRetry, deliver
from .model import Alert, Notification, Transition
from .notifiers import Notifier
from .rules import AlertInputs, Rule, RuleResult
from .state import AlertStore, MemoryAlertStore, StateEvent

logger = logging.getLogger("supabase_monitoring.alerting")


@dataclass(frozen=True)
class SentNotification:
    notification: Notification
    outcomes: Sequence[DeliveryOutcome]

    @property
    def delivered(self) -> bool:
        return all(o.delivered for o in self.outcomes)


@dataclass
class RunResult:
    """What one pass did; ``failed_deliveries`` > 0 makes the CLI exit non-zero."""

    active: list[Alert] = field(default_factory=list)
    sent: list[SentNotification] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # keys deduplicated this run
    lost_claims: list[str] = field(default_factory=list)  # another process sent them
    skipped_rules: list[str] = field(default_factory=list)  # no data to evaluate
    store_error: str | None = None

    @property
    def failed_deliveries(self) -> int:
        return sum(1 for s in self.sent for o in s.outcomes if not o.delivered)


class AlertEngine:
    """Stateless between runs except for the offline fallback; all state is in ``store``.

    ``cooldown`` is the minimum time between two notifications of the same
    firing alert: within it a still-firing alert is deduplicated, after it a
    reminder goes out (``None``: never remind). AlertSeverity changes and
    resolutions are always sent.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        notifiers: Sequence[Notifier],
        store: AlertStore,
        *,
        cooldown: timedelta | None = timedelta(hours=1),
        retry: DeliveryRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rules:
            raise ValueError("at least one rule is required")
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique: {names}")
        if cooldown is not None and cooldown <= timedelta(0):
            raise ValueError("cooldown must be positive (or None)")
        self._rules = list(rules)
        self._notifiers = list(notifiers)
        self._store = store
        self._cooldown = cooldown
        self._retry = retry or DeliveryRetry()
        self._sleep = sleep
        # Used only while the database store fails, so a --watch process keeps
        # deduplicating (across processes nothing can be promised then).
        self._offline = MemoryAlertStore()

    def evaluate(self, inputs: AlertInputs) -> list[RuleResult]:
        results = []
        for rule in self._rules:
            try:
                results.append(rule.evaluate(inputs))
            except Exception:
                logger.exception("alert rule %s failed; its alerts are left as they are", rule.name)
                results.append(RuleResult(rule.name, False))
        return results

    def run_once(self, inputs: AlertInputs) -> RunResult:
        results = self.evaluate(inputs)
        run = RunResult(
            active=[a for r in results if r.evaluated for a in r.alerts],
            skipped_rules=[r.rule for r in results if not r.evaluated],
        )
        evaluated = {r.rule for r in results if r.evaluated}
        try:
            tips = self._store.load_tips()
            store: AlertStore = self._store
        except Exception as exc:
            run.store_error = f"alert state unavailable ({type(exc).__name__}): {exc}"
            logger.error("%s; deduplicating in this process only", run.store_error)
            store = self._offline
            tips = store.load_tips()
        else:
            self._settle_offline(run, tips, inputs.evaluated_at)

        for step in self._plan(run.active, tips, evaluated, inputs.evaluated_at, run):
            self._execute(step, store, run)
        return run

    def _plan(
        self,
        active: Sequence[Alert],
        tips: dict[str, StateEvent],
        evaluated: set[str],
        now: datetime,
        run: RunResult,
    ) -> list[StateEvent]:
        steps = []
        active_keys = set()
        for alert in active:
            active_keys.add(alert.key)
            tip = tips.get(alert.key)
            if tip is None or not tip.firing:
                steps.append(StateEvent.successor(tip, Transition.FIRED, alert, now))
            elif tip.severity is not alert.severity:
                steps.append(StateEvent.successor(tip, Transition.CHANGED, alert, now))
            elif self._cooldown is not None and now - tip.occurred_at >= self._cooldown:
                steps.append(StateEvent.successor(tip, Transition.REMINDER, alert, now))
            else:
                run.suppressed.append(alert.key)
        for key, tip in sorted(tips.items()):
            # Only a rule that looked at its data may declare its alerts resolved.
            if tip.firing and key not in active_keys and tip.rule in evaluated:
                steps.append(StateEvent.successor(tip, Transition.RESOLVED, tip.alert, now))
        return steps

    def _execute(self, event: StateEvent, store: AlertStore, run: RunResult) -> None:
        try:
            won = store.claim(event)
        except Exception as exc:
            # Not claimed means not sent: sending unclaimed would double-send
            # whenever the store is only slow. The next run tries again.
            logger.error("could not claim alert %s (%s): %s", event.key, type(exc).__name__, exc)
            run.store_error = run.store_error or f"claim failed: {exc}"
            return
        if not won:
            run.lost_claims.append(event.key)
            logger.info(
                "alert %s %s: already handled by another process", event.key, event.transition.value
            )
            return
        notification = Notification(
            transition=event.transition,
            alert=event.alert,
            event_id=event.id,
            occurred_at=event.occurred_at,
            episode_started_at=event.episode_started_at,
        )
        outcomes = deliver(notification, self._notifiers, self._retry, self._sleep)
        run.sent.append(SentNotification(notification, outcomes))
        for outcome in outcomes:
            if outcome.delivered:
                continue
            logger.error(
                "alert %s (%s) NOT delivered to %s after %d attempt(s): %s",
                event.key,
                event.transition.value,
                outcome.notifier,
                outcome.attempts,
                outcome.error,
            )
            try:
                store.record_delivery_failure(
                    event,
                    {
                        "notifier": outcome.notifier,
                        "attempts": outcome.attempts,
                        "error": outcome.error,
                    },
                )
            except Exception as exc:
                logger.error("could not record the failed delivery of %s: %s", event.key, exc)

    def _settle_offline(self, run: RunResult, tips: dict[str, StateEvent], now: datetime) -> None:
        """After an outage: resolve alerts that fired only in memory and no longer hold."""
        offline = self._offline.load_tips()
        if not offline:
            return
        active = {a.key for a in run.active}
        for key, tip in offline.items():
            if tip.firing and key not in active:
                self._execute(
                    StateEvent.successor(tip, Transition.RESOLVED, tip.alert, now),
                    self._offline,
                    run,
                )
        self._offline = MemoryAlertStore()

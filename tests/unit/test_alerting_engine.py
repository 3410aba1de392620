"""Engine: dedup, cooldown reminders, changes, resolution, lost claims, failed deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from report_rows import api_hour

from supabase_monitoring.alerting.delivery import DeliveryRetry
from supabase_monitoring.alerting.engine import AlertEngine
from supabase_monitoring.alerting.model import AlertSeverity, Notification, Transition
from supabase_monitoring.alerting.notifiers import DeliveryError
from supabase_monitoring.alerting.rules import (
    AlertInputs,
    ApiErrorRateRule,
    HealthUnknownRule,
    OverallStatusRule,
)
from supabase_monitoring.alerting.state import (
    MemoryAlertStore,
    StateEvent,
    chain_tips,
    next_event_id,
)
from supabase_monitoring.models import ApiMetricsRow, SystemHealth

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Collect:
    name = "collect"

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[Notification] = []
        self.failures = failures

    def send(self, notification: Notification) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("HTTP 503")
        self.sent.append(notification)

    def log(self) -> list[tuple[str, str, str]]:
        return [(n.transition.value, n.alert.key, n.alert.severity.value) for n in self.sent]


def status(s: str) -> SystemHealth:
    doc: dict[str, Any] = {"overall_status": s}
    for c in ("queue_health", "processing_health", "worker_health"):
        doc[c] = {"status": "healthy"}
    return SystemHealth.model_validate(doc)


def at(minutes: float, s: str = "healthy", apis: list[ApiMetricsRow] | None = None) -> AlertInputs:
    return AlertInputs(
        health=status(s) if s != "unknown" else SystemHealth.unknown("down"),
        evaluated_at=T0 + timedelta(minutes=minutes),
        api_hours=apis,
    )


def engine(store: Any, notifier: Collect, cooldown: timedelta | None = timedelta(minutes=30)):
    return AlertEngine(
        [HealthUnknownRule(), OverallStatusRule(), ApiErrorRateRule()],
        [notifier],
        store,
        cooldown=cooldown,
        retry=DeliveryRetry(attempts=3, base_delay=0),
        sleep=lambda _: None,
    )


def test_fire_dedup_remind_change_resolve() -> None:
    store, out = MemoryAlertStore(), Collect()
    e = engine(store, out)
    e.run_once(at(0, "warning"))
    r = e.run_once(at(10, "warning"))  # within cooldown: nothing
    assert r.suppressed == ["overall_status"]
    e.run_once(at(31, "warning"))  # cooldown passed: reminder
    e.run_once(at(35, "critical"))  # escalation: always sent
    e.run_once(at(40, "critical"))  # dedup again
    e.run_once(at(41, "healthy"))  # resolved
    e.run_once(at(42, "healthy"))  # nothing more
    assert out.log() == [
        ("fired", "overall_status", "warning"),
        ("reminder", "overall_status", "warning"),
        ("changed", "overall_status", "critical"),
        ("resolved", "overall_status", "critical"),
    ]
    # one episode throughout, started by the first event
    episode = {n.episode_started_at for n in out.sent}
    assert episode == {T0}


def test_no_reminders_without_cooldown() -> None:
    store, out = MemoryAlertStore(), Collect()
    e = engine(store, out, cooldown=None)
    for minute in range(0, 600, 60):
        e.run_once(at(minute, "warning"))
    assert out.log() == [("fired", "overall_status", "warning")]


def test_restart_does_not_refire_and_state_is_a_chain() -> None:
    store, out = MemoryAlertStore(), Collect()
    engine(store, out).run_once(at(0, "critical"))
    engine(store, out).run_once(at(5, "critical"))  # a "restarted" process: same store
    assert len(out.sent) == 1
    engine(store, out).run_once(at(6, "healthy"))
    engine(store, out).run_once(at(7, "critical"))  # a new episode
    events = sorted(store.events.values(), key=lambda ev: ev.occurred_at)
    assert [ev.transition for ev in events] == [
        Transition.FIRED,
        Transition.RESOLVED,
        Transition.FIRED,
    ]
    assert events[0].prev_id is None
    assert events[1].prev_id == events[0].id
    assert events[2].prev_id == events[1].id
    assert events[2].id == next_event_id("overall_status", events[1].id)
    assert events[2].episode_id == events[2].id != events[0].episode_id


def test_two_processes_with_one_store_send_once() -> None:
    store = MemoryAlertStore()
    a_out, b_out = Collect(), Collect()
    a, b = engine(store, a_out), engine(store, b_out)
    # Both read the same (empty) tip before either claims: simulate the race by
    # letting B plan from a stale snapshot.
    stale = store.load_tips()
    a.run_once(at(0, "critical"))
    store_load = store.load_tips
    store.load_tips = lambda: stale  # type: ignore[method-assign]
    result = b.run_once(at(0, "critical"))
    store.load_tips = store_load  # type: ignore[method-assign]
    assert len(a_out.sent) + len(b_out.sent) == 1
    assert result.lost_claims == ["overall_status"]


def test_rules_that_could_not_evaluate_do_not_resolve() -> None:
    store, out = MemoryAlertStore(), Collect()
    e = engine(store, out)
    rows = [api_hour("stripe", T0, 100, 50, 50, 10.0, 10.0)]
    e.run_once(at(1, "critical", rows))
    r = e.run_once(at(2, "unknown", None))  # health and views unreadable
    assert sorted(r.skipped_rules) == ["api_error_rate", "overall_status"]
    assert out.log() == [
        ("fired", "overall_status", "critical"),
        ("fired", "api_error_rate:stripe", "critical"),
        ("fired", "health_unknown", "critical"),
    ]
    e.run_once(at(3, "healthy", []))
    assert sorted(out.log()[3:]) == [
        ("resolved", "api_error_rate:stripe", "critical"),
        ("resolved", "health_unknown", "critical"),
        ("resolved", "overall_status", "critical"),
    ]


def test_failed_delivery_is_retried_then_recorded() -> None:
    store = MemoryAlertStore()
    flaky = Collect(failures=2)
    r = engine(store, flaky).run_once(at(0, "critical"))
    assert r.failed_deliveries == 0
    assert len(flaky.sent) == 1
    dead = Collect(failures=99)
    r = engine(MemoryAlertStore(), dead).run_once(at(0, "critical"))
    assert r.failed_deliveries == 1
    assert not r.sent[0].delivered
    store2 = MemoryAlertStore()
    engine(store2, Collect(failures=99)).run_once(at(0, "critical"))
    (failure,) = store2.failures
    assert failure["notifier"] == "collect"
    assert failure["attempts"] == 3
    assert failure["error"] == "HTTP 503"


class BrokenStore(MemoryAlertStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def load_tips(self) -> dict[str, StateEvent]:
        if self.down:
            raise ConnectionError("db down")
        return super().load_tips()


def test_store_outage_falls_back_to_local_dedup_and_resolves_after() -> None:
    store, out = BrokenStore(), Collect()
    e = engine(store, out)
    r = e.run_once(at(0, "unknown"))
    assert r.store_error is not None
    assert "db down" in r.store_error
    e.run_once(at(1, "unknown"))  # deduplicated in memory
    assert out.log() == [("fired", "health_unknown", "critical")]
    store.down = False
    e.run_once(at(2, "healthy"))
    assert out.log()[1:] == [("resolved", "health_unknown", "critical")]
    assert store.events == {}  # the outage episode never reached the database


def test_a_crashing_rule_is_isolated() -> None:
    class Boom:
        name = "boom"

        def evaluate(self, inputs: AlertInputs) -> Any:
            raise RuntimeError("bug")

    out = Collect()
    e = AlertEngine([Boom(), OverallStatusRule()], [out], MemoryAlertStore())
    r = e.run_once(at(0, "critical"))
    assert r.skipped_rules == ["boom"]
    assert out.log() == [("fired", "overall_status", "critical")]


def test_chain_tips_pick_the_unreferenced_event() -> None:
    from supabase_monitoring.alerting.model import Alert

    alert = Alert("r", "k", AlertSeverity.WARNING, "s")
    first = StateEvent.successor(None, Transition.FIRED, alert, T0)
    second = StateEvent.successor(first, Transition.RESOLVED, alert, T0)  # same timestamp
    assert chain_tips([second, first])["k"] is second
    assert StateEvent.from_row({**second.to_row(), "created_at": T0.isoformat()}) == second


def test_engine_validates_configuration() -> None:
    with pytest.raises(ValueError, match="at least one rule"):
        AlertEngine([], [], MemoryAlertStore())
    with pytest.raises(ValueError, match="unique"):
        AlertEngine([OverallStatusRule(), OverallStatusRule()], [], MemoryAlertStore())
    with pytest.raises(ValueError, match="cooldown"):
        AlertEngine([OverallStatusRule()], [], MemoryAlertStore(), cooldown=timedelta(0))

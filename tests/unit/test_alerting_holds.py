"""Silences, maintenance windows, flapping and routing in the engine (memory store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from test_alerting_engine import T0, Collect, at

from supabase_monitoring.alerting.delivery import DeliveryRetry
from supabase_monitoring.alerting.engine import AlertEngine
from supabase_monitoring.alerting.flapping import ALERT_FLAPPING, FlappingGate
from supabase_monitoring.alerting.model import Alert, AlertSeverity
from supabase_monitoring.alerting.rules import HealthUnknownRule, OverallStatusRule
from supabase_monitoring.alerting.silences import (
    ALERT_SILENCED,
    Recurrence,
    Silence,
    SilenceGate,
    new_silence,
)
from supabase_monitoring.alerting.state import MemoryAlertStore


@dataclass
class Silences:
    items: list[Silence]

    def load(self) -> list[Silence]:
        return self.items


def make_engine(store: MemoryAlertStore, out: Collect, **options: object) -> AlertEngine:
    return AlertEngine(
        [HealthUnknownRule(), OverallStatusRule()],
        [out],
        store,
        cooldown=timedelta(minutes=30),
        retry=DeliveryRetry(attempts=1, base_delay=0),
        sleep=lambda _: None,
        **options,  # type: ignore[arg-type]
    )


def silence(**options: object) -> Silence:
    return new_silence(created_by="ops", comment="maintenance", **options)  # type: ignore[arg-type]


def test_silenced_alert_is_recorded_not_sent_and_notifies_after_the_silence() -> None:
    store, out = MemoryAlertStore(), Collect()
    s = silence(rule_name="overall_status", starts_at=T0, ends_at=T0 + timedelta(minutes=20))
    e = make_engine(store, out, gates=[SilenceGate(Silences([s]))])
    r = e.run_once(at(1, "critical"))
    e.run_once(at(5, "critical"))
    assert out.sent == []
    assert r.held == [("overall_status", ALERT_SILENCED)]
    # recorded once, although held on two runs
    assert [h["event_type"] for h in store.holds.values()] == [ALERT_SILENCED]
    assert next(iter(store.holds.values()))["details"]["silence_id"] == s.id
    e.run_once(at(21, "critical"))  # the silence is over, still firing
    assert out.log() == [("fired", "overall_status", "critical")]


def test_alert_that_clears_during_the_silence_never_notifies() -> None:
    store, out = MemoryAlertStore(), Collect()
    s = silence(alert_key="overall_*", starts_at=T0, ends_at=T0 + timedelta(minutes=20))
    e = make_engine(store, out, gates=[SilenceGate(Silences([s]))])
    e.run_once(at(1, "warning"))
    e.run_once(at(10, "healthy"))
    e.run_once(at(30, "healthy"))
    assert out.sent == []


def test_silence_matches_labels_and_ignores_other_alerts() -> None:
    s = silence(labels={"api": "stripe"}, ends_at=datetime.now(UTC) + timedelta(hours=1))
    stripe = Alert(
        "api_error_rate", "api_error_rate:stripe", AlertSeverity.WARNING, "x", {"api": "stripe"}
    )
    other = Alert("api_error_rate", "api_error_rate:s3", AlertSeverity.WARNING, "x", {"api": "s3"})
    assert s.matches(stripe)
    assert not s.matches(other)


def test_expired_silence_holds_nothing() -> None:
    store, out = MemoryAlertStore(), Collect()
    s = silence(rule_name="overall_status", starts_at=T0, ends_at=T0 + timedelta(hours=2))
    expired = Silence(**{**s.__dict__, "expired_at": T0 + timedelta(minutes=1)})
    e = make_engine(store, out, gates=[SilenceGate(Silences([expired]))])
    e.run_once(at(5, "critical"))
    assert out.log() == [("fired", "overall_status", "critical")]


@pytest.mark.parametrize(
    ("moment", "active"),
    [
        (datetime(2026, 11, 29, 2, 0, tzinfo=UTC), True),  # a Sunday, window start
        (datetime(2026, 11, 29, 3, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 29, 4, 0, tzinfo=UTC), False),  # end is exclusive
        (datetime(2026, 11, 28, 2, 30, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 12, 6, 2, 30, tzinfo=UTC), True),  # the next Sunday
    ],
)
def test_recurring_window_sundays_two_to_four_utc(moment: datetime, active: bool) -> None:
    r = Recurrence.parse("sun 02:00-04:00")
    assert r.days == {7}
    s = silence(rule_name="x", starts_at=datetime(2026, 11, 1, tzinfo=UTC), recurrence=r)
    assert (s.active_since(moment) is not None) is active


def test_window_past_midnight_and_day_ranges_and_time_zone() -> None:
    r = Recurrence.parse("fri-mon 22:00-02:00", "Europe/Berlin")
    assert r.days == {5, 6, 7, 1}
    # Tuesday 01:00 Berlin belongs to Monday's window; Tuesday 23:00 starts none.
    assert r.occurrence(datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) is not None  # 01:00 CET
    assert r.occurrence(datetime(2026, 12, 1, 22, 0, tzinfo=UTC)) is None  # 23:00 CET Tue
    assert r.start == time(22, 0)


@pytest.mark.parametrize(
    "text", ["sunday 02:00-04:00", "sun 2-4", "sun 25:00-26:00", "sun 02:00-02:00"]
)
def test_bad_recurrences_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|weekday|time of day|must not start"):
        Recurrence.parse(text)


def test_new_silence_needs_a_matcher_and_an_end() -> None:
    with pytest.raises(ValueError, match="matcher"):
        silence(ends_at=T0)
    with pytest.raises(ValueError, match="end"):
        silence(rule_name="x")


def test_flapping_alert_notifies_once_then_waits_until_it_settles() -> None:
    store, out = MemoryAlertStore(), Collect()
    e = make_engine(store, out, gates=[FlappingGate(max_changes=4, window=timedelta(minutes=30))])
    minute = 0
    for _ in range(10):  # flips every minute for 20 minutes
        e.run_once(at(minute, "critical"))
        e.run_once(at(minute + 1, "healthy"))
        minute += 2
    log = out.log()
    assert log[:4] == [
        ("fired", "overall_status", "critical"),
        ("resolved", "overall_status", "critical"),
        ("fired", "overall_status", "critical"),
        ("resolved", "overall_status", "critical"),
    ]
    assert log[4:] == [("flapping", "overall_status", "critical")]
    assert [h["event_type"] for h in store.holds.values()] == [ALERT_FLAPPING]
    # Settled: 30 minutes after the changes it goes out as a normal transition.
    e.run_once(at(35, "critical"))
    assert out.log()[-1] == ("fired", "overall_status", "critical")


def test_router_picks_notifiers_per_notification() -> None:
    store, pager, chat = MemoryAlertStore(), Collect(), Collect()
    e = AlertEngine(
        [OverallStatusRule()],
        [pager, chat],
        store,
        retry=DeliveryRetry(attempts=1, base_delay=0),
        router=lambda n: [pager, chat] if n.alert.severity is AlertSeverity.CRITICAL else [chat],
    )
    e.run_once(at(0, "warning"))
    e.run_once(at(1, "critical"))
    assert pager.log() == [("changed", "overall_status", "critical")]
    assert chat.log() == [
        ("fired", "overall_status", "warning"),
        ("changed", "overall_status", "critical"),
    ]


def test_per_rule_cooldown_overrides_the_default() -> None:
    store, out = MemoryAlertStore(), Collect()
    e = make_engine(store, out, cooldowns={"overall_status": timedelta(minutes=5)})
    e.run_once(at(0, "warning"))
    e.run_once(at(6, "warning"))
    assert out.log() == [
        ("fired", "overall_status", "warning"),
        ("reminder", "overall_status", "warning"),
    ]

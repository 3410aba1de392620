"""Alert state in public.monitoring_events through the real PostgREST: claims,
two processes, restarts, resolution and recorded delivery failures."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from supabase_monitoring._tables import MONITORING_EVENTS
from supabase_monitoring._transport import SyncTransport
from supabase_monitoring.alerting import (
    Alert,
    AlertEngine,
    AlertInputs,
    AlertSeverity,
    DeliveryRetry,
    JsonWebhookNotifier,
    PostgrestAlertStore,
    RuleResult,
    Transition,
    WebhookReceiver,
)
from supabase_monitoring.alerting.state import StateEvent
from supabase_monitoring.models import SystemHealth

pytestmark = pytest.mark.integration


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run with the local stack's environment (make py-test)")
    return value


@pytest.fixture
def transports() -> Iterator[list[SyncTransport]]:
    url, key = _env("SUPABASE_URL"), _env("SUPABASE_SERVICE_ROLE_KEY")
    _env("SUPABASE_DB_URL")
    made = [SyncTransport.connect(url, key) for _ in range(4)]
    yield made
    for t in made:
        t.close()


@dataclass
class Switch:
    """A rule whose condition the test flips; its unique name isolates the test's alerts."""

    name: str
    severity: AlertSeverity | None = AlertSeverity.CRITICAL

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        if self.severity is None:
            return RuleResult(self.name, True)
        alert = Alert(self.name, f"{self.name}:x", self.severity, f"{self.name} is on")
        return RuleResult(self.name, True, (alert,))


def inputs(minutes: float = 0) -> AlertInputs:
    health = SystemHealth.unknown("not used by the switch rule")
    return AlertInputs(health, datetime.now(UTC) + timedelta(minutes=minutes))


def events_for(t: SyncTransport, key: str) -> list[dict[str, object]]:
    return t.select(
        MONITORING_EVENTS,
        columns="id,event_type,details,created_at",
        filters=[("details->>alert_key", "eq", key)],
        order=[("created_at", False)],
    )


def test_concurrent_claims_have_exactly_one_winner(transports: list[SyncTransport]) -> None:
    key = f"claim-race-{uuid.uuid4()}"
    alert = Alert("claim-race", key, AlertSeverity.WARNING, "race")
    now = datetime.now(UTC)
    # Every contender computes the same successor id, each with its own token.
    contenders = [StateEvent.successor(None, Transition.FIRED, alert, now) for _ in range(8)]
    assert len({c.id for c in contenders}) == 1
    assert len({c.claim_token for c in contenders}) == 8
    results: list[bool] = []
    barrier = threading.Barrier(len(contenders))
    lock = threading.Lock()

    def claim(i: int) -> None:
        store = PostgrestAlertStore(transports[i % len(transports)])
        barrier.wait()
        won = store.claim(contenders[i])
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(contenders))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False] * 7 + [True]
    (row,) = events_for(transports[0], key)
    winner = [c for c, won in zip(contenders, results, strict=True) if won]
    assert row["details"]["claim_token"] in {c.claim_token for c in contenders}  # type: ignore[index]
    assert len(winner) == 1


def test_a_retried_claim_still_wins(transports: list[SyncTransport]) -> None:
    store = PostgrestAlertStore(transports[0])
    alert = Alert("retry", f"retry-{uuid.uuid4()}", AlertSeverity.WARNING, "r")
    event = StateEvent.successor(None, Transition.FIRED, alert, datetime.now(UTC))
    assert store.claim(event)
    assert store.claim(event)  # same token: the first attempt's row is ours
    other = StateEvent.successor(None, Transition.FIRED, alert, datetime.now(UTC))
    assert not store.claim(other)


def _engine(t: SyncTransport, rule: Switch, rx: WebhookReceiver, path: str = "/a") -> AlertEngine:
    return AlertEngine(
        [rule],
        [JsonWebhookNotifier(rx.url(path), timeout=2)],
        PostgrestAlertStore(t),
        cooldown=timedelta(hours=1),
        retry=DeliveryRetry(attempts=2, base_delay=0),
    )


def test_two_processes_restart_and_resolution(transports: list[SyncTransport]) -> None:
    rule = Switch(f"switch_{uuid.uuid4().hex[:12]}")
    with WebhookReceiver() as rx:
        a, b = _engine(transports[0], rule, rx, "/a"), _engine(transports[1], rule, rx, "/b")
        barrier = threading.Barrier(2)

        def run(engine: AlertEngine) -> None:
            barrier.wait()
            engine.run_once(inputs())

        threads = [threading.Thread(target=run, args=(e,)) for e in (a, b)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        (fired,) = rx.wait_for(1)
        assert fired.json()["transition"] == "fired"
        assert fired.json()["key"] == f"{rule.name}:x"

        # A restarted process (new engine, new connection) reads the state: no re-fire.
        restarted = _engine(transports[2], rule, rx, "/c")
        result = restarted.run_once(inputs(minutes=1))
        assert result.suppressed == [f"{rule.name}:x"]
        assert result.sent == []

        # The condition clears: exactly one resolved notification, even with two processes.
        rule.severity = None
        a.run_once(inputs(minutes=2))
        b.run_once(inputs(minutes=2))
        got = rx.wait_for(2)
        assert [r.json()["transition"] for r in got] == ["fired", "resolved"]
        assert len(rx.requests) == 2

    rows = events_for(transports[0], f"{rule.name}:x")
    assert [r["event_type"] for r in rows] == ["alert_fired", "alert_resolved"]
    first, second = (r["details"] for r in rows)
    assert second["prev_id"] == rows[0]["id"]  # type: ignore[index]
    assert first["fingerprint"] == second["fingerprint"]  # type: ignore[index]
    assert second["episode_id"] == rows[0]["id"]  # type: ignore[index]


def test_failed_delivery_is_recorded_in_the_database(transports: list[SyncTransport]) -> None:
    rule = Switch(f"failing_{uuid.uuid4().hex[:12]}")
    with WebhookReceiver() as rx:
        rx.respond_with([503, 503])
        result = _engine(transports[0], rule, rx).run_once(inputs())
        assert len(rx.requests) == 2  # retried once, then given up
    assert result.failed_deliveries == 1
    rows = events_for(transports[0], f"{rule.name}:x")
    types = sorted(str(r["event_type"]) for r in rows)
    assert types == ["alert_delivery_failed", "alert_fired"]
    failure = next(r for r in rows if r["event_type"] == "alert_delivery_failed")["details"]
    assert failure["attempts"] == 2  # type: ignore[index]
    assert "HTTP 503" in failure["error"]  # type: ignore[index]
    assert "127.0.0.1" in failure["notifier"]  # type: ignore[index]

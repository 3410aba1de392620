"""Holds through the real stack: silences in monitoring.alert_silences (the CLI adds,
lists and expires them; a silenced alert is recorded, not sent, and goes out once the
silence is expired), flapping counted from the stored events, the alert history showing
all of it, and hostile rows survived."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from test_cli_commands import _env, cli

from supabase_monitoring._tables import MONITORING_EVENTS
from supabase_monitoring._transport import SyncTransport
from supabase_monitoring.alerting import (
    Alert,
    AlertEngine,
    AlertInputs,
    AlertSeverity,
    DeliveryRetry,
    LogNotifier,
    PostgrestAlertStore,
    RuleResult,
)
from supabase_monitoring.alerting.flapping import ALERT_FLAPPING, FlappingGate
from supabase_monitoring.alerting.silences import SilenceGate, SilenceStore
from supabase_monitoring.models import SystemHealth

pytestmark = pytest.mark.integration


@pytest.fixture
def transport() -> Iterator[SyncTransport]:
    env = _env()
    t = SyncTransport.connect(env["SUPABASE_URL"], env["SUPABASE_SERVICE_ROLE_KEY"])
    yield t
    t.close()


@dataclass
class Switch:
    name: str
    on: bool = True

    def evaluate(self, inputs: AlertInputs) -> RuleResult:
        if not self.on:
            return RuleResult(self.name, True)
        alert = Alert(self.name, f"{self.name}:x", AlertSeverity.CRITICAL, f"{self.name} is on")
        return RuleResult(self.name, True, (alert,))


class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, notification: object) -> None:
        self.sent.append(notification.transition.value)  # type: ignore[attr-defined]


def test_silence_cli_add_list_expire() -> None:
    rule = f"cli_silence_{uuid.uuid4().hex[:10]}"
    added = cli(
        "alert",
        "silence",
        "add",
        "--rule",
        rule,
        "--duration",
        "2h",
        "--comment",
        "deploy",
        "--created-by",
        "ci",
    )
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.split()[-1]
    listed = json.loads(cli("alert", "silence", "list", "--json").stdout)
    mine = [s for s in listed if s["id"] == silence_id]
    assert len(mine) == 1
    assert (mine[0]["rule_name"], mine[0]["active"], mine[0]["created_by"]) == (rule, True, "ci")
    table = cli("alert", "silence", "list")
    assert silence_id in table.stdout
    assert f"rule={rule}" in table.stdout

    weekly = cli(
        "alert",
        "silence",
        "add",
        "--rule",
        rule,
        "--every",
        "sun 02:00-04:00",
        "--comment",
        "weekly maintenance",
    )
    assert weekly.returncode == 0, weekly.stderr

    past = cli(
        "alert",
        "silence",
        "add",
        "--rule",
        rule,
        "--starts",
        (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
        "--duration",
        "1h",
        "--comment",
        "yesterday's deploy",
    )
    past_id = past.stdout.split()[-1]

    assert cli("alert", "silence", "expire", silence_id).returncode == 0
    after = json.loads(cli("alert", "silence", "list", "--json").stdout)
    assert past_id not in {s["id"] for s in after}  # over: listed with --all only
    assert silence_id not in {s["id"] for s in after}
    everything = json.loads(cli("alert", "silence", "list", "--all", "--json").stdout)
    assert [s["expired_at"] is not None for s in everything if s["id"] == silence_id] == [True]
    assert [s["active"] for s in everything if s["id"] == past_id] == [False]
    again = cli("alert", "silence", "expire", silence_id)
    assert again.returncode == 1
    assert "no unexpired silence" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "1h"], "at least one matcher"),
        (["--rule", "x"], "needs an end"),
        (["--rule", "x", "--every", "someday 1-2"], "expected e.g."),
        (["--rule", "x", "--every", "sun 02:00-04:00", "--tz", "Mars/Olympus"], "time zone"),
    ],
)
def test_bad_silences_are_refused_with_a_message(args: list[str], message: str) -> None:
    proc = cli("alert", "silence", "add", "--comment", "c", *args)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_silenced_alert_is_recorded_then_sent_when_expired(transport: SyncTransport) -> None:
    rule = Switch(f"silenced_{uuid.uuid4().hex[:10]}")
    silences = SilenceStore(transport)
    out = Collect()
    engine = AlertEngine(
        [rule],
        [out, LogNotifier()],
        PostgrestAlertStore(transport),
        retry=DeliveryRetry(attempts=1, base_delay=0),
        gates=[SilenceGate(silences)],
    )
    added = cli(
        "alert",
        "silence",
        "add",
        "--key",
        f"{rule.name}:*",
        "--duration",
        "1h",
        "--comment",
        "maintenance",
    )
    silence_id = added.stdout.split()[-1]
    health = SystemHealth.unknown("unused")
    first = engine.run_once(AlertInputs(health, datetime.now(UTC)))
    engine.run_once(AlertInputs(health, datetime.now(UTC)))
    assert out.sent == []
    assert first.held == [(f"{rule.name}:x", "alert_silenced")]

    history = json.loads(
        cli("alert", "history", "--since", "10m", "--key", f"{rule.name}:x", "--json").stdout
    )
    assert [h["event_type"] for h in history] == ["alert_silenced"]  # recorded once
    assert silence_id in history[0]["note"]

    assert cli("alert", "silence", "expire", silence_id).returncode == 0
    engine.run_once(AlertInputs(health, datetime.now(UTC)))
    assert out.sent == ["fired"]
    text = cli("alert", "history", "--since", "10m", "--key", f"{rule.name}:x")
    lines = text.stdout.splitlines()
    assert "sent fired" in lines[2]
    assert "silenced fired" in lines[3]


def test_hostile_rows_do_not_stop_the_alerter_or_the_history(transport: SyncTransport) -> None:
    tag = uuid.uuid4().hex[:10]
    key = f"hostile_{tag}:x"
    with psycopg.connect(_env()["SUPABASE_DB_URL"], autocommit=True) as db:
        db.execute(
            "insert into monitoring.alert_silences"
            " (created_by, comment, rule_name, recurrence_days, window_start, window_end,"
            " time_zone)"
            " values ('x', %s, %s, array[1,2,3,4,5,6,7]::smallint[], '00:00', '23:59',"
            " 'Mars/Olympus')",
            (f"bad zone {tag}", f"hostile_{tag}"),
        )
        db.execute(
            "insert into public.monitoring_events (event_type, details) values"
            " ('alert_silenced', %s), ('alert_fired', '{\"alert_key\": 5}')",
            (json.dumps({"alert_key": key, "reason": "\x1b[2Jwiped\nline", "transition": []}),),
        )
    # The unreadable silence is skipped (it silences nothing), the rest still load.
    assert all(s.comment != f"bad zone {tag}" for s in SilenceStore(transport).load())
    text = cli("alert", "history", "--since", "10m", "--key", key)
    assert text.returncode == 0, text.stderr
    assert "\x1b" not in text.stdout
    assert "wiped line" in text.stdout
    everything = cli("alert", "history", "--since", "10m", "--json")
    assert everything.returncode == 0, everything.stderr


def test_flapping_alert_notifies_once_and_is_recorded(transport: SyncTransport) -> None:
    rule = Switch(f"flapping_{uuid.uuid4().hex[:10]}")
    out = Collect()
    engine = AlertEngine(
        [rule],
        [out],
        PostgrestAlertStore(transport),
        retry=DeliveryRetry(attempts=1, base_delay=0),
        gates=[FlappingGate(max_changes=2, window=timedelta(minutes=10))],
    )
    health = SystemHealth.unknown("unused")
    for on in (True, False, True, False, True, False, True):
        rule.on = on
        engine.run_once(AlertInputs(health, datetime.now(UTC)))
    assert out.sent == ["fired", "resolved", "flapping"]
    rows = transport.select(
        MONITORING_EVENTS,
        columns="event_type,details",
        filters=[("details->>alert_key", "eq", f"{rule.name}:x")],
        order=[("created_at", False)],
    )
    assert [r["event_type"] for r in rows] == ["alert_fired", "alert_resolved", ALERT_FLAPPING]
    assert rows[2]["details"]["changes"] == 2

"""Alert configuration files: the shipped example, routes, and errors that name file and key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supabase_monitoring.alerting.alertmanager import AlertmanagerNotifier
from supabase_monitoring.alerting.config import ConfigError, load_config
from supabase_monitoring.alerting.model import Alert, AlertSeverity, Notification, Transition
from supabase_monitoring.alerting.pagerduty import PagerDutyNotifier
from supabase_monitoring.alerting.rules import ApiErrorRateRule, ApiLatencyRule

EXAMPLE = Path(__file__).parents[2] / "examples" / "alerts.toml"
ENV = {"SUPABASE_MONITORING_SLACK_WEBHOOK_URL": "https://hooks.example.com/services/T/B/secret"}


def note(rule: str, key: str, severity: AlertSeverity) -> Notification:
    return Notification(Transition.FIRED, Alert(rule, key, severity, "s"), "id", datetime.now(UTC))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    return path


def test_the_shipped_example_is_valid_and_means_what_it_says() -> None:
    config = load_config(EXAMPLE, ENV)
    names = [r.name for r in config.rules]
    assert names == [
        "health_unknown",
        "overall_status",
        "component_critical",
        "api_error_rate",
        "api_p95_latency",
        "critical_worker_issues",
    ]
    latency = config.rules[4]
    assert isinstance(latency, ApiLatencyRule)
    assert latency.critical_above_ms == 5000
    assert config.cooldowns == {"api_p95_latency": timedelta(minutes=120)}
    assert config.flapping is not None
    assert config.flapping.max_changes == 4
    assert sorted(config.notifiers) == ["chat", "log"]
    critical = config.route(note("overall_status", "overall_status", AlertSeverity.CRITICAL))
    assert [n.name for n in critical] == ["log", "slack(https://hooks.example.com/...)"]
    stripe = config.route(note("api_error_rate", "api_error_rate:stripe", AlertSeverity.WARNING))
    assert [n.name for n in stripe] == ["slack(https://hooks.example.com/...)"]
    other = config.route(note("api_error_rate", "api_error_rate:github", AlertSeverity.WARNING))
    assert len(other) == 2  # default_notifiers
    config.close()


def test_missing_secret_is_reported_with_file_key_and_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(EXAMPLE, {})
    assert err.value.problems == [
        f"{EXAMPLE}: notifiers.chat.url_env: "
        "environment variable SUPABASE_MONITORING_SLACK_WEBHOOK_URL is not set"
    ]


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
cooldown_minutes = -5
colour = "blue"
[rules.api_error_rate]
warning_above = 1.5
min_calls = "many"
[rules.nope]
[rules.slow]
kind = "api_p95_latency"
warning_above_ms = 500
critical_above_ms = 100
[notifiers.am]
type = "alertmanager"
[notifiers.pd]
type = "pagerduty"
severities = { warning = "loud" }
[[routes]]
notifiers = ["missing"]
rules = ["api_errors"]
[flapping]
max_changes = 0
""",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, {"SUPABASE_MONITORING_PAGERDUTY_ROUTING_KEY": "k" * 32})
    text = str(err.value)
    for expected in (
        "cooldown_minutes: must be > 0, got -5",
        "colour: unknown key",
        "rules.api_error_rate.warning_above: must be <= 1, got 1.5",
        "rules.api_error_rate.min_calls: must be an integer, got 'many'",
        "rules.nope: unknown rule kind 'nope'",
        "rules.slow: critical_above_ms must be >= warning_above_ms",
        "notifiers.am.url: Alertmanager's base URL is required",
        "notifiers.pd: PagerDuty severity must be one of",
        "routes[0].notifiers: no notifier named 'missing'",
        "routes[0].rules: no rule named 'api_errors'",
        "flapping.max_changes: must be > 0, got 0",
    ):
        assert f"{path}: {expected}" in text, expected
    assert "k" * 32 not in text


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[rules.overall_status\nmin_status = 1\n")
    with pytest.raises(ConfigError, match=r"alerts\.toml: not valid TOML: .*line 1"):
        load_config(path, {})


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml", {})


def test_two_rules_of_one_kind_and_stateful_notifiers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[rules.errors_warn]
kind = "api_error_rate"
warning_above = 0.01
cooldown_minutes = false
[rules.overall_status]
enabled = false
[notifiers.am]
type = "alertmanager"
url = "http://127.0.0.1:9093"
labels = { team = "data" }
[notifiers.pd]
type = "pagerduty"
""",
    )
    config = load_config(path, {"SUPABASE_MONITORING_PAGERDUTY_ROUTING_KEY": "k" * 32})
    (rule,) = config.rules
    assert isinstance(rule, ApiErrorRateRule)
    assert (rule.name, rule.warning_above) == ("errors_warn", 0.01)
    assert config.cooldowns == {"errors_warn": None}
    assert isinstance(config.notifiers["am"], AlertmanagerNotifier)
    assert isinstance(config.notifiers["pd"], PagerDutyNotifier)
    assert "k" * 32 not in repr(config.notifiers["pd"])
    config.close()


def test_all_rules_disabled_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[rules.overall_status]\nenabled = false\n")
    with pytest.raises(ConfigError, match=r"alerts\.toml: rules: every rule is disabled"):
        load_config(path, {})

"""Alert rules, notifiers, routes and cooldowns from a TOML file (stdlib ``tomllib``).

Every problem is reported, not just the first, each as ``FILE: KEY: what is
wrong``, so ``alert --check-config`` can be run in CI. Secrets (webhook URLs,
the PagerDuty routing key) are named by environment variable (``*_env``
keys), never written in the file. See ``examples/alerts.toml`` for every key.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from .alertmanager import AlertmanagerNotifier
from .flapping import FlappingGate
from .model import AlertSeverity, Notification
from .notifiers import JsonWebhookNotifier, LogNotifier, Notifier, SlackWebhookNotifier
from .pagerduty import EVENTS_URL, ROUTING_KEY_ENV, PagerDutyNotifier
from .rules import (
    ApiErrorRateRule,
    ApiLatencyRule,
    ComponentCriticalRule,
    CriticalIssuesRule,
    HealthUnknownRule,
    OverallStatusRule,
    Rule,
)

ALERTS_LOG = "supabase_monitoring.alerts"


class ConfigError(ValueError):
    """The file is unreadable or invalid; ``problems`` lists every ``FILE: KEY: problem``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Route:
    """Notifications matching every given matcher go to ``notifiers``; all routes that
    match are used (their notifiers are merged)."""

    notifiers: tuple[str, ...]
    severities: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    keys: tuple[str, ...] = ()

    def matches(self, notification: Notification) -> bool:
        alert = notification.alert
        if self.severities and alert.severity.value not in self.severities:
            return False
        if self.rules and alert.rule not in self.rules:
            return False
        return not self.keys or any(fnmatchcase(alert.key, k) for k in self.keys)


@dataclass
class AlertConfig:
    """What the file defines; :meth:`router` picks notifiers per notification."""

    source: str
    rules: list[Rule]
    notifiers: dict[str, Notifier]
    routes: list[Route] = field(default_factory=list)
    default_notifiers: list[str] | None = None
    cooldown: timedelta | None = timedelta(hours=1)
    cooldowns: dict[str, timedelta | None] = field(default_factory=dict)
    api_window: timedelta = timedelta(hours=1)
    flapping: FlappingGate | None = None
    silences: bool = True

    def route(self, notification: Notification) -> list[Notifier]:
        names: list[str] = []
        for route in self.routes:
            if route.matches(notification):
                names.extend(n for n in route.notifiers if n not in names)
        if not names:
            names = list(self.default_notifiers or self.notifiers)
        return [self.notifiers[n] for n in names]

    def close(self) -> None:
        for notifier in self.notifiers.values():
            close = getattr(notifier, "close", None)
            if callable(close):
                close()


# ---------------------------------------------------------------- value checks

Check = Callable[[Any], Any]


def _number(low: float | None = None, high: float | None = None, *, integer: bool = False) -> Check:
    def check(value: Any) -> Any:
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise ValueError(f"must be {'an integer' if integer else 'a number'}, got {value!r}")
        if value != value or (low is not None and value <= low):
            raise ValueError(f"must be > {low:g}, got {value!r}")
        if high is not None and value > high:
            raise ValueError(f"must be <= {high:g}, got {value!r}")
        return value

    return check


def _severity(value: Any) -> AlertSeverity:
    try:
        return AlertSeverity(value)
    except ValueError:
        raise ValueError(
            f"must be one of {[s.value for s in AlertSeverity]}, got {value!r}"
        ) from None


def _minutes(value: Any) -> timedelta:
    return timedelta(minutes=_number(0)(value))


POSITIVE = _number(0)
FRACTION = _number(0, 1)
COUNT = _number(0, integer=True)

#: Rule kind -> (class, {TOML key: (constructor argument, check)}).
RULE_KINDS: dict[str, tuple[Callable[..., Rule], dict[str, tuple[str, Check]]]] = {
    "health_unknown": (HealthUnknownRule, {"severity": ("severity", _severity)}),
    "overall_status": (OverallStatusRule, {"min_status": ("min_status", _severity)}),
    "component_critical": (ComponentCriticalRule, {}),
    "api_error_rate": (
        ApiErrorRateRule,
        {
            "warning_above": ("warning_above", FRACTION),
            "critical_above": ("critical_above", FRACTION),
            "min_calls": ("min_calls", COUNT),
            "window_minutes": ("window", _minutes),
        },
    ),
    "api_p95_latency": (
        ApiLatencyRule,
        {
            "warning_above_ms": ("warning_above_ms", POSITIVE),
            "critical_above_ms": ("critical_above_ms", POSITIVE),
            "min_calls": ("min_calls", COUNT),
            "window_minutes": ("window", _minutes),
        },
    ),
    "critical_worker_issues": (CriticalIssuesRule, {"listed": ("listed", COUNT)}),
}
_RULE_COMMON = {"kind", "enabled", "cooldown_minutes"}

NOTIFIER_KEYS: dict[str, set[str]] = {
    "log": set(),
    "slack": {"url_env", "timeout_seconds"},
    "webhook": {"url_env", "secret_env", "timeout_seconds"},
    "alertmanager": {"url", "lease_minutes", "generator_url", "labels", "timeout_seconds"},
    "pagerduty": {
        "routing_key_env",
        "url",
        "source",
        "severities",
        "client_url",
        "timeout_seconds",
    },
}
TOP_KEYS = {
    "cooldown_minutes",
    "api_window_minutes",
    "silences",
    "default_notifiers",
    "rules",
    "notifiers",
    "routes",
    "flapping",
}


class _Reader:
    """Collects problems while reading, so one run reports all of them."""

    def __init__(self, source: str, env: Mapping[str, str]) -> None:
        self.source = source
        self.env = env
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self.source}: {key}: {text}")

    def table(self, data: Any, key: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.problem(key, f"must be a table, got {type(data).__name__}")
            return {}
        return data

    def unknown(self, data: Mapping[str, Any], allowed: set[str], key: str) -> None:
        for name in sorted(set(data) - allowed):
            prefix = f"{key}." if key else ""
            self.problem(f"{prefix}{name}", f"unknown key (expected one of {sorted(allowed)})")

    def value(self, data: Mapping[str, Any], name: str, key: str, check: Check) -> Any:
        try:
            return check(data[name])
        except ValueError as exc:
            self.problem(f"{key}.{name}" if key else name, str(exc))
            return None

    def strings(self, data: Mapping[str, Any], name: str, key: str) -> list[str]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem(f"{key}.{name}", "must be a list of non-empty strings")
            return []
        return value

    def secret(self, data: Mapping[str, Any], name: str, key: str, default: str | None) -> str:
        var = data.get(name, default)
        if not isinstance(var, str) or not var:
            self.problem(f"{key}.{name}", "must name an environment variable")
            return ""
        value = self.env.get(var, "").strip()
        if not value:
            self.problem(f"{key}.{name}", f"environment variable {var} is not set")
        return value


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> AlertConfig:
    """Read and validate ``path``; raises :class:`ConfigError` listing every problem."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from None
    return parse_config(data, source, os.environ if env is None else env)


def parse_config(data: Mapping[str, Any], source: str, env: Mapping[str, str]) -> AlertConfig:
    r = _Reader(source, env)
    r.unknown(data, TOP_KEYS, "")
    config = AlertConfig(source=source, rules=[], notifiers={})
    if "cooldown_minutes" in data:
        config.cooldown = _cooldown(r, data, "cooldown_minutes", "")
    if "api_window_minutes" in data:
        config.api_window = r.value(data, "api_window_minutes", "", _minutes) or config.api_window
    if "silences" in data:
        if not isinstance(data["silences"], bool):
            r.problem("silences", "must be true or false")
        else:
            config.silences = data["silences"]

    rules = r.table(data.get("rules", {}), "rules")
    if not rules:
        r.problem("rules", "at least one rule is required")
    for name, body in rules.items():
        _read_rule(r, config, name, r.table(body, f"rules.{name}"))
    if rules and not config.rules and not r.problems:
        r.problem("rules", "every rule is disabled")

    notifiers = r.table(data.get("notifiers", {}), "notifiers")
    for name, body in notifiers.items():
        notifier = _read_notifier(r, name, r.table(body, f"notifiers.{name}"))
        if notifier is not None:
            config.notifiers[name] = notifier
    if not notifiers:
        config.notifiers["log"] = LogNotifier(logging.getLogger(ALERTS_LOG))

    routes = data.get("routes", [])
    if not isinstance(routes, list):
        r.problem("routes", "must be an array of tables ([[routes]])")
        routes = []
    for i, body in enumerate(routes):
        route = _read_route(r, f"routes[{i}]", r.table(body, f"routes[{i}]"), notifiers, rules)
        if route is not None:
            config.routes.append(route)
    if "default_notifiers" in data:
        names = r.strings(data, "default_notifiers", "")
        for n in names:
            if n not in notifiers:
                r.problem("default_notifiers", f"no notifier named {n!r}")
        config.default_notifiers = names

    if "flapping" in data:
        config.flapping = _read_flapping(r, r.table(data["flapping"], "flapping"))
    if r.problems:
        config.close()
        raise ConfigError(r.problems)
    return config


def _cooldown(r: _Reader, data: Mapping[str, Any], name: str, key: str) -> timedelta | None:
    """Minutes, or ``false`` for "never remind"."""
    if data[name] is False:
        return None
    return r.value(data, name, key, _minutes)  # type: ignore[no-any-return]


def _read_rule(r: _Reader, config: AlertConfig, name: str, body: dict[str, Any]) -> None:
    key = f"rules.{name}"
    kind = body.get("kind", name)
    if kind not in RULE_KINDS:
        r.problem(
            f"{key}.kind" if "kind" in body else key,
            f"unknown rule kind {kind!r} (one of {sorted(RULE_KINDS)})",
        )
        return
    factory, params = RULE_KINDS[kind]
    r.unknown(body, _RULE_COMMON | set(params), key)
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        r.problem(f"{key}.enabled", "must be true or false")
    args: dict[str, Any] = {"name": name}
    for toml_key, (arg, check) in params.items():
        if toml_key in body:
            value = r.value(body, toml_key, key, check)
            if value is not None:
                args[arg] = value
    if "cooldown_minutes" in body:
        config.cooldowns[name] = _cooldown(r, body, "cooldown_minutes", key)
    try:
        rule = factory(**args)
    except ValueError as exc:
        r.problem(key, str(exc))
        return
    if enabled is True:
        config.rules.append(rule)


def _read_notifier(r: _Reader, name: str, body: dict[str, Any]) -> Notifier | None:
    key = f"notifiers.{name}"
    kind = body.get("type")
    if kind not in NOTIFIER_KEYS:
        r.problem(f"{key}.type", f"must be one of {sorted(NOTIFIER_KEYS)}, got {kind!r}")
        return None
    r.unknown(body, NOTIFIER_KEYS[kind] | {"type"}, key)
    timeout = 5.0
    if "timeout_seconds" in body:
        timeout = r.value(body, "timeout_seconds", key, POSITIVE) or timeout
    try:
        if kind == "log":
            return LogNotifier(logging.getLogger(ALERTS_LOG))
        if kind == "slack":
            url = r.secret(body, "url_env", key, "SUPABASE_MONITORING_SLACK_WEBHOOK_URL")
            return SlackWebhookNotifier(url, timeout=timeout) if url else None
        if kind == "webhook":
            url = r.secret(body, "url_env", key, "SUPABASE_MONITORING_WEBHOOK_URL")
            secret = None
            if "secret_env" in body:
                secret = r.secret(body, "secret_env", key, None) or None
            return JsonWebhookNotifier(url, secret=secret, timeout=timeout) if url else None
        if kind == "alertmanager":
            return _alertmanager(r, key, body, timeout)
        return _pagerduty(r, key, body, timeout)
    except ValueError as exc:
        # The notifiers' own checks (URL shape...); their messages never carry secrets.
        r.problem(key, str(exc))
        return None


def _alertmanager(
    r: _Reader, key: str, body: dict[str, Any], timeout: float
) -> AlertmanagerNotifier | None:
    url = body.get("url")
    if not isinstance(url, str) or not url:
        r.problem(f"{key}.url", "Alertmanager's base URL is required, e.g. http://127.0.0.1:9093")
        return None
    lease = timedelta(minutes=5)
    if "lease_minutes" in body:
        lease = r.value(body, "lease_minutes", key, _minutes) or lease
    labels = r.table(body.get("labels", {}), f"{key}.labels")
    if not all(isinstance(v, str) for v in labels.values()):
        r.problem(f"{key}.labels", "label values must be strings")
    generator = body.get("generator_url")
    if generator is not None and not isinstance(generator, str):
        r.problem(f"{key}.generator_url", "must be a string")
        generator = None
    return AlertmanagerNotifier(
        url, lease=lease, generator_url=generator, extra_labels=labels, timeout=timeout
    )


def _pagerduty(
    r: _Reader, key: str, body: dict[str, Any], timeout: float
) -> PagerDutyNotifier | None:
    routing_key = r.secret(body, "routing_key_env", key, ROUTING_KEY_ENV)
    severities: dict[AlertSeverity, str] = {}
    for ours, theirs in r.table(body.get("severities", {}), f"{key}.severities").items():
        try:
            severities[AlertSeverity(ours)] = str(theirs)
        except ValueError:
            r.problem(f"{key}.severities.{ours}", "not one of our severities (warning, critical)")
    for name in ("url", "source", "client_url"):
        if name in body and not isinstance(body[name], str):
            r.problem(f"{key}.{name}", "must be a string")
            return None
    if not routing_key:
        return None
    return PagerDutyNotifier(
        routing_key,
        url=body.get("url", EVENTS_URL),
        source=body.get("source", "supabase-monitoring"),
        severities=severities,
        client_url=body.get("client_url"),
        timeout=timeout,
    )


def _read_route(
    r: _Reader,
    key: str,
    body: dict[str, Any],
    notifiers: Mapping[str, Any],
    rules: Mapping[str, Any],
) -> Route | None:
    r.unknown(body, {"notifiers", "severities", "rules", "keys"}, key)
    names = r.strings(body, "notifiers", key)
    if not names:
        r.problem(f"{key}.notifiers", "a route needs at least one notifier")
    for n in names:
        if n not in notifiers:
            r.problem(f"{key}.notifiers", f"no notifier named {n!r}")
    severities = r.strings(body, "severities", key)
    for s in severities:
        if s not in {v.value for v in AlertSeverity}:
            r.problem(f"{key}.severities", f"unknown severity {s!r}")
    rule_names = r.strings(body, "rules", key)
    for n in rule_names:
        if n not in rules:
            r.problem(f"{key}.rules", f"no rule named {n!r}")
    return Route(
        notifiers=tuple(names),
        severities=frozenset(severities),
        rules=frozenset(rule_names),
        keys=tuple(r.strings(body, "keys", key)),
    )


def _read_flapping(r: _Reader, body: dict[str, Any]) -> FlappingGate | None:
    r.unknown(body, {"max_changes", "window_minutes"}, "flapping")
    max_changes = 4
    window = timedelta(minutes=30)
    if "max_changes" in body:
        max_changes = r.value(body, "max_changes", "flapping", COUNT) or max_changes
    if "window_minutes" in body:
        window = r.value(body, "window_minutes", "flapping", _minutes) or window
    return FlappingGate(max_changes=max_changes, window=window)

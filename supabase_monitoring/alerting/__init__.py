"""Alerting over system health and the monitoring views.

Rules turn one snapshot (:class:`AlertInputs`) into alerts; the
:class:`AlertEngine` compares them with the state stored in
``public.monitoring_events`` (see :mod:`.state` for why two processes never
double-send), and notifiers deliver fired / reminder / changed / resolved
notifications with retries. Failed deliveries are recorded as
``alert_delivery_failed`` events. Gates (:mod:`.holds`) hold transitions back
while a silence (:mod:`.silences`) matches or an alert flaps
(:mod:`.flapping`); :mod:`.config` builds all of it from a TOML file.
"""

from .alertmanager import AlertmanagerNotifier
from .config import AlertConfig, ConfigError, Route, load_config
from .delivery import DeliveryOutcome, DeliveryRetry, deliver
from .engine import AlertEngine, RunResult
from .flapping import FlappingGate
from .holds import Gate, Hold, alert_labels
from .inputs import gather_inputs
from .model import Alert, AlertSeverity, Notification, Transition
from .notifiers import (
    DeliveryError,
    JsonWebhookNotifier,
    LogNotifier,
    Notifier,
    SlackWebhookNotifier,
)
from .pagerduty import PagerDutyNotifier
from .receiver import WebhookReceiver
from .rules import (
    AlertInputs,
    ApiErrorRateRule,
    ApiLatencyRule,
    ComponentCriticalRule,
    CriticalIssuesRule,
    HealthUnknownRule,
    OverallStatusRule,
    QueueGrowingRule,
    QueueOldestMessageRule,
    Rule,
    RuleResult,
    WorkerSilentRule,
    default_rules,
)
from .silences import Recurrence, Silence, SilenceGate, SilenceStore, new_silence
from .state import ALERT_DELIVERY_FAILED, ALERT_FIRED, ALERT_RESOLVED, MemoryAlertStore
from .store import PostgrestAlertStore

__all__ = [
    "ALERT_DELIVERY_FAILED",
    "ALERT_FIRED",
    "ALERT_RESOLVED",
    "Alert",
    "AlertConfig",
    "AlertEngine",
    "AlertInputs",
    "AlertSeverity",
    "AlertmanagerNotifier",
    "ApiErrorRateRule",
    "ApiLatencyRule",
    "ComponentCriticalRule",
    "ConfigError",
    "CriticalIssuesRule",
    "DeliveryError",
    "DeliveryOutcome",
    "DeliveryRetry",
    "FlappingGate",
    "Gate",
    "HealthUnknownRule",
    "Hold",
    "JsonWebhookNotifier",
    "LogNotifier",
    "MemoryAlertStore",
    "Notification",
    "Notifier",
    "OverallStatusRule",
    "PagerDutyNotifier",
    "PostgrestAlertStore",
    "QueueGrowingRule",
    "QueueOldestMessageRule",
    "Recurrence",
    "Route",
    "Rule",
    "RuleResult",
    "RunResult",
    "Silence",
    "SilenceGate",
    "SilenceStore",
    "SlackWebhookNotifier",
    "Transition",
    "WebhookReceiver",
    "WorkerSilentRule",
    "alert_labels",
    "default_rules",
    "deliver",
    "gather_inputs",
    "load_config",
    "new_silence",
]

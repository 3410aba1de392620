"""Alerting over system health and the monitoring views.

Rules turn one snapshot (:class:`AlertInputs`) into alerts; the
:class:`AlertEngine` compares them with the state stored in
``public.monitoring_events`` (see :mod:`.state` for why two processes never
double-send), and notifiers deliver fired / reminder / changed / resolved
notifications with retries. Failed deliveries are recorded as
``alert_delivery_failed`` events.
"""

from .delivery import DeliveryOutcome, DeliveryRetry, deliver
from .engine import AlertEngine, RunResult
from .inputs import gather_inputs
from .model import Alert, AlertSeverity, Notification, Transition
from .notifiers import (
    DeliveryError,
    JsonWebhookNotifier,
    LogNotifier,
    Notifier,
    SlackWebhookNotifier,
)
from .receiver import WebhookReceiver
from .rules import (
    AlertInputs,
    ApiErrorRateRule,
    ApiLatencyRule,
    ComponentCriticalRule,
    CriticalIssuesRule,
    HealthUnknownRule,
    OverallStatusRule,
    Rule,
    RuleResult,
    default_rules,
)
from .state import ALERT_DELIVERY_FAILED, ALERT_FIRED, ALERT_RESOLVED, MemoryAlertStore
from .store import PostgrestAlertStore

__all__ = [
    "ALERT_DELIVERY_FAILED",
    "ALERT_FIRED",
    "ALERT_RESOLVED",
    "Alert",
    "AlertEngine",
    "AlertInputs",
    "AlertSeverity",
    "ApiErrorRateRule",
    "ApiLatencyRule",
    "ComponentCriticalRule",
    "CriticalIssuesRule",
    "DeliveryError",
    "DeliveryOutcome",
    "DeliveryRetry",
    "HealthUnknownRule",
    "JsonWebhookNotifier",
    "LogNotifier",
    "MemoryAlertStore",
    "Notification",
    "Notifier",
    "OverallStatusRule",
    "PostgrestAlertStore",
    "Rule",
    "RuleResult",
    "RunResult",
    "SlackWebhookNotifier",
    "Transition",
    "WebhookReceiver",
    "default_rules",
    "deliver",
    "gather_inputs",
]

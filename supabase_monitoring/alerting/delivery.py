"""Deliver one notification to every notifier, retrying each on its own.

One notifier failing never stops the others; every failure ends in a
:class:`DeliveryOutcome` the engine records, so nothing is dropped silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .._retry import Backoff
from .model import Notification
from .notifiers import DeliveryError, Notifier

logger = logging.getLogger("supabase_monitoring.alerting")


@dataclass(frozen=True)
class DeliveryRetry:
    """How often to try each notifier; waits are the SDK's :class:`~.._retry.Backoff`
    (full jitter, up to ``base_delay * 2**n`` seconds, capped at ``max_delay``)."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be >= 0")

    def delay(self, failed_attempts: int) -> float:
        """The wait after the ``failed_attempts``-th failure."""
        return Backoff(self.base_delay, self.max_delay).delay(failed_attempts - 1)


@dataclass(frozen=True)
class DeliveryOutcome:
    notifier: str
    delivered: bool
    attempts: int
    error: str | None = None


def deliver(
    notification: Notification,
    notifiers: Sequence[Notifier],
    policy: DeliveryRetry | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryOutcome]:
    """Send to each notifier with retries; return one outcome per notifier."""
    policy = policy or DeliveryRetry()
    return [_deliver_one(notification, n, policy, sleep) for n in notifiers]


def _deliver_one(
    notification: Notification,
    notifier: Notifier,
    policy: DeliveryRetry,
    sleep: Callable[[float], None],
) -> DeliveryOutcome:
    error = "not attempted"
    for attempt in range(1, policy.attempts + 1):
        try:
            notifier.send(notification)
        except DeliveryError as exc:
            error = str(exc)
            if exc.permanent:
                return DeliveryOutcome(notifier.name, False, attempt, error)
        except Exception as exc:  # a notifier bug must not lose the alert either
            error = f"{type(exc).__name__} in notifier"
            logger.exception("notifier %s raised unexpectedly", notifier.name)
        else:
            return DeliveryOutcome(notifier.name, True, attempt)
        if attempt < policy.attempts:
            logger.warning(
                "delivery to %s failed (attempt %d/%d): %s",
                notifier.name,
                attempt,
                policy.attempts,
                error,
            )
            sleep(policy.delay(attempt))
    return DeliveryOutcome(notifier.name, False, policy.attempts, error)

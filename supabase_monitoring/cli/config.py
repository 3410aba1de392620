"""What every command shares: configuration from the environment, one connection, CliError.

One :class:`~supabase_monitoring.MonitoringClient` (strict, with the SDK's
retry policy) serves every request a command makes, including the RPCs and
the alert store, so there is one HTTP pool and one retry policy.
"""

from __future__ import annotations

import argparse
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TypeVar

from .._client import MonitoringClient
from .._config import URL_ENV, env_credentials, missing_credentials
from .._retry import RetryPolicy
from .._transport import SyncTransport

T = TypeVar("T")

PROG = "supabase-monitoring"


class CliError(Exception):
    """An expected failure: printed as ``supabase-monitoring: error: <message>``, no traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Connection:
    """The SDK client every command uses; ``retried`` runs a transport call under its retries."""

    client: MonitoringClient
    retry: RetryPolicy

    def retried(self, fn: Callable[[SyncTransport], T]) -> T:
        """``fn(transport)`` with the client's retry policy (reads and idempotent RPCs)."""
        return self.client._retried(fn)

    @property
    def transport(self) -> SyncTransport:
        """The client's transport, for stores that retry with :attr:`retry` themselves."""
        return self.client._require_transport()

    def close(self) -> None:
        self.client.close()


def connect(timeout: float, retry: RetryPolicy | None = None) -> Connection:
    """A connection from SUPABASE_URL / SUPABASE_SERVICE_ROLE_KEY (service_role: the
    monitoring schema is closed to every other role)."""
    missing = missing_credentials()
    if missing:
        raise CliError(
            f"missing environment variable(s): {', '.join(missing)} "
            "(the project URL and its service_role key)"
        )
    url, key = env_credentials(PROG)
    if not url.startswith(("http://", "https://")):
        raise CliError(f"{URL_ENV} must start with http:// or https://")
    policy = retry if retry is not None else RetryPolicy()
    # batching=False: a command's few writes (issue resolution) happen at the call.
    client = MonitoringClient(url, key, strict=True, timeout=timeout, retry=policy, batching=False)
    return Connection(client, policy)


def on_termination(callback: Callable[[], None]) -> None:
    """Call ``callback`` on SIGTERM/SIGINT (how a long-running command is told to stop)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        callback()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


# ---------------------------------------------------------------- argument types


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], e.g. 0.05: {text}")
    return value


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """An argparse type: ``90m``, ``2h``, ``1.5d``."""
    m = _DURATION.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 30m, 2h or 1d: {text!r}")
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def moment(text: str) -> datetime:
    """An argparse type: an ISO 8601 time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time like 2026-12-06T02:00Z: {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def since(text: str) -> datetime:
    """An argparse type: a duration ago (``2h``, ``7d``) or an ISO time."""
    if _DURATION.match(text.strip().lower()):
        return datetime.now(UTC) - duration(text)
    try:
        return moment(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected e.g. 2h, 30m, 7d or an ISO time: {text!r}"
        ) from None

"""What every command shares: configuration from the environment, one connection, CliError.

One :class:`~supabase_monitoring.MonitoringClient` (strict, with the SDK's
retry policy) serves every request a command makes, including the RPCs and
the alert store, so there is one HTTP pool and one retry policy.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
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

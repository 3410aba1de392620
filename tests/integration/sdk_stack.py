"""Stack coordinates and settings shared by the integration fixtures and tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from supabase_monitoring import RetryPolicy

ENV_NAMES = ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_DB_URL")

# Real retries, but short enough that a broken stack fails fast.
INTEGRATION_RETRY = RetryPolicy(
    max_attempts=3, initial_backoff=0.05, max_backoff=0.5, max_elapsed=5
)


@dataclass(frozen=True)
class StackEnv:
    """The local stack's coordinates, from the environment."""

    url: str
    anon_key: str
    service_role_key: str
    db_url: str


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``probe`` until it returns something truthy and return it; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")

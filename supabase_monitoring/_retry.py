"""Retrying: the one backoff formula, and the policy for the SDK's requests.

:class:`Backoff` is the only place a retry delay is computed: the request
policy below (through tenacity), the batching writer and alert delivery all
use it. supabase-py's own retry is switched off (it only covers GET/HEAD and
sleeps 1+2+4 s with a blocking ``time.sleep``); this module owns retrying for
every request the SDK makes. Retrying writes is safe because each row carries
a client-generated id and inserts are ``ON CONFLICT (id) DO NOTHING``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from .errors import is_transient

__all__ = ["Backoff", "RetryPolicy", "call_with_retry", "call_with_retry_async"]

logger = logging.getLogger("supabase_monitoring")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with full jitter.

    The wait before retry ``n`` (0 for the first retry) is uniform in
    ``[0, min(maximum, initial * 2**n)]`` ("full jitter", as in AWS's
    "Exponential Backoff and Jitter"): many workers that failed together spread
    their retries over the whole window instead of retrying in lockstep.
    """

    initial: float
    maximum: float

    def cap(self, retry: int) -> float:
        """The longest wait before retry ``retry``."""
        return float(min(self.maximum, self.initial * 2 ** min(retry, 62)))

    def delay(self, retry: int) -> float:
        """A random wait before retry ``retry``, in ``[0, cap(retry)]``."""
        return random.uniform(0.0, self.cap(retry))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before giving up on a request.

    Waits are :class:`Backoff` (full jitter): a random time between 0 and
    ``min(initial_backoff * 2**n, max_backoff)``, so many workers hitting the
    same outage do not retry in lockstep. No new attempt starts once
    ``max_elapsed`` seconds would be exceeded by its wait; the worst case is
    ``max_elapsed`` plus one request timeout.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.2
    max_backoff: float = 2.0
    max_elapsed: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.max_elapsed < 0:
            raise ValueError("backoff and elapsed-time bounds must not be negative")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """One attempt, no retry."""
        return cls(max_attempts=1)

    @property
    def backoff(self) -> Backoff:
        """The waits between attempts."""
        return Backoff(self.initial_backoff, self.max_backoff)

    def _kwargs(self, on_retry: Callable[[], None] | None) -> dict[str, object]:
        backoff = self.backoff

        def wait(state: RetryCallState) -> float:
            return backoff.delay(state.attempt_number - 1)

        def before_sleep(state: RetryCallState) -> None:
            _log_retry(state)
            if on_retry is not None:
                on_retry()

        return {
            "retry": retry_if_exception(is_transient),
            "stop": stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_elapsed),
            "wait": wait,
            "before_sleep": before_sleep,
            "reraise": True,
        }


def _log_retry(state: RetryCallState) -> None:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    logger.info(
        "transient failure (attempt %d), retrying in %.2fs: %s",
        state.attempt_number,
        wait,
        exc,
    )


def call_with_retry(
    policy: RetryPolicy,
    fn: Callable[[], T],
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Run ``fn`` under ``policy``; the last error is re-raised unchanged.

    ``on_retry`` is called before each wait (sinks count retries with it).
    """
    retrying = Retrying(sleep=sleep, **policy._kwargs(on_retry))  # type: ignore[arg-type]
    return retrying(fn)


async def call_with_retry_async(
    policy: RetryPolicy,
    fn: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Async twin of :func:`call_with_retry`; waits with ``asyncio.sleep``."""
    retrying = AsyncRetrying(sleep=sleep, **policy._kwargs(on_retry))  # type: ignore[arg-type]

    async def attempt() -> T:
        # A coroutine function, so tenacity awaits each attempt (it would
        # treat a lambda returning a coroutine as a plain sync call).
        return await fn()

    return await retrying(attempt)

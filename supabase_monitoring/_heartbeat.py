"""Worker heartbeats: the background writer tells the database every few
seconds that this client instance is alive, and that it closed cleanly when it
closes, so the health check can name a worker that died without a word
(``monitoring.worker_heartbeats``, written by ``monitoring.record_worker_heartbeat``).

The worker's own threads never pay for it: a flusher that wakes up anyway
checks a monotonic deadline (``claim``), sends one small RPC when it is due
and swallows any failure (the next beat is the retry). The database stamps
``last_seen_at`` with its own clock, so a skewed worker clock cannot matter.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

__all__ = [
    "HEARTBEAT_RPC",
    "WORKER_NAME_ENV",
    "Heartbeat",
    "HeartbeatConfig",
    "default_worker_name",
]

logger = logging.getLogger("supabase_monitoring")

#: The RPC (schema ``monitoring``) a heartbeat calls.
HEARTBEAT_RPC = "record_worker_heartbeat"
#: Names this process's worker when ``HeartbeatConfig.worker_name`` is not given.
WORKER_NAME_ENV = "SUPABASE_MONITORING_WORKER_NAME"
_MAX_NAME = 200


def default_worker_name(environ: Mapping[str, str] | None = None) -> str:
    """SUPABASE_MONITORING_WORKER_NAME, else the script's name, else ``python``."""
    env = os.environ if environ is None else environ
    name = env.get(WORKER_NAME_ENV, "").strip()
    if not name and sys.argv and sys.argv[0]:
        name = os.path.splitext(os.path.basename(sys.argv[0]))[0].strip()
    return (name or "python")[:_MAX_NAME]


def _sdk_version() -> str:
    try:
        return metadata.version("supabase-monitoring")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class HeartbeatConfig:
    """How often a client reports its presence, and under which worker name.

    Part of ``BatchingConfig`` (``heartbeat=None`` turns heartbeats off); sent
    from the batching writer only (``batching=False`` sends none).
    """

    interval: float = 30.0
    """Seconds between heartbeats; keep it well below the database's
    ``worker_silent_after_seconds`` (300)."""
    worker_name: str | None = None
    """The worker's name in health and ``workers list``; default: see ``default_worker_name``."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise ValueError(f"heartbeat interval must be a positive number, got {self.interval!r}")
        if self.worker_name is not None and not (
            self.worker_name.strip() and len(self.worker_name) <= _MAX_NAME
        ):
            raise ValueError(f"worker_name must be 1..{_MAX_NAME} non-blank characters")


class Heartbeat:
    """One client instance's identity and its heartbeat schedule (thread-safe)."""

    def __init__(
        self, config: HeartbeatConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.worker_name = config.worker_name or default_worker_name()
        self.host = socket.gethostname()[:255]
        self.sdk_version = _sdk_version()[:64]
        self._clock = clock
        self._lock = threading.Lock()
        self._new_instance()

    def __repr__(self) -> str:
        return f"<Heartbeat worker={self.worker_name!r} every={self.config.interval}s>"

    def _new_instance(self) -> None:
        self.instance_id = uuid.uuid4()
        self.pid = os.getpid()
        self.started_at = datetime.now(UTC)
        self._next_due = self._clock()  # the first beat goes out at once
        self._failures = 0

    def reset_after_fork(self) -> None:
        """A forked child is a new instance (its own id, pid and start time)."""
        with self._lock:
            self._new_instance()

    def claim(self) -> bool:
        """True (once per interval, for one caller) when a heartbeat is due."""
        now = self._clock()
        with self._lock:
            if now < self._next_due:
                return False
            self._next_due = now + self.config.interval
            return True

    def params(self, closed: bool = False) -> dict[str, Any]:
        """The RPC's arguments."""
        return {
            "p_id": str(self.instance_id),
            "p_worker_name": self.worker_name,
            "p_host": self.host,
            "p_pid": self.pid,
            "p_sdk_version": self.sdk_version,
            "p_started_at": self.started_at.isoformat(),
            "p_closed": closed,
        }

    def send(self, rpc: Callable[[dict[str, Any]], object], closed: bool = False) -> bool:
        """One attempt; a failure is logged, never raised (the next beat retries)."""
        try:
            rpc(self.params(closed))
        except Exception as exc:
            self._failed(exc)
            return False
        self._failures = 0
        return True

    async def send_async(
        self, rpc: Callable[[dict[str, Any]], Awaitable[object]], closed: bool = False
    ) -> bool:
        """``send`` for the asyncio writer."""
        try:
            await rpc(self.params(closed))
        except Exception as exc:
            self._failed(exc)
            return False
        self._failures = 0
        return True

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        # The first failure of a run is worth a warning; the rest would only repeat it.
        log = logger.warning if self._failures == 1 else logger.debug
        log(
            "heartbeat of worker %r failed (%s); retrying next beat",
            self.worker_name,
            type(exc).__name__,
        )

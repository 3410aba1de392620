"""What both clients share: ``ClientBase`` (construction, configuration, state)
and ``RecordingMixin`` (the write side: ``record_*`` and the timers).

Recording is synchronous and non-blocking in both clients (the sink decides
when rows reach the database), so the async client shares this code as is.
Each call validates its arguments into a row, then submits it; in non-strict
mode nothing here raises into the worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from ._batching import BatchingConfig, MetricSubmit, metric_submitter
from ._config import env_credentials, env_disabled, safe_url
from ._retry import RetryPolicy
from ._rows import (
    api_call_fields,
    event_row,
    issue_row,
    metric_fields,
    processing_fields,
    queue_snapshot_row,
)
from ._sink import NullSink, RowSink
from ._tables import MONITORING_EVENTS, QUEUE_SNAPSHOTS, WORKER_ISSUES
from ._timers import ApiCallTimer, BatchTimer
from ._transport import AsyncTransport, SyncTransport
from .errors import ConfigurationError, InvalidInputError, MonitoringError
from .models import Severity, SystemHealth

if TYPE_CHECKING:
    from ._sink import AsyncRowSink, SinkStats

__all__ = ["DISABLED_REASON", "ClientBase", "RecordingMixin"]

logger = logging.getLogger("supabase_monitoring")


class RecordingMixin:
    """``record_*`` methods and timers on top of ``self._sink`` and ``self._strict``."""

    _sink: RowSink | AsyncRowSink
    _put_metric: MetricSubmit  # how metrics reach _sink (``metric_submitter``)
    _strict: bool
    _invalid = 0
    _invalid_lock = threading.Lock()  # the error path only; one lock for all clients is enough

    @property
    def stats(self) -> SinkStats:
        """The sink's counters (see SinkStats), plus this client's ``invalid`` count."""
        return replace(self._sink.stats, invalid=self._invalid)

    def _swallow(self, exc: Exception, what: str) -> bool:
        # Non-strict mode: the worker carries on, the log says why, stats count it.
        if isinstance(exc, InvalidInputError):
            with self._invalid_lock:
                self._invalid += 1
            logger.error("invalid monitoring input, %s not recorded: %s", what, exc)
        elif isinstance(exc, MonitoringError):
            logger.warning("%s not recorded: %s", what, exc)
        else:
            logger.exception("unexpected error, %s not recorded", what)
        return False

    def record_metric(
        self,
        name: str,
        value: float,
        tags: Mapping[str, Any] | None = None,
        *,
        timestamp: datetime | None = None,
    ) -> bool:
        """Record any measurement in monitoring.pipeline_metrics.

        ``tags`` are JSON values; string and boolean ones are the dimensions
        rollups group by. ``timestamp`` defaults to now and must be
        timezone-aware. Returns False if the metric was not accepted.
        """
        try:
            return self._put_metric(*metric_fields(name, value, tags, timestamp))
        except Exception as exc:
            if self._strict:
                raise
            return self._swallow(exc, "metric")

    def record_processing_metric(
        self,
        queue_name: str,
        processing_time_ms: float,
        success_count: int,
        error_count: int,
        *,
        batch_size: int | None = None,
        tags: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> bool:
        """Record one processed batch of a queue (the spec's ``recordProcessingMetric``).

        Stored as metric ``queue_processing`` with tags ``queue``,
        ``success_count``, ``error_count`` and ``batch_size`` (defaults to
        successes + errors), which the queue_metrics view and the health
        check read.
        """
        try:
            return self._put_metric(
                *processing_fields(
                    queue_name,
                    processing_time_ms,
                    success_count,
                    error_count,
                    batch_size,
                    tags,
                    timestamp,
                )
            )
        except Exception as exc:
            if self._strict:
                raise
            return self._swallow(exc, "processing metric")

    def record_api_call(
        self,
        api_name: str,
        duration_ms: float,
        success: bool,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        tags: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> bool:
        """Record one external API call (the spec's ``recordApiCall``).

        Stored as metric ``api_call`` with tags ``api`` and ``success``
        ("true"/"false"), plus ``endpoint`` and ``status_code`` (as text)
        when given.
        """
        try:
            return self._put_metric(
                *api_call_fields(
                    api_name, duration_ms, success, endpoint, status_code, tags, timestamp
                )
            )
        except Exception as exc:
            if self._strict:
                raise
            return self._swallow(exc, "API call metric")

    def log_worker_issue(
        self,
        worker_name: str,
        issue_type: str,
        message: str | None,
        severity: Severity | str = Severity.WARNING,
        details: Mapping[str, Any] | None = None,
        *,
        created_at: datetime | None = None,
    ) -> str | None:
        """Open an issue in monitoring.worker_issues (the spec's ``logWorkerIssue``).

        Returns the new issue's id (generated client-side, so it is known
        even before the row is written) for ``resolve_worker_issue``, or None
        if it was not accepted.
        """
        try:
            row = issue_row(worker_name, issue_type, message, severity, details, created_at)
            issue_id: str = row["id"]
            return issue_id if self._sink.submit(WORKER_ISSUES, row) else None
        except Exception as exc:
            if self._strict:
                raise
            self._swallow(exc, "worker issue")
            return None

    def record_event(
        self,
        event_type: str,
        details: Mapping[str, Any] | None = None,
        *,
        created_at: datetime | None = None,
    ) -> bool:
        """Record a system event in public.monitoring_events (resets, DLQ moves, admin actions)."""
        try:
            return self._sink.submit(MONITORING_EVENTS, event_row(event_type, details, created_at))
        except Exception as exc:
            if self._strict:
                raise
            return self._swallow(exc, "event")

    def record_queue_snapshot(
        self,
        queue_name: str,
        queue_length: int,
        stuck_messages: int = 0,
        *,
        oldest_msg_age_sec: int | None = None,
        details: Mapping[str, Any] | None = None,
        captured_at: datetime | None = None,
    ) -> bool:
        """Report a queue's depth in monitoring.queue_snapshots (for projects without pgmq).

        The health check reads the latest snapshot per queue; stuck messages
        count towards its queue status.
        """
        try:
            row = queue_snapshot_row(
                queue_name, queue_length, stuck_messages, oldest_msg_age_sec, details, captured_at
            )
            return self._sink.submit(QUEUE_SNAPSHOTS, row)
        except Exception as exc:
            if self._strict:
                raise
            return self._swallow(exc, "queue snapshot")

    def time_api_call(
        self,
        api_name: str,
        *,
        endpoint: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ApiCallTimer:
        """Time an API call: ``with``/``async with`` block or decorator.

        Records the duration, and success=false when the block raises (the
        exception is re-raised).
        """
        return ApiCallTimer(self, api_name, endpoint=endpoint, tags=tags)

    def time_batch(
        self,
        queue_name: str,
        *,
        batch_size: int | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> BatchTimer:
        """Time the processing of a batch: ``with``/``async with`` block or decorator.

        Records a processing metric; when the block raises, the whole batch
        counts as failed unless ``success_count``/``error_count`` were set.
        """
        return BatchTimer(self, queue_name, batch_size=batch_size, tags=tags)


DISABLED_REASON = "monitoring is disabled (SUPABASE_MONITORING_DISABLED is set)"

TransportT = TypeVar("TransportT", SyncTransport, AsyncTransport)
SinkT = TypeVar("SinkT")


class ClientBase(RecordingMixin, Generic[TransportT, SinkT]):
    """Construction, configuration and state shared by both clients (httpx's BaseClient idea).

    A subclass names its transport class and says how it takes a sink
    (``_adopt_sink``) and which factory builds one (``_factory_for``,
    ``_sink_context``); everything else about building a client, reading the
    environment and the lifecycle flags lives here once. Only the methods that
    do I/O (reads, ``flush``, ``close``) are written per client, because one
    awaits and the other does not.
    """

    _transport_type: ClassVar[type[SyncTransport] | type[AsyncTransport]]
    #: How the subclass's error messages call the supabase-py client it wraps.
    _supabase_client_name: ClassVar[str]
    _sink: SinkT  # type: ignore[assignment]

    def __init__(
        self,
        url: str | None,
        key: str | None,
        *,
        client: object | None,
        strict: bool,
        timeout: float,
        retry: RetryPolicy | None,
        sink: object | None,
        disabled: bool | None,
        batching: BatchingConfig | bool | None,
    ) -> None:
        if sink is not None and batching is not None:
            raise ConfigurationError("pass either sink or batching, not both")
        self._strict = bool(strict)
        self._retry = retry if retry is not None else RetryPolicy()
        self._disabled = env_disabled() if disabled is None else bool(disabled)
        self._closed = False
        self._transport: TransportT | None = None
        self._url: str | None = None
        ready = isinstance(sink, RowSink)  # structural: async sinks match too
        if self._disabled:
            # No network at all; a ready sink passed explicitly (a test
            # recorder) still gets the rows.
            self._use_sink(sink if ready else NullSink())
            return
        if client is not None:
            if url is not None or key is not None:
                raise ConfigurationError("pass either url and key, or an existing client, not both")
            self._transport = self._transport_type(client)  # type: ignore[arg-type,assignment]
            self._url = safe_url(str(getattr(client, "supabase_url", "")))
        elif url is not None or key is not None:
            if not url or not key:
                raise ConfigurationError(
                    "both url and key are required (the service_role key for monitoring data)"
                )
            self._transport = self._transport_type.connect(url, key, timeout=timeout)  # type: ignore[assignment]
            self._url = safe_url(url)
        if ready:
            self._use_sink(sink)
            return
        if self._transport is None:
            raise ConfigurationError(
                f"{type(self).__name__} needs url and key, an existing "
                f"{self._supabase_client_name}, or a ready sink such as testing.InMemoryRecorder"
            )
        factory = self._factory_for(batching) if sink is None else sink
        self._use_sink(factory(self._sink_context(self._transport)))  # type: ignore[operator]

    def _use_sink(self, sink: object) -> None:
        self._sink = self._adopt_sink(sink)
        self._put_metric = metric_submitter(self._sink)

    # ---- what a subclass decides --------------------------------------
    def _adopt_sink(self, sink: object) -> SinkT:
        raise NotImplementedError

    def _factory_for(self, batching: BatchingConfig | bool | None) -> Callable[[Any], object]:
        raise NotImplementedError

    def _sink_context(self, transport: TransportT) -> object:
        raise NotImplementedError

    # ---- shared ---------------------------------------------------------
    @classmethod
    def from_env(cls, **options: Any) -> Self:
        """A client from SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY.

        ``options`` are the constructor's keyword options (``strict``,
        ``timeout``, ``retry``, ``sink``, ``disabled``, ``batching``). Raises
        ConfigurationError naming the missing variable(s), unless the SDK is
        disabled, in which case none are needed.
        """
        disabled = options.get("disabled")
        if disabled or (disabled is None and env_disabled()):
            return cls(**{**options, "disabled": True})
        url, key = env_credentials(cls.__name__)
        return cls(url, key, **options)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(url={self._url!r}, strict={self._strict}, "
            f"disabled={self._disabled}, sink={self._sink!r})"
        )

    @property
    def strict(self) -> bool:
        """Whether failures raise instead of being logged."""
        return self._strict

    @property
    def disabled(self) -> bool:
        """Whether the client is a no-op (SUPABASE_MONITORING_DISABLED)."""
        return self._disabled

    @property
    def sink(self) -> SinkT:
        """Where recorded rows go (the async client shows sync sinks in a SyncSinkAdapter)."""
        return self._sink

    def _require_transport(self) -> TransportT:
        if self._transport is None:
            raise ConfigurationError(
                "this client has no database connection (it was built from a sink only)"
            )
        return self._transport

    def _health_failed(self, exc: Exception, should_raise: bool) -> SystemHealth:
        # What a failed health check returns (or raises), for both clients.
        if should_raise:
            raise exc
        if isinstance(exc, MonitoringError):
            logger.warning("system health check failed: %s", exc)
            return SystemHealth.unknown(str(exc))
        logger.exception("system health check failed unexpectedly", exc_info=exc)
        return SystemHealth.unknown(f"unexpected {type(exc).__name__}")

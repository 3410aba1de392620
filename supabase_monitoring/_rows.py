"""Rows for each table, built from validated call arguments.

Every row gets a client-generated UUIDv7 ``id`` (so re-sending a batch is
harmless) and an explicit, timezone-aware event time taken when the call is
made, not when a background writer gets round to sending it. Rows for one
table always have the same keys: a bulk insert lists its columns once.

Metrics are the hot path: their builders return :data:`MetricFields` (name,
value, tags, event time), which a batching sink stores as columns
(``_columns``); the id is given later, by the writer, for a whole batch. The
common ``record_api_call`` reuses one tags dict per API and outcome, so
metric tags are read-only once built.

Metric names and tag shapes follow the contract in docs/architecture.md that
the views and the health check read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from time import time as _time
from typing import Any

from ._ids import uuid7
from ._validation import (
    INT64_MAX,
    MAX_DETAILS_BYTES,
    MAX_TAGS,
    MAX_TAGS_BYTES,
    check_count,
    check_datetime,
    check_json_object,
    check_name,
    check_number,
    check_optional_text,
    check_severity,
)
from .errors import InvalidInputError

__all__ = [
    "API_CALL_METRIC",
    "QUEUE_PROCESSING_METRIC",
    "MetricFields",
    "api_call_fields",
    "event_row",
    "issue_row",
    "metric_fields",
    "processing_fields",
    "queue_snapshot_row",
]

#: A pipeline_metrics row as the hot path builds it: name, value, tags (read-only),
#: event time (epoch seconds, or ISO text of a caller's datetime).
MetricFields = tuple[str, float, dict[str, Any], float | str]

QUEUE_PROCESSING_METRIC = "queue_processing"
API_CALL_METRIC = "api_call"

_UTC = UTC
#: Tags the SDK sets from arguments; callers' tags must not override them.
_PROCESSING_TAGS = frozenset(("queue", "success_count", "error_count", "batch_size"))
_API_CALL_TAGS = frozenset(("api", "success", "endpoint", "status_code"))


def _when(value: datetime | None, field: str) -> str:
    if value is None:
        return datetime.now(_UTC).isoformat()
    return check_datetime(value, field)


def _metric_time(value: datetime | None) -> str | float:
    # Hot path: the clock is read now (the event time), formatting waits for _ids.finalize().
    if value is None:
        return _time()
    return check_datetime(value, "timestamp")


_INF = math.inf
#: Names that passed check_name (plain str only; the rule is the same for every
#: name field). Workers use a handful of API, queue and metric names, so the
#: hot path checks each once; bounded so a stream of distinct names cannot grow it.
_CHECKED_NAMES: set[str] = set()
_MAX_CHECKED_NAMES = 4096


def _name(value: object, field: str) -> str:
    name = check_name(value, field)
    if type(value) is str:
        if len(_CHECKED_NAMES) >= _MAX_CHECKED_NAMES:
            _CHECKED_NAMES.clear()
        _CHECKED_NAMES.add(name)
    return name


def _tags(tags: Mapping[str, Any] | None) -> dict[str, Any]:
    if tags is None:
        return {}
    return check_json_object(tags, "tags", max_bytes=MAX_TAGS_BYTES, max_keys=MAX_TAGS, flat=True)


def _details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    return check_json_object(details, "details", max_bytes=MAX_DETAILS_BYTES)


_NO_TAGS: dict[str, Any] = {}  # shared, never mutated (tags are read-only once built)


def metric_fields(
    name: object,
    value: object,
    tags: Mapping[str, Any] | None,
    timestamp: datetime | None,
) -> MetricFields:
    """A monitoring.pipeline_metrics row."""
    return (
        name if type(name) is str and name in _CHECKED_NAMES else _name(name, "metric_name"),
        check_number(value, "metric_value"),
        _NO_TAGS if tags is None else _tags(tags),
        _metric_time(timestamp),
    )


def _reserved(tags: dict[str, Any], keys: frozenset[str]) -> None:
    if not tags or keys.isdisjoint(tags):
        return
    clash = sorted(k for k in keys if k in tags)
    if clash:
        raise InvalidInputError(
            f"tags must not set {', '.join(map(repr, clash))}: the SDK sets them from the arguments"
        )


def processing_fields(
    queue_name: object,
    processing_time_ms: object,
    success_count: object,
    error_count: object,
    batch_size: object | None,
    tags: Mapping[str, Any] | None,
    timestamp: datetime | None,
) -> MetricFields:
    """A ``queue_processing`` metric: one processed batch of a queue."""
    successes = check_count(success_count, "success_count")
    errors = check_count(error_count, "error_count")
    size = successes + errors if batch_size is None else check_count(batch_size, "batch_size")
    extra = _tags(tags)
    _reserved(extra, _PROCESSING_TAGS)
    extra.update(
        queue=queue_name
        if type(queue_name) is str and queue_name in _CHECKED_NAMES
        else _name(queue_name, "queue_name"),
        success_count=successes,
        error_count=errors,
        batch_size=size,
    )
    return (
        QUEUE_PROCESSING_METRIC,
        check_number(processing_time_ms, "processing_time_ms", non_negative=True),
        extra,
        _metric_time(timestamp),
    )


#: The tags of a plain API call (no endpoint, status or extra tags), one dict
#: per checked API name and outcome, shared by every such row: building and
#: later encoding them once is most of what a plain call saves.
_API_TAGS: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] = ({}, {})


def _plain_api_tags(api_name: str, success: bool) -> dict[str, Any]:
    api = _name(api_name, "api_name")
    cache = _API_TAGS[success]
    if len(cache) >= _MAX_CHECKED_NAMES:
        cache.clear()
    tags = cache[api_name] = {"api": api, "success": "true" if success else "false"}
    return tags


def api_call_fields(
    api_name: object,
    duration_ms: object,
    success: object,
    endpoint: object | None,
    status_code: object | None,
    tags: Mapping[str, Any] | None,
    timestamp: datetime | None,
) -> MetricFields:
    """An ``api_call`` metric; ``success`` is stored as the strings "true"/"false"."""
    if type(success) is not bool:
        raise InvalidInputError(f"success must be a bool, got {type(success).__name__}")
    if type(duration_ms) is not float or not 0.0 <= duration_ms < _INF:
        duration_ms = check_number(duration_ms, "duration_ms", non_negative=True)
    when = _time() if timestamp is None else check_datetime(timestamp, "timestamp")
    # The common call (a checked API name, nothing else) takes the shortest
    # path: this runs on the worker's thread for every call.
    if tags is None and endpoint is None and status_code is None and type(api_name) is str:
        plain = _API_TAGS[success].get(api_name)
        if plain is None:
            plain = _plain_api_tags(api_name, success)
        return API_CALL_METRIC, duration_ms, plain, when
    if type(api_name) is str and api_name in _CHECKED_NAMES:
        api = api_name
    else:
        api = _name(api_name, "api_name")
    if tags is None:
        extra: dict[str, Any] = {"api": api, "success": "true" if success else "false"}
    else:
        extra = _tags(tags)
        _reserved(extra, _API_CALL_TAGS)
        extra["api"] = api
        extra["success"] = "true" if success else "false"
    if endpoint is not None:
        extra["endpoint"] = check_name(endpoint, "endpoint")
    if status_code is not None:
        code = check_count(status_code, "status_code")
        if not 100 <= code <= 599:
            raise InvalidInputError(f"status_code must be an HTTP status (100-599), got {code}")
        extra["status_code"] = str(code)
    return API_CALL_METRIC, duration_ms, extra, when


def issue_row(
    worker_name: object,
    issue_type: object,
    message: object,
    severity: object,
    details: Mapping[str, Any] | None,
    created_at: datetime | None,
) -> dict[str, Any]:
    """A monitoring.worker_issues row, open (resolved = false)."""
    return {
        "id": uuid7(),
        "worker_name": check_name(worker_name, "worker_name"),
        "issue_type": check_name(issue_type, "issue_type"),
        "severity": check_severity(severity),
        "message": check_optional_text(message, "message"),
        "details": _details(details),
        "resolved": False,
        "created_at": _when(created_at, "created_at"),
    }


def event_row(
    event_type: object,
    details: Mapping[str, Any] | None,
    created_at: datetime | None,
) -> dict[str, Any]:
    """A public.monitoring_events row."""
    return {
        "id": uuid7(),
        "event_type": check_name(event_type, "event_type"),
        "details": _details(details),
        "created_at": _when(created_at, "created_at"),
    }


def queue_snapshot_row(
    queue_name: object,
    queue_length: object,
    stuck_messages: object,
    oldest_msg_age_sec: object | None,
    details: Mapping[str, Any] | None,
    captured_at: datetime | None,
) -> dict[str, Any]:
    """A monitoring.queue_snapshots row; stuck messages cannot exceed the queue length."""
    length = check_count(queue_length, "queue_length", INT64_MAX)
    stuck = check_count(stuck_messages, "stuck_messages", INT64_MAX)
    if stuck > length:
        raise InvalidInputError(f"stuck_messages ({stuck}) cannot exceed queue_length ({length})")
    age = None
    if oldest_msg_age_sec is not None:
        age = check_count(oldest_msg_age_sec, "oldest_msg_age_sec")
    return {
        "id": uuid7(),
        "queue_name": check_name(queue_name, "queue_name"),
        "queue_length": length,
        "stuck_messages": stuck,
        "oldest_msg_age_sec": age,
        "details": _details(details),
        "captured_at": _when(captured_at, "captured_at"),
    }

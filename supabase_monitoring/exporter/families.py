"""A :class:`~.snapshot.Snapshot` as Prometheus metric families.

Health is exported generically, so components the SQL side adds later
(cron jobs, heartbeats, queue depth history) appear without code changes:
every component of the health document (any top-level object with a
``status``) gets a state set ``supabase_monitoring_component_status``, and
each of its figures becomes ``supabase_monitoring_<component>_<figure>``:
numbers as they are, booleans as 0/1, ``*_at`` / ``*_time`` timestamps as
``..._timestamp_seconds``, nested ``status`` strings as state sets, and
lists of objects as one series per item, labelled by the item's name field.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client.core import Metric

from ..models import HealthStatus
from .snapshot import Snapshot

PREFIX = "supabase_monitoring"
STATUSES = [s.value for s in HealthStatus]
STATUS_CODES = {"healthy": 0, "warning": 1, "critical": 2, "unknown": 3}
#: Fields that name the item of a list (first found wins), e.g. a worker's heartbeat.
ITEM_LABELS = ("name", "worker_name", "queue_name", "job_name", "jobname", "api_name", "worker")
_BAD = re.compile(r"[^a-zA-Z0-9_]")

Sample = tuple[str, dict[str, str], float]


def metric_name(*parts: str) -> str:
    name = "_".join(p for p in parts if p)
    name = _BAD.sub("_", name).strip("_")
    return re.sub(r"__+", "_", name)


class _Families:
    """Gauge samples grouped by family name, with one help text each."""

    def __init__(self) -> None:
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        self.docs: dict[str, str] = {}

    def add(
        self, name: str, value: float, labels: Mapping[str, str] | None = None, doc: str = ""
    ) -> None:
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return
        self.samples[name].append((dict(labels or {}), float(value)))
        if name not in self.docs:
            self.docs[name] = doc or name.removeprefix(f"{PREFIX}_").replace("_", " ")

    def state_set(self, name: str, state: str, labels: Mapping[str, str], doc: str) -> None:
        known = STATUSES if state in STATUSES else [*STATUSES, state]
        for s in known:
            self.add(name, 1.0 if s == state else 0.0, {**labels, "status": s}, doc)

    def metrics(self) -> Iterator[Metric]:
        for name, samples in self.samples.items():
            metric = Metric(name, self.docs[name], "gauge")
            seen = set()
            for labels, value in samples:
                key = tuple(sorted(labels.items()))
                if key in seen:  # a duplicate (hostile or odd data) would break the scrape
                    continue
                seen.add(key)
                metric.add_sample(name, labels, value)
            yield metric


def snapshot_metrics(snap: Snapshot) -> Iterator[Metric]:
    f = _Families()
    _health(f, snap)
    _queues(f, snap)
    _apis(f, snap)
    _queue_status(f, snap)
    for source, ok in sorted(snap.sources.items()):
        f.add(
            f"{PREFIX}_source_up",
            1.0 if ok else 0.0,
            {"source": source},
            "1 if the source was read in the last refresh, 0 if it failed",
        )
    f.add(
        f"{PREFIX}_up",
        1.0 if snap.sources and all(snap.sources.values()) else 0.0,
        doc="1 if every source was read in the last refresh (the API is reachable)",
    )
    f.add(
        f"{PREFIX}_window_start_timestamp_seconds",
        snap.window_start.timestamp(),
        doc="start of the window the per-queue and per-API figures cover",
    )
    yield from f.metrics()


def _health(f: _Families, snap: Snapshot) -> None:
    health = snap.health
    status = health.overall_status.value
    f.state_set(f"{PREFIX}_health_status", status, {}, "overall health (1 for the current status)")
    f.add(
        f"{PREFIX}_health_status_code",
        STATUS_CODES[status],
        doc="overall health: 0 healthy, 1 warning, 2 critical, 3 unknown",
    )
    for component, value in sorted(health.components().items()):
        f.state_set(
            f"{PREFIX}_component_status",
            str(value["status"]),
            {"component": component},
            "health of each component (1 for the current status)",
        )
        for key, item in value.items():
            if key != "status":
                _figure(f, metric_name(PREFIX, component), key, item, {})


def _figure(f: _Families, prefix: str, key: str, value: Any, labels: dict[str, str]) -> None:
    name = metric_name(prefix, key)
    if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
        f.add(name, float(value), labels)
    elif isinstance(value, str):
        if key == "status":
            f.state_set(name, value, labels, f"{prefix} status (1 for the current status)")
        elif key.endswith(("_at", "_time")) and (moment := _timestamp(value)) is not None:
            f.add(metric_name(prefix, key, "timestamp_seconds"), moment, labels)
    elif isinstance(value, dict):
        for k, v in value.items():
            _figure(f, name, str(k), v, labels)
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict):
                continue
            label = next((k for k in ITEM_LABELS if isinstance(item.get(k), str)), None)
            if label is None:
                continue
            item_labels = {**labels, label: item[label]}
            for k, v in item.items():
                if k != label:
                    _figure(f, name, str(k), v, item_labels)


def _timestamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _sum(values: Iterable[int | None]) -> int:
    return sum(v or 0 for v in values)


def _queues(f: _Families, snap: Snapshot) -> None:
    by_queue: dict[str, list[Any]] = defaultdict(list)
    for row in snap.queue_hours:
        by_queue[row.queue_name or "(none)"].append(row)
    minutes = max(1.0, (snap.taken_at - snap.window_start).total_seconds() / 60)
    for queue, rows in sorted(by_queue.items()):
        labels = {"queue": queue}
        messages = _sum(r.total_messages_processed for r in rows)
        errors, successes = _sum(r.error_count for r in rows), _sum(r.success_count for r in rows)
        f.add(
            f"{PREFIX}_queue_batches",
            _sum(r.total_batches for r in rows),
            labels,
            "batches in the window",
        )
        f.add(f"{PREFIX}_queue_messages_processed", messages, labels, "messages in the window")
        f.add(
            f"{PREFIX}_queue_throughput_per_minute",
            messages / minutes,
            labels,
            "messages per minute over the window",
        )
        if errors + successes:
            f.add(
                f"{PREFIX}_queue_error_ratio",
                errors / (errors + successes),
                labels,
                "failed over processed messages in the window",
            )


def _apis(f: _Families, snap: Snapshot) -> None:
    by_api: dict[str, list[Any]] = defaultdict(list)
    for row in snap.api_hours:
        by_api[row.api_name or "(none)"].append(row)
    for api, rows in sorted(by_api.items()):
        labels = {"api": api}
        calls, errors = sum(r.total_calls for r in rows), _sum(r.error_count for r in rows)
        f.add(f"{PREFIX}_api_calls", calls, labels, "API calls in the window")
        f.add(f"{PREFIX}_api_errors", errors, labels, "failed API calls in the window")
        if calls:
            f.add(
                f"{PREFIX}_api_error_ratio",
                errors / calls,
                labels,
                "failed over all API calls in the window",
            )
        p95s = [r.p95_time_ms for r in rows if r.p95_time_ms is not None]
        if p95s:
            f.add(
                f"{PREFIX}_api_p95_seconds",
                max(p95s) / 1000,
                labels,
                "worst hourly p95 latency in the window",
            )


def _queue_status(f: _Families, snap: Snapshot) -> None:
    for row in snap.queue_status:
        name = row.get("queue_name")
        if not isinstance(name, str):
            continue
        labels = {"queue": name}
        for column, metric, doc in (
            ("queue_length", "queue_depth", "messages waiting"),
            ("stuck_messages", "queue_stuck_messages", "messages past their visibility timeout"),
            ("oldest_msg_age_sec", "queue_oldest_message_age_seconds", "age of the oldest message"),
        ):
            value = row.get(column)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                f.add(f"{PREFIX}_{metric}", float(value), labels, doc)
        checked = row.get("last_check_time")
        if isinstance(checked, str) and (moment := _timestamp(checked)) is not None:
            f.add(
                f"{PREFIX}_queue_last_check_timestamp_seconds",
                moment,
                labels,
                "when the queue was last measured",
            )

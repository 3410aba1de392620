"""Helpers for testing code that uses supabase-monitoring, without a database.

``InMemoryRecorder`` is a sink that keeps every row it is given; build a
client on it and assert on what your code recorded::

    from supabase_monitoring import MonitoringClient
    from supabase_monitoring.testing import InMemoryRecorder

    recorder = InMemoryRecorder()
    monitor = MonitoringClient(sink=recorder, strict=True)
    process_batch(monitor)
    assert recorder.metrics("queue_processing")[0].tags["queue"] == "artists"

With pytest, the ``monitoring_recorder`` and ``monitoring_client`` fixtures
(registered by this package's pytest plugin) do the same.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from ._ids import finalize
from ._sink import SinkStats
from ._tables import MONITORING_EVENTS, PIPELINE_METRICS, QUEUE_SNAPSHOTS, WORKER_ISSUES, TableRef
from .models import MonitoringEvent, PipelineMetric, QueueSnapshot, WorkerIssue

__all__ = ["InMemoryRecorder", "RecordedRow"]

RecordedRow = tuple[TableRef, dict[str, Any]]


class InMemoryRecorder:
    """A thread-safe sink that stores rows instead of writing them.

    Works with both clients (the async client adapts it). Rows are exactly
    what would have been sent, so tests see ids, timestamps and tags as the
    database would.
    """

    def __init__(self) -> None:
        """An empty recorder."""
        self._lock = threading.Lock()
        self._rows: list[RecordedRow] = []
        self._closed = False
        self._submitted = 0
        self._dropped = 0

    def __repr__(self) -> str:
        return f"<InMemoryRecorder rows={len(self._rows)} closed={self._closed}>"

    def submit(self, table: TableRef, row: dict[str, Any]) -> bool:
        """Keep the row; dropped (False) after ``close``, like a real sink."""
        with self._lock:
            self._submitted += 1
            if self._closed:
                self._dropped += 1
                return False
            finalize([row])
            self._rows.append((table, row))
            return True

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is pending: True."""
        return True

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting rows; what was recorded stays readable."""
        with self._lock:
            self._closed = True

    @property
    def stats(self) -> SinkStats:
        """Counters; every kept row counts as written."""
        with self._lock:
            return SinkStats(
                enqueued=self._submitted,
                written=len(self._rows),
                dropped=self._dropped,
                batches_written=len(self._rows),
            )

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._rows.clear()

    def rows(self, table: TableRef | None = None) -> list[dict[str, Any]]:
        """Copies of the recorded rows, all or those for one table, in submit order."""
        with self._lock:
            return [copy.deepcopy(r) for t, r in self._rows if table is None or t == table]

    @property
    def recorded(self) -> list[RecordedRow]:
        """(table, row) pairs in submit order (copies)."""
        with self._lock:
            return [(t, copy.deepcopy(r)) for t, r in self._rows]

    def metrics(self, name: str | None = None) -> list[PipelineMetric]:
        """Recorded pipeline metrics, optionally only those called ``name``."""
        return [
            PipelineMetric.model_validate(r)
            for r in self.rows(PIPELINE_METRICS)
            if name is None or r["metric_name"] == name
        ]

    def worker_issues(self) -> list[WorkerIssue]:
        """Recorded worker issues."""
        return [WorkerIssue.model_validate(r) for r in self.rows(WORKER_ISSUES)]

    def events(self, event_type: str | None = None) -> list[MonitoringEvent]:
        """Recorded events, optionally only those of ``event_type``."""
        return [
            MonitoringEvent.model_validate(r)
            for r in self.rows(MONITORING_EVENTS)
            if event_type is None or r["event_type"] == event_type
        ]

    def queue_snapshots(self) -> list[QueueSnapshot]:
        """Recorded queue snapshots."""
        return [QueueSnapshot.model_validate(r) for r in self.rows(QUEUE_SNAPSHOTS)]

"""Where each kind of row lives: schema-qualified table and view names."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AGGREGATED_METRICS",
    "API_METRICS_VIEW",
    "MONITORING_EVENTS",
    "PIPELINE_METRICS",
    "QUEUE_DEPTH_HOURLY_VIEW",
    "QUEUE_METRICS_VIEW",
    "QUEUE_SNAPSHOTS",
    "TABLES",
    "WORKER_ISSUES",
    "WORKER_STATUS_VIEW",
    "TableRef",
]


@dataclass(frozen=True, slots=True)
class TableRef:
    """A table or view reached through PostgREST.

    Kept as (schema, name) rather than ``"monitoring.x"``: PostgREST selects
    the schema with the Accept-/Content-Profile header, never a dotted name.
    """

    schema: str
    name: str
    #: Columns of the primary key, the upsert's conflict target: a retried
    #: batch re-sends rows whose key the writer assigned once.
    conflict: str = "id"

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


# Partitioned by day on "timestamp": the key must contain the partition key.
PIPELINE_METRICS = TableRef("monitoring", "pipeline_metrics", conflict="id,timestamp")
WORKER_ISSUES = TableRef("monitoring", "worker_issues")
AGGREGATED_METRICS = TableRef("monitoring", "aggregated_metrics")
QUEUE_SNAPSHOTS = TableRef("monitoring", "queue_snapshots")
MONITORING_EVENTS = TableRef("public", "monitoring_events")

QUEUE_METRICS_VIEW = TableRef("monitoring", "queue_metrics")
API_METRICS_VIEW = TableRef("monitoring", "api_metrics")
QUEUE_DEPTH_HOURLY_VIEW = TableRef("monitoring", "queue_depth_hourly")
WORKER_STATUS_VIEW = TableRef("monitoring", "worker_status")

#: The five tables the SDK writes or reads rows of (views excluded).
TABLES: tuple[TableRef, ...] = (
    PIPELINE_METRICS,
    WORKER_ISSUES,
    AGGREGATED_METRICS,
    QUEUE_SNAPSHOTS,
    MONITORING_EVENTS,
)

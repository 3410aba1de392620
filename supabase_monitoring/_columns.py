"""pipeline_metrics rows as flat columns: how the batching sinks hold metrics.

Why not one dict per row: a dict that holds the tags dict is a container
the cyclic garbage collector tracks, and so is the ``(table, row)`` tuple a
queue would keep. Flat out, tens of thousands of them wait in the buffer,
survive the young generations and make every full collection walk them:
measured ~2.5 us of collector CPU per metric, more than the ``record_*`` call
itself (docs/performance-ingest.md). Here a metric is five references
appended to one list (name, value, tags, event time, id), none of them a
tracked container the collector must walk: the buffer costs the collector
nothing however long it gets.

The tags object of a row may be shared between rows (the SDK reuses one
dict per API and outcome): rows held here are read-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._ids import uuid7_many

__all__ = ["WIDTH", "MetricBatch", "metric_row"]

#: References per row in the flat list: name, value, tags, event time, id (None until sent).
WIDTH = 5
NAME, VALUE, TAGS, TIME, ID = range(WIDTH)


def metric_row(name: str, value: float, tags: Any, when: Any) -> dict[str, Any]:
    """The dict form of a pipeline_metrics row, with a tags dict of its own."""
    return {"metric_name": name, "metric_value": value, "tags": dict(tags), "timestamp": when}


@dataclass(slots=True)
class MetricBatch:
    """Some pipeline_metrics rows on their way to the database, ``WIDTH`` slots each.

    Ids are given once, by :meth:`assign_ids` before the first send, and kept
    by slices, so a retried or split batch sends the very same ids (the
    conflict target dedups them).
    """

    flat: list[Any]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, float, Any, Any]]) -> MetricBatch:
        """Rows as (name, value, tags, event time) fields, without ids yet."""
        flat: list[Any] = []
        for name, value, tags, when in rows:
            flat += (name, value, tags, when, None)
        return cls(flat)

    def __len__(self) -> int:
        return len(self.flat) // WIDTH

    def __getitem__(self, rows: slice) -> MetricBatch:
        start, stop, step = rows.indices(len(self))
        if step != 1:
            raise ValueError("a metric batch slices by contiguous rows only")
        return MetricBatch(self.flat[start * WIDTH : stop * WIDTH])

    def column(self, slot: int) -> list[Any]:
        """One column (NAME, VALUE, TAGS, TIME or ID) as a new list."""
        return self.flat[slot::WIDTH]

    def assign_ids(self) -> list[str]:
        """Give rows without an id a UUIDv7 (in place, once); all ids in row order."""
        flat = self.flat
        ids: list[Any] = flat[ID::WIDTH]
        if ids.count(None) == len(ids):  # the usual batch: every row new, ids in one slice
            ids = uuid7_many(len(ids))
            flat[ID::WIDTH] = ids
            return ids
        missing = [k for k, value in enumerate(ids) if value is None]
        if missing:
            for k, new_id in zip(missing, uuid7_many(len(missing)), strict=True):
                ids[k] = flat[k * WIDTH + ID] = new_id
        return ids

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts (a fresh tags dict each): for bulk inserts and custom writers."""
        flat = self.flat
        rows = []
        for i in range(0, len(flat), WIDTH):
            row = metric_row(flat[i + NAME], flat[i + VALUE], flat[i + TAGS], flat[i + TIME])
            if flat[i + ID] is not None:
                row["id"] = flat[i + ID]
            rows.append(row)
        return rows

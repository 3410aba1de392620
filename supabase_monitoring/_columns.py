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

from ._ids import block_ids, uuid7_block, uuid7_many

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
    id_block: tuple[str, int] | None = None
    """(prefix, start) of the rows' ids when none came with an id of its own
    (``_ids.uuid7_block``): the usual batch, whose ids are never spelled out."""

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
        block = self.id_block
        if block is not None:
            block = (block[0], block[1] + start)
        return MetricBatch(self.flat[start * WIDTH : stop * WIDTH], block)

    def column(self, slot: int) -> list[Any]:
        """One column (NAME, VALUE, TAGS, TIME or ID) as a new list."""
        return self.flat[slot::WIDTH]

    def assign_ids(self) -> tuple[str, int] | list[str]:
        """Give the rows their ids, once: a block (prefix, start) when no row
        came with one, else one string per row (the missing ones filled in place)."""
        if self.id_block is not None:
            return self.id_block
        flat = self.flat
        ids: list[Any] = flat[ID::WIDTH]
        if ids.count(None) == len(ids):
            self.id_block = uuid7_block(len(ids))
            return self.id_block
        missing = [k for k, value in enumerate(ids) if value is None]
        for k, new_id in zip(missing, uuid7_many(len(missing)), strict=True):
            ids[k] = flat[k * WIDTH + ID] = new_id
        return ids

    def ids(self) -> list[str]:
        """Every row's id as a string (given first if need be)."""
        given = self.assign_ids()
        return block_ids(*given, len(self)) if isinstance(given, tuple) else given

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts (a fresh tags dict each), with their ids once given:
        for bulk inserts and custom writers."""
        flat = self.flat
        ids = self.ids() if self.id_block is not None else self.column(ID)
        rows = []
        for i, row_id in zip(range(0, len(flat), WIDTH), ids, strict=True):
            row = metric_row(flat[i + NAME], flat[i + VALUE], flat[i + TAGS], flat[i + TIME])
            if row_id is not None:
                row["id"] = row_id
            rows.append(row)
        return rows

"""Request bodies, encoded once, as bytes.

The background writer's cost per row is mostly encoding (see
docs/performance-ingest.md): the stdlib's ``json.dumps`` of a 5,000-row batch
costs several microseconds per row, more than the ``record_*`` call that made
the row. So bodies are encoded here, once, with orjson when it is installed
(the ``fast`` extra) and the stdlib otherwise, and handed to the HTTP client
as bytes; no layer below encodes them again.

Metric batches go to ``monitoring.ingest_metrics`` as one array per column,
each distinct series (metric name + tags) once: no key repeated per row, no
tags object per row for Postgres to parse, no timestamp formatted (event
times are whole microseconds since the Unix epoch).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ._columns import NAME, TAGS, TIME, VALUE, MetricBatch
from ._ids import epoch_us, epoch_us_column

__all__ = ["ENCODER", "INGEST_METRICS_COLUMNS", "dumps", "ingest_metrics_body"]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _stdlib_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


_orjson_dumps: Callable[[Any], bytes] | None
try:
    from orjson import dumps as _orjson_dumps
except ImportError:  # the `fast` extra is not installed: stdlib json
    _orjson_dumps = None

#: Which encoder this process uses ("orjson" or "json"), for benchmarks and logs.
ENCODER = "json" if _orjson_dumps is None else "orjson"


def dumps(obj: Any) -> bytes:
    """``obj`` as compact UTF-8 JSON.

    orjson refuses a few values the stdlib takes (integers beyond 64 bits,
    dict subclasses with non-str keys never reach here: validation saw to
    that); those batches are encoded by the stdlib instead of failing.
    """
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(obj)
        except TypeError:
            pass
    return _stdlib_dumps(obj)


def _epoch_us(when: object) -> int:
    # A metric row's event time: epoch seconds (float) from the hot path, or
    # the ISO text of a datetime the caller passed (validated, timezone-aware).
    if type(when) is float:
        return epoch_us(when)
    if isinstance(when, str):
        return (datetime.fromisoformat(when) - _UNIX_EPOCH) // _US
    raise TypeError(f"metric timestamp must be epoch seconds or ISO text, got {type(when)!r}")


def ingest_metrics_body(batch: MetricBatch) -> bytes:
    """The JSON arguments of ``monitoring.ingest_metrics`` for a batch of metrics.

    Per row: id, series index, value, event time in epoch microseconds; per
    distinct series (metric name + tags) its name and tags once. Rows get
    their ids here, in place, before the first send, so a retried or split
    batch sends the very same ids and ON CONFLICT (id, "timestamp") DO
    NOTHING dedups it.

    Series are found by the tags object first (the SDK shares one per plain
    API call; every row's object is alive for the batch, so ``id`` is
    unique), then by the tags' exact JSON: True, 1 and 1.0 stay three series.
    """
    ids = batch.assign_ids()
    by_object: dict[str, dict[int, int]] = {}
    by_json: dict[tuple[str, bytes], int] = {}
    names: list[str] = []
    tag_sets: list[Any] = []
    series: list[int] = []
    add = series.append
    encode = dumps
    for name, tags in zip(batch.column(NAME), batch.column(TAGS), strict=True):
        seen = by_object.get(name)
        if seen is None:
            seen = by_object[name] = {}
        i = seen.get(id(tags))
        if i is None:
            key = (name, encode(tags))
            i = by_json.get(key)
            if i is None:
                names.append(name)
                tag_sets.append(tags)
                i = by_json[key] = len(names)
            seen[id(tags)] = i
        add(i)
    return encode(
        {
            "p_ids": ids,
            "p_series": series,
            "p_values": batch.column(VALUE),
            "p_timestamps_us": epoch_us_column(batch.column(TIME), _epoch_us),
            "p_series_names": names,
            "p_series_tags": tag_sets,
        }
    )


#: The function's argument names, in its order: PostgREST's ``columns`` (it then
#: skips parsing the body to find them).
INGEST_METRICS_COLUMNS = "p_ids,p_series,p_values,p_timestamps_us,p_series_names,p_series_tags"

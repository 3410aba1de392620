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

from ._ids import uuid7_many

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
        return int(when * 1_000_000)
    if isinstance(when, str):
        return (datetime.fromisoformat(when) - _UNIX_EPOCH) // _US
    raise TypeError(f"metric timestamp must be epoch seconds or ISO text, got {type(when)!r}")


def ingest_metrics_body(rows: list[dict[str, Any]]) -> bytes:
    """The JSON arguments of ``monitoring.ingest_metrics`` for pipeline_metrics rows.

    Per row: id, series index, value, event time in epoch microseconds; per
    distinct series (metric name + tags, keyed by the tags' exact JSON) its
    name and tags once. Rows without an ``id`` get one here, in place, so a
    retried or split batch sends the very same ids and ON CONFLICT (id) DO
    NOTHING dedups it.
    """
    missing = [row for row in rows if "id" not in row]
    if missing:
        for row, new_id in zip(missing, uuid7_many(len(missing)), strict=True):
            row["id"] = new_id
    # Series by name, then by the tags' exact JSON (True, 1 and 1.0 are three
    # different tags); nested dicts, so no key object is built per row.
    index: dict[str, dict[bytes, int]] = {}
    names: list[str] = []
    tag_sets: list[Any] = []
    series: list[int] = []
    add = series.append
    encode = dumps
    for row in rows:
        name, tags = row["metric_name"], row["tags"]
        by_tags = index.get(name)
        if by_tags is None:
            by_tags = index[name] = {}
        key = encode(tags)
        i = by_tags.get(key)
        if i is None:
            names.append(name)
            tag_sets.append(tags)
            i = by_tags[key] = len(names)
        add(i)
    return encode(
        {
            "p_ids": [row["id"] for row in rows],
            "p_series": series,
            "p_values": [row["metric_value"] for row in rows],
            "p_timestamps_us": [
                int(t * 1_000_000) if type(t) is float else _epoch_us(t)
                for t in [row["timestamp"] for row in rows]
            ],
            "p_series_names": names,
            "p_series_tags": tag_sets,
        }
    )


#: The function's argument names, in its order: PostgREST's ``columns`` (it then
#: skips parsing the body to find them).
INGEST_METRICS_COLUMNS = "p_ids,p_series,p_values,p_timestamps_us,p_series_names,p_series_tags"

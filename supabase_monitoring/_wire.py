"""Request bodies, encoded once, as bytes.

The background writer's cost per row is mostly encoding (see
docs/performance-ingest.md): the stdlib's ``json.dumps`` of a 5,000-row batch
costs several microseconds per row, more than the ``record_*`` call that made
the row. So bodies are encoded here, once, with orjson when it is installed
(the ``fast`` extra) and the stdlib otherwise, and handed to the HTTP client
as bytes; no layer below encodes them again.

Metric batches go to ``monitoring.ingest_metrics`` as one array per column,
each distinct series (metric name + tags) once: no key repeated per row, no
tags object per row for Postgres to parse, no timestamp formatted and no id
spelled out (the function derives both; see its migration).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ._columns import NAME, TAGS, TIME, VALUE, MetricBatch
from ._ids import epoch_us

__all__ = ["ENCODER", "dumps", "ingest_metrics_body"]

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


def ingest_metrics_body(batch: MetricBatch) -> tuple[bytes, str]:
    """The JSON arguments of ``monitoring.ingest_metrics`` for a batch, and their names.

    Per row: a series index, the value and the event time as the clock gave
    it (epoch seconds; rows with a caller's datetime as exact microseconds);
    per distinct series (metric name + tags) its name and tags once; the ids
    as one block (prefix, start) or, when rows came with ids, one per row.
    Ids are given here, in place, before the first send, so a retried or
    split batch sends the very same ones and ON CONFLICT (id, "timestamp") DO
    NOTHING dedups it. The names go to PostgREST as ``columns`` (it then
    skips parsing the body to find them, and picks the function by them).

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
    times = batch.column(TIME)
    doc: dict[str, Any] = {
        "p_series": series,
        "p_values": batch.column(VALUE),
        "p_times_s": times,
        "p_series_names": names,
        "p_series_tags": tag_sets,
    }
    if not set(map(type, times)) <= {float}:  # a caller's datetime: exact microseconds
        doc["p_times_us"] = [None if type(t) is float else _epoch_us(t) for t in times]
        doc["p_times_s"] = [t if type(t) is float else None for t in times]
    if isinstance(ids, tuple):
        doc["p_id_prefix"], doc["p_id_start"] = ids
    else:
        doc["p_ids"] = ids
    return encode(doc), ",".join(doc)

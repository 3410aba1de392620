"""Time-ordered UUIDv7 ids (RFC 9562), generated client-side.

Rows carry their id from the moment they are recorded, so a retried insert
(``ON CONFLICT (id) DO NOTHING``) can never duplicate them, and ids sort by
creation time, which keeps primary-key index inserts local. The stdlib has
no uuid7 before Python 3.14.
"""

from __future__ import annotations

import math
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["finalize", "uuid7", "uuid7_many"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF  # 12-bit rand_a field used as a per-millisecond counter


def uuid7() -> str:
    """A new UUIDv7 as a canonical string, monotonic within this process.

    Uses RFC 9562 method 1: the 12-bit ``rand_a`` field is a counter seeded
    randomly each millisecond, so ids made in the same millisecond still
    sort in creation order; 62 bits stay random. ``random`` (not ``secrets``)
    is enough: ids must be unique, not unguessable, and the module is
    reseeded after ``fork``.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = random.getrandbits(11)  # leave headroom for increments
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:
                # Counter exhausted: borrow the next millisecond.
                _last_ms += 1
                _counter = random.getrandbits(11)
        ms, counter = _last_ms, _counter
    rand = random.getrandbits(62)
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - fastest formatting here
        ms >> 16 & 0xFFFF_FFFF,
        ms & 0xFFFF,
        0x7000 | counter,
        0x8000 | rand >> 48,
        rand & 0xFFFF_FFFF_FFFF,
    )


def uuid7_many(n: int) -> list[str]:
    """``n`` new UUIDv7s in creation order: one lock and one clock read for the lot.

    The background writer ids a whole batch at once; per id this costs a
    fraction of :func:`uuid7`.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = random.getrandbits(11)
        else:
            _counter += 1
        ms, counter = _last_ms, _counter
        # Reserve the ids: advance the shared state past the whole batch.
        last = counter + n - 1
        _last_ms = ms + last // (_COUNTER_MAX + 1)
        _counter = last % (_COUNTER_MAX + 1)
    out = []
    getrandbits = random.getrandbits
    for i in range(counter, counter + n):
        t = ms + i // (_COUNTER_MAX + 1)
        rand = getrandbits(62)
        out.append(
            "%08x-%04x-%04x-%04x-%012x"  # noqa: UP031 - fastest formatting here
            % (
                t >> 16 & 0xFFFF_FFFF,
                t & 0xFFFF,
                0x7000 | (i % (_COUNTER_MAX + 1)),
                0x8000 | rand >> 48,
                rand & 0xFFFF_FFFF_FFFF,
            )
        )
    return out


def finalize(rows: list[dict[str, Any]]) -> None:
    """Give metric rows their ids and ISO timestamps, once, before they are first sent.

    Metric rows leave the hot path with the event time as an epoch float and
    no id: formatting both costs microseconds that the background writer can
    spend instead of the worker, for a whole batch at once. Idempotent and
    in place, so a retried batch re-sends the very same ids (ON CONFLICT DO
    NOTHING then dedups).
    """
    todo = [row for row in rows if "id" not in row]
    if not todo:
        return
    second, prefix = None, ""
    for row, new_id in zip(todo, uuid7_many(len(todo)), strict=True):
        row["id"] = new_id
        when = row.get("timestamp")
        if type(when) is float:
            whole = math.floor(when)
            if whole != second:  # rows of a batch mostly share their second
                second = whole
                prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            row["timestamp"] = f"{prefix}.{int((when - whole) * 1_000_000):06d}+00:00"

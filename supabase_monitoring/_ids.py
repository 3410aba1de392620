"""Time-ordered UUIDv7 ids (RFC 9562), generated client-side.

Rows carry their id from the moment they are recorded, so a retried insert
(``ON CONFLICT (id) DO NOTHING``) can never duplicate them, and ids sort by
creation time, which keeps primary-key index inserts local. The stdlib has
no uuid7 before Python 3.14.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "block_ids",
    "epoch_us",
    "finalize",
    "uuid7",
    "uuid7_block",
    "uuid7_many",
]

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF  # 12-bit rand_a field used as a per-millisecond counter


def _tick() -> tuple[int, int]:
    # The next (millisecond, 12-bit counter) of this process, under the lock.
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
        return _last_ms, _counter


def uuid7() -> str:
    """A new UUIDv7 as a canonical string, monotonic within this process.

    Uses RFC 9562 method 1: the 12-bit ``rand_a`` field is a counter seeded
    randomly each millisecond, so ids made in the same millisecond still
    sort in creation order; 62 bits stay random. ``random`` (not ``secrets``)
    is enough: ids must be unique, not unguessable, and the module is
    reseeded after ``fork``.
    """
    ms, counter = _tick()
    rand = random.getrandbits(62)
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - fastest formatting here
        ms >> 16 & 0xFFFF_FFFF,
        ms & 0xFFFF,
        0x7000 | counter,
        0x8000 | rand >> 48,
        rand & 0xFFFF_FFFF_FFFF,
    )


_LOW = 1 << 48  # the last group of an id: 48 bits


def uuid7_block(n: int) -> tuple[str, int]:
    """``n`` new UUIDv7s in creation order, for one batch of rows, as (prefix, start).

    Id ``k`` of the block is ``prefix`` followed by ``start + k`` as 12 hex
    digits (:func:`block_ids`). The batch takes one tick of the same clock and
    counter as :func:`uuid7` and, as RFC 9562's "monotonic random" method
    allows, one random 62-bit value that each id increments. The increments
    stay within the last 48 bits (the start is drawn so they cannot carry), so
    every id still has its 14 random high bits and a random 48-bit offset. The
    writer sends the pair, not the ids: ``monitoring.ingest_metrics`` spells
    them out (formatting an id costs the writer more than the rest of its row).
    """
    if n < 0 or n > _LOW // 2:
        raise ValueError(f"between 0 and {_LOW // 2} ids per block, got {n}")
    ms, counter = _tick()
    # "tttttttt-tttt-7ccc-vrrr-": the fixed part of every id of the batch.
    prefix = "%08x-%04x-%04x-%04x-" % (  # noqa: UP031
        ms >> 16 & 0xFFFF_FFFF,
        ms & 0xFFFF,
        0x7000 | counter,
        0x8000 | random.getrandbits(14),
    )
    return prefix, random.randrange(_LOW - n + 1)


def block_ids(prefix: str, start: int, n: int) -> list[str]:
    """The ids ``start`` .. ``start + n - 1`` of a block, as canonical strings."""
    fmt = prefix + "%012x"
    return [fmt % low for low in range(start, start + n)]


def uuid7_many(n: int) -> list[str]:
    """``n`` new UUIDv7s in creation order (one :func:`uuid7_block`, spelled out)."""
    if n <= 0:
        return []
    return block_ids(*uuid7_block(n), n)


_US_PER_S = 1_000_000


def epoch_us(when: float) -> int:
    """Whole microseconds since the Unix epoch of an epoch-seconds float, truncated.

    The one rule for a metric's event time on every wire path (columnar
    microseconds, ISO text): the time is half of the row's key (id,
    "timestamp"), so every path must name one instant for one row.
    """
    return int(when * _US_PER_S)


def finalize(rows: list[dict[str, Any]]) -> None:
    """Give metric rows their ids and ISO timestamps, once, before they are first sent.

    Metric rows leave the hot path with the event time as an epoch float and
    no id: formatting both costs microseconds that the background writer can
    spend instead of the worker, for a whole batch at once. Idempotent and
    in place, so a retried batch re-sends the very same ids (ON CONFLICT DO
    NOTHING then dedups).
    """
    todo = [row for row in rows if "id" not in row]
    for row, new_id in zip(todo, uuid7_many(len(todo)), strict=True):
        row["id"] = new_id
    second, prefix = None, ""
    for row in rows:  # rows that came with an id may still carry an epoch float
        when = row.get("timestamp")
        if type(when) is float:
            whole, micros = divmod(epoch_us(when), 1_000_000)
            if whole != second:  # rows of a batch mostly share their second
                second = whole
                prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            row["timestamp"] = f"{prefix}.{micros:06d}+00:00"

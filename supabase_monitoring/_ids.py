"""Time-ordered UUIDv7 ids (RFC 9562), generated client-side.

Rows carry their id from the moment they are recorded, so a retried insert
(``ON CONFLICT (id) DO NOTHING``) can never duplicate them, and ids sort by
creation time, which keeps primary-key index inserts local. The stdlib has
no uuid7 before Python 3.14.
"""

from __future__ import annotations

import os
import random
import threading
import time

__all__ = ["uuid7", "uuid7_many"]

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

    The background writer ids a whole batch at once, so this is on its per-row
    path: the random bits of the whole batch come from one ``os.urandom`` call
    turned into hex once, and each id is a few string slices of it (about a
    tenth of :func:`uuid7` per id).
    """
    global _last_ms, _counter
    if n <= 0:
        return []
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
    rand = os.urandom(8 * n).hex()
    variant = _VARIANT
    out = []
    append = out.append
    k = 0
    i = counter
    while i <= last:
        t = ms + i // (_COUNTER_MAX + 1)
        # One millisecond prefix "tttttttt-tttt-" per 4096 ids (usually one).
        prefix = "%08x-%04x-" % (t >> 16 & 0xFFFF_FFFF, t & 0xFFFF)  # noqa: UP031
        stop = min(last, (i | _COUNTER_MAX)) + 1
        for seq in _SEQ[i & _COUNTER_MAX : (stop - 1 & _COUNTER_MAX) + 1]:
            # version 7 + 12-bit counter, variant 10 + 62 random bits
            append(f"{prefix}{seq}-{variant[rand[k]]}{rand[k + 1 : k + 4]}-{rand[k + 4 : k + 16]}")
            k += 16
        i = stop
    return out


# "7xxx" for each counter value, and the variant nibble (10xx) for each random hex digit.
_SEQ = tuple("7%03x" % c for c in range(_COUNTER_MAX + 1))  # noqa: UP031
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}

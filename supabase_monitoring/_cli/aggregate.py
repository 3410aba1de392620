"""Run ``monitoring.aggregate_metrics`` now, or catch up a long back-log in chunks.

The function aggregates every complete period between its watermark and
``p_now``. One call over two weeks of raw data can outlast the API's statement
timeout, so a back-fill calls it with ``p_now`` stepping forward a chunk at a
time: each call is short, and each reports progress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from .._queries import AGGREGATE_FUNCTION, PERIODS, aggregate_params, parse_row_count
from .._tables import TableRef

WATERMARKS = TableRef("monitoring", "aggregation_watermarks")
RAW_RETENTION = timedelta(days=14)


class RpcTransport(Protocol):
    def rpc(
        self, fn: str, params: dict[str, Any] | None = None, *, schema: str = "public"
    ) -> Any: ...

    def select(
        self,
        table: TableRef,
        *,
        columns: str = "*",
        filters: Sequence[tuple[str, str, str]] = (),
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Step:
    period: str
    index: int
    total: int
    until: datetime
    rows: int


def aggregate_once(transport: RpcTransport, period: str, now: datetime | None = None) -> int:
    """One call of the RPC (the clients' ``aggregate_metrics``), with an optional ``p_now``."""
    params = aggregate_params(period)
    if now is not None:
        params["p_now"] = now.isoformat()
    return parse_row_count(transport.rpc(AGGREGATE_FUNCTION, params, schema="monitoring"))


def watermark(transport: RpcTransport, period: str) -> datetime | None:
    rows = transport.select(
        WATERMARKS, columns="aggregated_until", filters=[("period", "eq", period)]
    )
    if not rows:
        return None
    text = str(rows[0]["aggregated_until"]).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def backfill(
    transport: RpcTransport,
    period: str,
    *,
    chunk: timedelta,
    now: datetime | None = None,
    progress: Callable[[Step], None] = lambda _: None,
) -> int:
    """Aggregate from the watermark (or the raw-retention floor) to ``now`` in chunks."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if chunk <= timedelta(0):
        raise ValueError("chunk must be positive")
    now = now or datetime.now(UTC)
    start = max(watermark(transport, period) or now - RAW_RETENTION, now - RAW_RETENTION)
    stops = []
    cursor = start + chunk
    while cursor < now:
        stops.append(cursor)
        cursor += chunk
    stops.append(now)
    total = 0
    for index, until in enumerate(stops, 1):
        rows = aggregate_once(transport, period, until)
        total += rows
        progress(Step(period, index, len(stops), until, rows))
    return total

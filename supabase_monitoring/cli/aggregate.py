"""``aggregate``: run ``monitoring.aggregate_metrics`` now, or catch up a long back-log in chunks.

The function aggregates every complete period between its watermark and
``p_now``. One call over two weeks of raw data can outlast the API's statement
timeout, so a back-fill calls it with ``p_now`` stepping forward a chunk at a
time: each call is short, and each reports progress. Every call goes through
the client, so it is retried like the client's other idempotent requests.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from .._queries import PERIODS
from .._tables import TableRef
from ..errors import MonitoringError
from .config import CliError, Connection, positive_int

WATERMARKS = TableRef("monitoring", "aggregation_watermarks")
RAW_RETENTION = timedelta(days=14)
# SQLSTATE query_canceled: the API's statement_timeout (8 s on Supabase) ended the call.
STATEMENT_TIMEOUT = "57014"
PERIOD_HOURS = {"hourly": 1, "daily": 24, "weekly": 168}


def register(sub: Any) -> None:
    """Add the ``aggregate`` command to the parser's subcommands."""
    p = sub.add_parser("aggregate", help="run (or back-fill) metric aggregation now")
    p.add_argument("--period", choices=[*PERIODS, "all"], default="all")
    p.add_argument(
        "--backfill",
        action="store_true",
        help="catch up from the last aggregated period in chunks, with progress",
    )
    p.add_argument(
        "--chunk-hours", type=positive_int, default=24, help="back-fill step (default 24 h)"
    )
    p.set_defaults(run=run)


@dataclass(frozen=True)
class Step:
    """One back-fill call: which of how many, up to when, rows written."""

    period: str
    index: int
    total: int
    until: datetime
    rows: int


def watermark(conn: Connection, period: str) -> datetime | None:
    """Where the last aggregation of ``period`` stopped (None: never ran)."""
    rows = conn.retried(
        lambda t: t.select(
            WATERMARKS, columns="aggregated_until", filters=[("period", "eq", period)]
        )
    )
    if not rows:
        return None
    text = str(rows[0]["aggregated_until"]).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def backfill(
    conn: Connection,
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
    start = max(watermark(conn, period) or now - RAW_RETENTION, now - RAW_RETENTION)
    stops = []
    cursor = start + chunk
    while cursor < now:
        stops.append(cursor)
        cursor += chunk
    stops.append(now)
    total = 0
    for index, until in enumerate(stops, 1):
        rows = conn.client.aggregate_metrics(period, now=until)
        total += rows
        progress(Step(period, index, len(stops), until, rows))
    return total


def _progress(step: Step) -> None:
    sys.stderr.write(
        f"  {step.period:<7} [{step.index}/{step.total}] "
        f"up to {step.until:%Y-%m-%d %H:%M} UTC: {step.rows} rollup rows\n"
    )
    sys.stderr.flush()


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """Aggregate each asked period; one summary line per period on ``out``."""
    periods = PERIODS if args.period == "all" else (args.period,)
    for period in periods:
        try:
            if args.backfill:
                chunk = timedelta(hours=args.chunk_hours)
                rows = backfill(conn, period, chunk=chunk, progress=_progress)
            else:
                rows = conn.client.aggregate_metrics(period)
        except MonitoringError as exc:
            if exc.code != STATEMENT_TIMEOUT:
                raise
            raise CliError(_timeout_advice(period, args)) from exc
        out.write(f"{period}: {rows} rollup rows written\n")
    return 0


def _timeout_advice(period: str, args: argparse.Namespace) -> str:
    # Nothing was written (one call is one transaction): say how to get through the back-log.
    said = f"aggregating {period} outlasted the API's statement timeout (nothing was written)"
    if not args.backfill:
        return f"{said}: catch up in chunks with `aggregate --period {period} --backfill`"
    # A call aggregates whole periods: a step shorter than the period cannot make it smaller.
    if args.chunk_hours > PERIOD_HOURS[period]:
        step = max(PERIOD_HOURS[period], args.chunk_hours // 4)
        return f"{said}: try a smaller step, `--chunk-hours {step}`"
    return (
        f"{said}, one {period} period per call: run "
        f"`select monitoring.aggregate_metrics('{period}')` over a database connection "
        "(psql, or let the pg_cron job catch up), which the API's timeout does not bound"
    )

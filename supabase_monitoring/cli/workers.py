"""``workers list``: every client instance from its heartbeats, and its state."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from .._queries import WORKER_STATES
from ..report.text import table
from .config import Connection, positive_int


def register(sub: Any) -> None:
    """Add the ``workers`` command to the parser's subcommands."""
    p = sub.add_parser("workers", help="workers seen through their heartbeats")
    wsub = p.add_subparsers(dest="workers_command", required=True, metavar="ACTION")
    lp = wsub.add_parser(
        "list",
        help="client instances by worker, most recently seen first (exit 1 if any is silent)",
    )
    lp.add_argument("--status", choices=WORKER_STATES, help="only instances in this state")
    lp.add_argument("--limit", type=positive_int, default=200)
    lp.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """List the instances; exit 1 when one of those listed is silent."""
    workers = conn.client.list_workers(status=args.status, limit=args.limit)
    silent = any(w.status == "silent" for w in workers)
    if args.json:
        out.write(json.dumps([w.model_dump(mode="json") for w in workers], indent=2) + "\n")
        return 1 if silent else 0
    if not workers:
        out.write("No worker has reported a heartbeat.\n")
        return 0
    rows = [
        [
            w.worker_name,
            w.status,
            w.host,
            "" if w.pid is None else str(w.pid),
            w.sdk_version,
            f"{w.started_at:%Y-%m-%d %H:%M}",
            f"{w.last_seen_at:%Y-%m-%d %H:%M:%S}",
            _age(w.seconds_since_seen),
        ]
        for w in workers
    ]
    headers = ["worker", "status", "host", "pid", "sdk", "started (UTC)", "last seen (UTC)", "ago"]
    out.write(table(headers, rows, 5) + "\n")
    return 1 if silent else 0

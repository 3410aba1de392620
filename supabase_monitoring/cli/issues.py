"""``issues list`` / ``issues resolve``: open worker issues, and closing one."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ..report.text import table
from .config import CliError, Connection, positive_int


def register(sub: Any) -> None:
    """Add the ``issues`` command and its two actions to the parser's subcommands."""
    p = sub.add_parser("issues", help="list or resolve worker issues")
    isub = p.add_subparsers(dest="issues_command", required=True, metavar="ACTION")
    lp = isub.add_parser("list", help="open issues, newest first")
    lp.add_argument("--severity", choices=["info", "warning", "error", "critical"])
    lp.add_argument("--worker", help="only this worker")
    lp.add_argument("--type", dest="issue_type", help="only this issue type")
    lp.add_argument("--limit", type=positive_int, default=50)
    lp.add_argument("--json", action="store_true")
    rp = isub.add_parser("resolve", help="mark an open issue resolved")
    rp.add_argument("issue_id", metavar="ID")
    rp.add_argument("--note", help="resolution details")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """Resolve one issue (exit 1 if it was not open), or list the open ones."""
    if args.issues_command == "resolve":
        closed = conn.client.resolve_worker_issue(args.issue_id, args.note)
        if not closed:
            raise CliError(f"no open issue with id {args.issue_id}")
        out.write(f"resolved {args.issue_id}\n")
        return 0
    issues = conn.client.list_open_worker_issues(
        worker_name=args.worker,
        severity=args.severity,
        issue_type=args.issue_type,
        limit=args.limit,
    )
    if args.json:
        out.write(json.dumps([i.model_dump(mode="json") for i in issues], indent=2) + "\n")
        return 0
    if not issues:
        out.write("No open issues.\n")
        return 0
    rows = [
        [
            i.id,
            i.severity.value,
            i.worker_name,
            i.issue_type,
            f"{i.created_at:%Y-%m-%d %H:%M}",
            i.message or "",
        ]
        for i in issues
    ]
    out.write(
        table(["id", "severity", "worker", "type", "opened (UTC)", "message"], rows, 6) + "\n"
    )
    return 0

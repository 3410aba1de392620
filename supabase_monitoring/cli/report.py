"""``report``: queue and API tables and open issues, as text, JSON or CSV, plus an HTML file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from ..errors import InvalidInputError
from ..report import render_html, render_text, report_to_csv, report_to_dict
from ..report.collect import collect_report
from .config import CliError, Connection, positive_int


def register(sub: Any) -> None:
    """Add the ``report`` command to the parser's subcommands."""
    p = sub.add_parser("report", help="queue and API tables, open issues; JSON, CSV or HTML")
    p.add_argument(
        "--hours", type=positive_int, default=24, help="hours to cover (1-168, default 24)"
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of tables")
    fmt.add_argument("--csv", action="store_true", help="print one CSV (column 'section')")
    p.add_argument(
        "--html", metavar="FILE", type=Path, help="also write a self-contained HTML report"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """Collect once, then write each asked form."""
    try:
        data = collect_report(conn.client, args.hours)
    except InvalidInputError as exc:
        raise CliError(str(exc), 2) from None
    if args.html is not None:
        try:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(render_html(data), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {args.html}: {exc.strerror or exc}") from None
        sys.stderr.write(f"HTML report written to {args.html}\n")
    if args.json:
        out.write(json.dumps(report_to_dict(data), indent=2) + "\n")
    elif args.csv:
        out.write(report_to_csv(data))
    else:
        out.write(render_text(data))
    return 0

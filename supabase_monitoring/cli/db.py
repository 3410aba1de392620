"""``db install [PROJECT_DIR] [--check]``: this release's migrations into a Supabase project.

Local files only (no connection): the work is in :mod:`supabase_monitoring._schema`, which
stays free of CLI dependencies so the light core can install a schema too.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from .._schema import db_install


def register(sub: Any) -> None:
    """Add ``db install`` to the parser's subcommands."""
    p = sub.add_parser("db", help="the monitoring schema in your Supabase project")
    dp = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    ip = dp.add_parser("install", help="add this release's migrations to PROJECT_DIR/supabase/")
    ip.add_argument("project_dir", nargs="?", type=Path, default=Path(), metavar="PROJECT_DIR")
    ip.add_argument("--check", action="store_true", help="exit 1 unless all are installed")
    p.set_defaults(run=run, needs_api=False)


def run(args: argparse.Namespace, conn: object, out: TextIO) -> int:
    """Plan and write the copies (or only check them); 0 = up to date, 1 = refused/missing."""
    return db_install(args.project_dir, check=args.check)

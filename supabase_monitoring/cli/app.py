"""``supabase-monitoring``: the parser, logging, and how failures become exit codes.

Configuration comes from the environment (SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY;
the alert command adds its webhook variables), so no secret has to appear on a
command line. Expected failures print one line and exit non-zero; ``health``
exits 0/1/2/3 for healthy/warning/critical/unknown like a Nagios check.
A command is a module with ``register(subparsers)`` (which sets ``run``) and
``run(args, conn, out) -> int``; adding one is one line in ``COMMANDS``. A
command that needs no API connection (it talks to Postgres directly, say)
sets ``needs_api=False`` in its parser defaults and gets ``conn=None``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from ..errors import ConfigurationError, InvalidInputError, MonitoringError
from ..models import HealthStatus
from . import aggregate, alert, db, health, issues, report
from .config import PROG, CliError, Connection, connect, positive_float
from .health import EXIT_CODES

#: Every command, in the order ``--help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (health, report, issues, aggregate, alert, db)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options, then one subcommand per module in COMMANDS."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operate the Supabase pipeline monitoring: health, reports, issues, "
        "aggregation and alerts. Reads SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests and retries")
    parser.add_argument(
        "--timeout", type=positive_float, default=10.0, help="seconds per request (default 10)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("supabase_monitoring")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.propagate = False
    # Alert notifications on stderr are output, not noise: always shown.
    logging.getLogger("supabase_monitoring.alerts").setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (the console script's entry point)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with usage on bad arguments
    _setup_logging(args.verbose)
    # health is a check: any failure to run it means UNKNOWN (3), as Nagios expects.
    fail_code = EXIT_CODES[HealthStatus.UNKNOWN] if args.command == "health" else 1
    if not getattr(args, "needs_api", True):
        return _run(args, None, fail_code)
    try:
        conn = connect(args.timeout)
    except CliError as exc:
        return _fail(str(exc), fail_code if exc.exit_code == 1 else exc.exit_code)
    except MonitoringError as exc:
        return _fail(f"cannot set up the client: {exc}", fail_code)
    try:
        return _run(args, conn, fail_code)
    finally:
        conn.close()


def _run(args: argparse.Namespace, conn: Connection | None, fail_code: int) -> int:
    # The command, with every expected failure turned into one line and an exit code.
    try:
        code: int = args.run(args, conn, sys.stdout)
        return code
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except InvalidInputError as exc:
        return _fail(str(exc), 2)
    except ConfigurationError as exc:
        return _fail(str(exc), fail_code)
    except MonitoringError as exc:
        return _fail(f"request failed: {exc}", fail_code)
    except KeyboardInterrupt:
        return 130


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return code

"""``supabase-monitoring``: the operators' command line.

``main`` (parser, logging, exit codes) is in :mod:`.app`; each command is one
module with ``register(subparsers)`` and ``run(args, conn, out)``; the
connection every command shares (one client, with its retries) is in
:mod:`.config`.
"""

from .app import build_parser, main

__all__ = ["build_parser", "main"]

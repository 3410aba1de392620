"""``exporter --listen HOST:PORT``: serve the figures to Prometheus until SIGTERM/SIGINT.

It opens its own connection (``needs_api=False``): reads retry with
:data:`SCRAPE_RETRY`, not the SDK's default policy.
"""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import timedelta
from typing import Any, TextIO

from .._retry import RetryPolicy
from ..exporter.snapshot import take_snapshot
from .config import CliError, Connection, connect, on_termination, positive_int

#: A scrape must finish within Prometheus's scrape_timeout (10 s by default) even when
#: the API is down: one quick retry per read, not the SDK's default backoff.
SCRAPE_RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.1, max_backoff=0.5, max_elapsed=2.0)


def listen_address(text: str) -> tuple[str, int]:
    """An argparse type: ``HOST:PORT`` (``[::1]:9464`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. 127.0.0.1:9464: {text!r}")
    return host.strip("[]"), int(port)


def register(sub: Any) -> None:
    """Add the ``exporter`` command to the parser's subcommands."""
    p = sub.add_parser(
        "exporter", help="serve health, queue and API figures at /metrics for Prometheus"
    )
    p.add_argument(
        "--listen",
        type=listen_address,
        default=("127.0.0.1", 9464),
        metavar="HOST:PORT",
        help="address to serve /metrics on (default 127.0.0.1:9464)",
    )
    p.add_argument(
        "--cache-seconds",
        type=float,
        default=15.0,
        help="serve cached figures for this long between database reads (default 15)",
    )
    p.add_argument(
        "--window-minutes",
        type=positive_int,
        default=60,
        help="window of the per-queue and per-API figures (default 60)",
    )
    p.set_defaults(run=run, needs_api=False)


def _announce(url: str) -> None:
    sys.stderr.write(f"serving {url}\n")
    sys.stderr.flush()


def run(args: argparse.Namespace, conn: Connection | None, out: TextIO) -> int:
    """Serve until SIGTERM/SIGINT; reads go through a connection of its own."""
    try:
        from ..exporter.server import CachedCollector, serve
    except ImportError:
        raise CliError(
            "the exporter needs prometheus_client: pip install 'supabase-monitoring[exporter]'"
        ) from None
    if args.cache_seconds < 0:
        raise CliError("--cache-seconds must be >= 0", 2)
    window = timedelta(minutes=args.window_minutes)
    stop = threading.Event()
    on_termination(stop.set)
    host, port = args.listen
    reads = connect(args.timeout, retry=SCRAPE_RETRY)
    try:
        collector = CachedCollector(
            lambda: take_snapshot(reads.client, window=window),
            ttl=args.cache_seconds,
        )
        serve(collector, host, port, stop, on_ready=_announce)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        reads.close()
    return 0

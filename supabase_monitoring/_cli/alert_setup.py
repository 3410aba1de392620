"""``alert --config FILE`` / ``--check-config``: the engine from a file or from the flags.

Both ways get the database silences and flapping suppression; the file can
turn either off. ``--check-config`` validates without connecting anywhere.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from ..alerting.alertmanager import AlertmanagerNotifier
from ..alerting.config import AlertConfig, ConfigError, load_config
from ..alerting.delivery import RetryPolicy as DeliveryRetry
from ..alerting.engine import AlertEngine
from ..alerting.flapping import FlappingGate
from ..alerting.holds import Gate
from ..alerting.notifiers import Notifier
from ..alerting.pagerduty import ROUTING_KEY_ENV, PagerDutyNotifier
from ..alerting.rules import Rule
from ..alerting.silences import SilenceGate, SilenceStore
from ..alerting.store import PostgrestAlertStore
from .connect import Connection
from .errors import CliError

ALERTMANAGER_ENV = "SUPABASE_MONITORING_ALERTMANAGER_URL"
logger = logging.getLogger("supabase_monitoring")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="rules, notifiers, routes and cooldowns from a TOML file "
        "(see examples/alerts.toml); replaces the rule and notifier flags",
    )
    parser.add_argument(
        "--check-config", action="store_true", help="validate --config and exit (0: valid)"
    )
    parser.add_argument(
        "--alertmanager",
        metavar="URL",
        help=f"also send to this Alertmanager, e.g. http://127.0.0.1:9093 (or ${ALERTMANAGER_ENV})",
    )


def check_config(args: argparse.Namespace, out: TextIO) -> int:
    """``--check-config``: 0 and a summary when valid, 2 and every problem when not."""
    if args.config is None:
        raise CliError("--check-config needs --config FILE", 2)
    config = _load(args.config)
    out.write(
        f"{args.config}: OK: {len(config.rules)} rule(s) "
        f"({', '.join(r.name for r in config.rules)}), "
        f"{len(config.notifiers)} notifier(s) ({', '.join(config.notifiers)}), "
        f"{len(config.routes)} route(s)\n"
    )
    config.close()
    return 0


def _load(path: Path) -> AlertConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None


@dataclass
class AlertSetup:
    engine: AlertEngine
    api_window: timedelta


def build_engine(
    args: argparse.Namespace,
    conn: Connection,
    flag_rules: Sequence[Rule],
    flag_notifiers: Sequence[Notifier],
) -> AlertSetup:
    store = PostgrestAlertStore(conn.transport)
    silences = SilenceGate(SilenceStore(conn.transport))
    retry = DeliveryRetry(attempts=3, base_delay=1.0)
    if args.config is not None:
        config = _load(args.config)
        gates: list[Gate] = [silences] if config.silences else []
        if config.flapping is not None:
            gates.append(config.flapping)
        engine = AlertEngine(
            config.rules,
            list(config.notifiers.values()),
            store,
            cooldown=config.cooldown,
            cooldowns=config.cooldowns,
            retry=retry,
            gates=gates,
            router=config.route,
        )
        return AlertSetup(engine, config.api_window)
    notifiers = [*flag_notifiers, *_stateful_notifiers(args)]
    engine = AlertEngine(
        flag_rules,
        notifiers,
        store,
        cooldown=timedelta(minutes=args.cooldown_minutes),
        retry=retry,
        gates=[silences, FlappingGate()],
    )
    return AlertSetup(engine, timedelta(minutes=args.window_minutes))


def _stateful_notifiers(args: argparse.Namespace) -> list[Notifier]:
    """Alertmanager from --alertmanager / its variable, PagerDuty when its key is set."""
    notifiers: list[Notifier] = []
    url = args.alertmanager or os.environ.get(ALERTMANAGER_ENV, "").strip()
    routing_key = os.environ.get(ROUTING_KEY_ENV, "").strip()
    try:
        if url:
            # Alertmanager must hear again before the lease ends: a few runs' worth.
            lease = timedelta(seconds=max(300.0, 3 * (args.watch or 0)))
            notifiers.append(AlertmanagerNotifier(url, lease=lease))
        if routing_key:
            notifiers.append(PagerDutyNotifier(routing_key))
    except ValueError as exc:
        raise CliError(f"bad notifier setting: {exc}", 2) from None
    return notifiers

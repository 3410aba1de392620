"""``alert silence add|list|expire``: silences and maintenance windows in the database
(an action of :mod:`.alert`)."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from typing import Any, TextIO

from ..alerting.silences import Recurrence, Silence, SilenceStore, new_silence
from ..report.text import table
from .config import CliError, Connection, duration, moment
from .text import cell


def label(text: str) -> tuple[str, str]:
    """An argparse type: ``NAME=VALUE``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE: {text!r}")
    return name.strip(), value


def register(actions: Any) -> None:
    """Add the ``silence`` action to the alert command's actions."""
    p = actions.add_parser("silence", help="add, list or expire silences")
    sub = p.add_subparsers(dest="silence_command", required=True, metavar="ACTION")
    add = sub.add_parser(
        "add",
        help="silence matching alerts for a while, or in a recurring window",
        description="At least one matcher (--rule, --key, --label). One-off: --duration or "
        "--until. Recurring: --every 'sun 02:00-04:00' [--tz Europe/Berlin] [--until].",
    )
    add.add_argument("--rule", help="rule name, e.g. api_error_rate")
    add.add_argument("--key", help="alert key, or a glob: 'api_error_rate:*'")
    add.add_argument(
        "--label",
        type=label,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="alert label to match (repeatable), e.g. api=stripe",
    )
    add.add_argument("--comment", required=True, help="why (shown in list and history)")
    add.add_argument("--created-by", default=None, help="author (default: the login name)")
    add.add_argument("--starts", type=moment, help="start (default: now)")
    end = add.add_mutually_exclusive_group()
    end.add_argument("--duration", type=duration, help="one-off, e.g. 2h")
    end.add_argument("--until", type=moment, help="end time (for --every: when it stops)")
    add.add_argument("--every", metavar="WINDOW", help="recurring window, e.g. 'sun 02:00-04:00'")
    add.add_argument("--tz", default="UTC", help="time zone of --every (default UTC)")
    ls = sub.add_parser("list", help="silences in force or to come (not expired, not over)")
    ls.add_argument("--all", action="store_true", help="include expired ones")
    ls.add_argument("--json", action="store_true")
    ex = sub.add_parser("expire", help="end a silence now (it stays listed with --all)")
    ex.add_argument("silence_id", metavar="ID")


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """Add, expire (exit 1 if there was no unexpired silence with the id) or list silences."""
    store = SilenceStore(conn.transport, retry=conn.retry)
    if args.silence_command == "add":
        silence = _new(args)
        store.add(silence)
        out.write(f"added silence {silence.id}\n")
        return 0
    if args.silence_command == "expire":
        try:
            expired = store.expire(args.silence_id)
        except ValueError as exc:
            raise CliError(str(exc), 2) from None
        if not expired:
            raise CliError(f"no unexpired silence with id {args.silence_id}")
        out.write(f"expired {args.silence_id}\n")
        return 0
    silences = store.load(include_expired=args.all)
    now = datetime.now(UTC)
    if args.json:
        out.write(json.dumps([_as_dict(s, now) for s in silences], indent=2) + "\n")
        return 0
    if not silences:
        out.write("No silences.\n")
        return 0
    rows = [
        [
            s.id,
            "active" if s.active_since(now) else ("expired" if s.expired_at else "inactive"),
            _matchers(s),
            _when(s),
            cell(s.created_by),
            cell(s.comment),
        ]
        for s in silences
    ]
    out.write(table(["id", "state", "matches", "when", "by", "comment"], rows, 6) + "\n")
    return 0


def _new(args: argparse.Namespace) -> Silence:
    starts = args.starts or datetime.now(UTC)
    ends = args.until
    if args.duration is not None:
        ends = starts + args.duration
    try:
        recurrence = Recurrence.parse(args.every, args.tz) if args.every else None
        return new_silence(
            created_by=args.created_by or getpass.getuser(),
            comment=args.comment,
            rule_name=args.rule,
            alert_key=args.key,
            labels=dict(args.label),
            starts_at=starts,
            ends_at=ends,
            recurrence=recurrence,
        )
    except ValueError as exc:
        raise CliError(str(exc), 2) from None


def _matchers(s: Silence) -> str:
    parts = []
    if s.rule_name:
        parts.append(f"rule={s.rule_name}")
    if s.alert_key:
        parts.append(f"key={s.alert_key}")
    parts.extend(f"{k}={v}" for k, v in sorted(s.labels.items()))
    return cell(" ".join(parts))


def _when(s: Silence) -> str:
    end = f"{s.ends_at:%Y-%m-%d %H:%M}" if s.ends_at else "open-ended"
    if s.recurrence:
        return f"{s.recurrence.describe()} (from {s.starts_at:%Y-%m-%d}, until {end})"
    return f"{s.starts_at:%Y-%m-%d %H:%M} - {end} UTC"


def _as_dict(s: Silence, now: datetime) -> dict[str, Any]:
    return {
        **s.to_row(),
        "active": s.active_since(now) is not None,
        "expired_at": s.expired_at.isoformat() if s.expired_at else None,
        "created_at": s.created_at.isoformat() if s.created_at else None,
    }

"""``alert history [--since]``: what the alerter sent, held (silenced, flapping) or failed
(an action of :mod:`.alert`)."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from .._tables import MONITORING_EVENTS
from ..alerting.flapping import ALERT_FLAPPING
from ..alerting.silences import ALERT_SILENCED
from ..alerting.state import ALERT_DELIVERY_FAILED, ALERT_FIRED, ALERT_RESOLVED
from ..report.text import table
from .config import Connection, positive_int, since
from .text import cell

HISTORY_TYPES = (ALERT_FIRED, ALERT_RESOLVED, ALERT_DELIVERY_FAILED, ALERT_SILENCED, ALERT_FLAPPING)


def register(actions: Any) -> None:
    """Add the ``history`` action to the alert command's actions."""
    p = actions.add_parser("history", help="notifications sent, silenced, held or failed")
    p.add_argument("--since", type=since, default="24h", help="2h, 7d or an ISO time (default 24h)")
    p.add_argument("--key", help="only this alert key")
    p.add_argument("--limit", type=positive_int, default=200)
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, conn: Connection, out: TextIO) -> int:
    """The alert events since ``--since``, newest first."""
    filters = [
        ("event_type", "in", f"({','.join(HISTORY_TYPES)})"),
        ("created_at", "gte", args.since.isoformat()),
    ]
    if args.key:
        filters.append(("details->>alert_key", "eq", args.key))
    rows = conn.retried(
        lambda t: t.select(
            MONITORING_EVENTS,
            columns="id,event_type,details,created_at",
            filters=filters,
            order=[("created_at", True)],
            limit=args.limit,
        )
    )
    entries = [_entry(r) for r in rows]
    if args.json:
        out.write(json.dumps(entries, indent=2) + "\n")
        return 0
    if not entries:
        out.write(f"No alert activity since {args.since:%Y-%m-%d %H:%M} UTC.\n")
        return 0
    lines = [
        [
            cell(e["at"][:19].replace("T", " ")),
            e["outcome"],
            cell(e["severity"] or ""),
            cell(e["key"] or "", 60),
            cell(e["note"] or "", 100),
        ]
        for e in entries
    ]
    out.write(table(["at (UTC)", "outcome", "severity", "alert", "summary / reason"], lines, 5))
    out.write("\n")
    return 0


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    """One history line from one event row (rows may be malformed: nothing here raises)."""
    raw = row.get("details")
    d: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kind = row.get("event_type")
    transition = str(d.get("transition") or "")
    note: Any
    if kind == ALERT_DELIVERY_FAILED:
        outcome = "failed"
        note = f"{d.get('notifier')}: {d.get('error')} after {d.get('attempts')} attempt(s)"
    elif kind == ALERT_SILENCED:
        outcome = f"silenced {transition}"
        note = d.get("reason")
    elif kind == ALERT_FLAPPING:
        outcome = f"flapping {transition}"
        note = d.get("reason")
    else:
        outcome = f"sent {transition}"
        note = d.get("summary")
    return {
        "at": str(row.get("created_at") or ""),
        "event_type": kind,
        "outcome": cell(outcome, 40),
        "key": d.get("alert_key"),
        "severity": d.get("severity"),
        "note": None if note is None else str(note),
        "id": row.get("id"),
    }

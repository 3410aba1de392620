"""Durations and times on the command line (argparse types)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1.5d``."""
    m = _DURATION.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 30m, 2h or 1d: {text!r}")
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def moment(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time like 2026-12-06T02:00Z: {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def since(text: str) -> datetime:
    """A duration ago (``2h``, ``7d``) or an ISO time."""
    if _DURATION.match(text.strip().lower()):
        return datetime.now(UTC) - duration(text)
    try:
        return moment(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected e.g. 2h, 30m, 7d or an ISO time: {text!r}"
        ) from None

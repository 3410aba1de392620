"""Silences and maintenance windows from ``monitoring.alert_silences``.

A silence holds back (see :mod:`.holds`) every notification of the alerts it
matches while it is active; the hold is recorded as an ``alert_silenced``
event, and the transition goes out when the silence is over if the alert
still holds. Rows are written by operators and maybe by other tools, so a row
that cannot be understood is skipped with a warning (it silences nothing)
rather than stopping the alerter.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._retry import RetryPolicy, call_with_retry
from .._tables import TableRef
from .._transport import Filter
from .holds import Hold, alert_labels
from .model import Alert
from .state import NAMESPACE, AlertStore, StateEvent, _ts

if TYPE_CHECKING:
    from .._transport import SyncTransport

logger = logging.getLogger("supabase_monitoring.alerting")

ALERT_SILENCES = TableRef("monitoring", "alert_silences")
ALERT_SILENCED = "alert_silenced"

WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_WINDOW = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class Recurrence:
    """A weekly window: starts on ``days`` (ISO 1-7) at ``start``, ends at ``end`` (next
    day when ``end <= start``), wall-clock time in ``time_zone``."""

    days: frozenset[int]
    start: time
    end: time
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(1, 8)):
            raise ValueError("weekdays must be 1 (Monday) .. 7 (Sunday)")
        if self.start == self.end:
            raise ValueError("a window must not start where it ends")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None

    @classmethod
    def parse(cls, text: str, time_zone: str = "UTC") -> Recurrence:
        """``"sun 02:00-04:00"``, ``"mon-fri 22:00-06:00"``, ``"sat,sun 01:00-03:00"``."""
        m = _WINDOW.match(text.lower())
        if not m:
            raise ValueError(f"expected e.g. 'sun 02:00-04:00', got {text!r}")
        days: set[int] = set()
        for part in m.group(1).split(","):
            first, _, last = part.partition("-")
            if first not in WEEKDAYS or (last and last not in WEEKDAYS):
                raise ValueError(f"unknown weekday in {part!r} (use mon..sun)")
            a, b = WEEKDAYS[first], WEEKDAYS[last or first]
            days.update(range(a, b + 1) if a <= b else [*range(a, 8), *range(1, b + 1)])
        return cls(frozenset(days), _hhmm(m.group(2)), _hhmm(m.group(3)), time_zone)

    def occurrence(self, now: datetime) -> datetime | None:
        """Start of the window that contains ``now``, if any."""
        tz = ZoneInfo(self.time_zone)
        local = now.astimezone(tz).date()
        for day in (local, local - timedelta(days=1)):
            if day.isoweekday() not in self.days:
                continue
            start = datetime.combine(day, self.start, tz)
            end_day: date = day if self.end > self.start else day + timedelta(days=1)
            end = datetime.combine(end_day, self.end, tz)
            if start <= now < end:
                return start
        return None

    def describe(self) -> str:
        names = {v: k for k, v in WEEKDAYS.items()}
        days = ",".join(names[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.time_zone}"


def _hhmm(text: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"not a time of day: {text}")
    return time(hours, minutes)


@dataclass(frozen=True)
class Silence:
    """One row of ``monitoring.alert_silences``; see the migration for the columns."""

    id: str
    created_by: str
    comment: str
    starts_at: datetime
    ends_at: datetime | None
    rule_name: str | None = None
    alert_key: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    recurrence: Recurrence | None = None
    expired_at: datetime | None = None
    created_at: datetime | None = None

    def matches(self, alert: Alert) -> bool:
        if self.rule_name is not None and alert.rule != self.rule_name:
            return False
        if self.alert_key is not None and not fnmatchcase(alert.key, self.alert_key):
            return False
        labels = alert_labels(alert)
        return all(labels.get(k) == v for k, v in self.labels.items())

    def active_since(self, now: datetime) -> datetime | None:
        """When the current active period began, or None when not active at ``now``."""
        if self.expired_at is not None and self.expired_at <= now:
            return None
        if now < self.starts_at or (self.ends_at is not None and now >= self.ends_at):
            return None
        if self.recurrence is None:
            return self.starts_at
        return self.recurrence.occurrence(now)

    def to_row(self) -> dict[str, Any]:
        r = self.recurrence
        return {
            "id": self.id,
            "created_by": self.created_by,
            "comment": self.comment,
            "rule_name": self.rule_name,
            "alert_key": self.alert_key,
            "labels": dict(self.labels),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "recurrence_days": sorted(r.days) if r else None,
            "window_start": r.start.isoformat() if r else None,
            "window_end": r.end.isoformat() if r else None,
            "time_zone": r.time_zone if r else "UTC",
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Silence:
        days = row.get("recurrence_days")
        recurrence = None
        if days is not None:
            recurrence = Recurrence(
                frozenset(int(d) for d in days),
                time.fromisoformat(str(row["window_start"])),
                time.fromisoformat(str(row["window_end"])),
                str(row.get("time_zone") or "UTC"),
            )
        labels = row.get("labels") or {}
        if not isinstance(labels, dict):
            raise ValueError("labels is not an object")
        return cls(
            id=str(row["id"]),
            created_by=str(row["created_by"]),
            comment=str(row["comment"]),
            starts_at=_ts(row["starts_at"]),
            ends_at=_ts(row["ends_at"]) if row.get("ends_at") else None,
            rule_name=row.get("rule_name"),
            alert_key=row.get("alert_key"),
            labels={str(k): str(v) for k, v in labels.items()},
            recurrence=recurrence,
            expired_at=_ts(row["expired_at"]) if row.get("expired_at") else None,
            created_at=_ts(row["created_at"]) if row.get("created_at") else None,
        )


def new_silence(
    *,
    created_by: str,
    comment: str,
    rule_name: str | None = None,
    alert_key: str | None = None,
    labels: Mapping[str, str] | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    recurrence: Recurrence | None = None,
) -> Silence:
    """A silence checked the way the table's constraints check it, with clearer messages."""
    if not created_by.strip() or not comment.strip():
        raise ValueError("a silence needs its author and a comment")
    if rule_name is None and alert_key is None and not labels:
        raise ValueError("a silence needs at least one matcher (rule, key or label)")
    starts = starts_at or datetime.now(UTC)
    if recurrence is None and ends_at is None:
        raise ValueError("a one-off silence needs an end (duration or end time)")
    if ends_at is not None and ends_at <= starts:
        raise ValueError("the silence must end after it starts")
    return Silence(
        id=str(uuid.uuid4()),
        created_by=created_by,
        comment=comment,
        starts_at=starts,
        ends_at=ends_at,
        rule_name=rule_name,
        alert_key=alert_key,
        labels=dict(labels or {}),
        recurrence=recurrence,
    )


class SilenceStore:
    """``monitoring.alert_silences`` through PostgREST."""

    def __init__(self, transport: SyncTransport, retry: RetryPolicy | None = None) -> None:
        self._t = transport
        self._retry = retry or RetryPolicy()

    def add(self, silence: Silence) -> None:
        row = silence.to_row()
        call_with_retry(self._retry, lambda: self._t.insert_rows(ALERT_SILENCES, [row]))

    def load(
        self, *, include_expired: bool = False, now: datetime | None = None, limit: int = 1000
    ) -> list[Silence]:
        """Silences not expired and not over yet (current and future), newest first;
        ``include_expired``: every row."""
        if include_expired:
            rows = self._select([], limit)
        else:
            unexpired: list[Filter] = [("expired_at", "is", "null")]
            when = (now or datetime.now(UTC)).isoformat()
            # Two reads instead of an OR: open-ended windows, and those ending later.
            rows = self._select([*unexpired, ("ends_at", "is", "null")], limit)
            rows += self._select([*unexpired, ("ends_at", "gt", when)], limit)
            rows.sort(key=lambda r: str(r.get("created_at")), reverse=True)
        silences = []
        for row in rows:
            try:
                silences.append(Silence.from_row(row))
            except (KeyError, ValueError, TypeError) as exc:
                logger.warning("ignoring unreadable silence %s: %s", row.get("id"), exc)
        return silences

    def _select(self, filters: Sequence[Filter], limit: int) -> list[dict[str, Any]]:
        return call_with_retry(
            self._retry,
            lambda: self._t.select(
                ALERT_SILENCES, filters=filters, order=[("created_at", True)], limit=limit
            ),
        )

    def expire(self, silence_id: str, now: datetime | None = None) -> bool:
        """Expire an unexpired silence; False if there is none with that id."""
        try:
            uuid.UUID(silence_id)
        except ValueError:
            raise ValueError(f"not a silence id: {silence_id!r}") from None
        when = (now or datetime.now(UTC)).isoformat()
        rows = call_with_retry(
            self._retry,
            lambda: self._t.update(
                ALERT_SILENCES,
                {"expired_at": when},
                [("id", "eq", silence_id), ("expired_at", "is", "null")],
            ),
        )
        return bool(rows)


class SilenceSource(Protocol):
    """What :class:`SilenceGate` reads (a :class:`SilenceStore`, or a list in tests)."""

    def load(self) -> Sequence[Silence]: ...


class SilenceGate:
    """Holds every transition of an alert an active silence matches."""

    def __init__(self, source: SilenceSource) -> None:
        self._source = source
        self._active: list[tuple[Silence, datetime]] = []

    @property
    def name(self) -> str:
        return "silences"

    def prepare(self, store: AlertStore, now: datetime) -> None:
        active = []
        for silence in self._source.load():
            since = silence.active_since(now)
            if since is not None:
                active.append((silence, since))
        self._active = active

    def check(self, event: StateEvent) -> Hold | None:
        for silence, since in self._active:
            if silence.matches(event.alert):
                return Hold(
                    kind=ALERT_SILENCED,
                    # Once per transition, silence and occurrence of a recurring window.
                    hold_id=str(
                        uuid.uuid5(
                            NAMESPACE, f"silenced\n{event.id}\n{silence.id}\n{since.isoformat()}"
                        )
                    ),
                    reason=f"silenced by {silence.id} ({silence.comment})",
                    details={"silence_id": silence.id, "silenced_by": silence.created_by},
                )
        return None

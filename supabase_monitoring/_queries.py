"""Read-side requests and result parsing shared by both clients.

Each builder validates its arguments and returns the request to make; each
parser turns the JSON that came back into models, treating anything that
does not fit as an InvalidResponseError rather than returning garbage.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ._redact import redact
from ._tables import (
    AGGREGATED_METRICS,
    API_METRICS_VIEW,
    QUEUE_METRICS_VIEW,
    WORKER_ISSUES,
    TableRef,
)
from ._transport import Filter, Order
from ._validation import (
    MAX_TAGS_BYTES,
    check_count,
    check_datetime,
    check_json_object,
    check_name,
    check_optional_text,
    check_severity,
)
from .errors import InvalidInputError, InvalidResponseError
from .models import SystemHealth, parse_health_document

__all__ = [
    "HEALTH_FUNCTION",
    "MAX_LIMIT",
    "Select",
    "aggregated_metrics_query",
    "api_metrics_query",
    "open_issues_query",
    "parse_health",
    "parse_rows",
    "queue_metrics_query",
    "resolve_issue_update",
]

HEALTH_FUNCTION = "get_system_health"
AGGREGATE_FUNCTION = "aggregate_metrics"  # in the monitoring schema
PERIODS = ("hourly", "daily", "weekly")
MAX_LIMIT = 10_000

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Select:
    """A select request: table, filters, ordering, limit."""

    table: TableRef
    filters: Sequence[Filter]
    order: Sequence[Order]
    limit: int


def _limit(limit: object) -> int:
    value = check_count(limit, "limit")
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return value


def open_issues_query(
    worker_name: str | None,
    severity: object | None,
    issue_type: str | None,
    limit: object,
) -> Select:
    """Open worker issues, newest first."""
    filters: list[Filter] = [("resolved", "eq", "false")]
    if worker_name is not None:
        filters.append(("worker_name", "eq", check_name(worker_name, "worker_name")))
    if severity is not None:
        filters.append(("severity", "eq", check_severity(severity)))
    if issue_type is not None:
        filters.append(("issue_type", "eq", check_name(issue_type, "issue_type")))
    return Select(WORKER_ISSUES, filters, [("created_at", True)], _limit(limit))


def _view_query(
    table: TableRef, column: str, name: str | None, since: datetime | None, limit: object
) -> Select:
    filters: list[Filter] = []
    if name is not None:
        filters.append((column, "eq", check_name(name, column)))
    if since is not None:
        filters.append(("hour", "gte", check_datetime(since, "since")))
    return Select(table, filters, [(column, False), ("hour", True)], _limit(limit))


def queue_metrics_query(queue_name: str | None, since: datetime | None, limit: object) -> Select:
    """Rows of monitoring.queue_metrics, by queue then newest hour first."""
    return _view_query(QUEUE_METRICS_VIEW, "queue_name", queue_name, since, limit)


def api_metrics_query(api_name: str | None, since: datetime | None, limit: object) -> Select:
    """Rows of monitoring.api_metrics, by API then newest hour first."""
    return _view_query(API_METRICS_VIEW, "api_name", api_name, since, limit)


def aggregated_metrics_query(
    metric_name: str | None,
    period: str | None,
    since: datetime | None,
    until: datetime | None,
    dimensions: Mapping[str, Any] | None,
    limit: object,
) -> Select:
    """Rollups, newest period first; ``dimensions`` matches rows whose dimensions contain it."""
    filters: list[Filter] = []
    if metric_name is not None:
        filters.append(("metric_name", "eq", check_name(metric_name, "metric_name")))
    if period is not None:
        if period not in PERIODS:
            raise InvalidInputError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
        filters.append(("period", "eq", period))
    if since is not None:
        filters.append(("period_start", "gte", check_datetime(since, "since")))
    if until is not None:
        filters.append(("period_start", "lt", check_datetime(until, "until")))
    if dimensions is not None:
        dims = check_json_object(dimensions, "dimensions", max_bytes=MAX_TAGS_BYTES)
        filters.append(("dimensions", "cs", json.dumps(dims, separators=(",", ":"))))
    return Select(
        AGGREGATED_METRICS,
        filters,
        [("period_start", True), ("metric_name", False)],
        _limit(limit),
    )


def resolve_issue_update(
    issue_id: object, resolution_details: object, resolved_at: datetime | None
) -> tuple[dict[str, Any], list[Filter]]:
    """The PATCH that closes one open issue: values and filters."""
    if not isinstance(issue_id, (str, uuid.UUID)):
        raise InvalidInputError(f"issue_id must be a UUID string, got {type(issue_id).__name__}")
    try:
        key = str(uuid.UUID(str(issue_id)))
    except ValueError:
        raise InvalidInputError(f"issue_id is not a UUID: {str(issue_id)[:60]!r}") from None
    when = (
        datetime.now(UTC).isoformat()
        if resolved_at is None
        else check_datetime(resolved_at, "resolved_at")
    )
    values = {
        "resolved": True,
        "resolved_at": when,
        "resolution_details": check_optional_text(resolution_details, "resolution_details"),
    }
    return values, [("id", "eq", key), ("resolved", "eq", "false")]


def parse_rows(model: type[M], rows: list[dict[str, Any]], what: str) -> list[M]:
    """Validate rows into ``model``; a row that does not fit is the server's fault."""
    try:
        return [model.model_validate(row) for row in rows]
    except ValidationError as exc:
        raise InvalidResponseError(f"{what}: unexpected row shape: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "<document>"
    return f"{loc}: {err['msg']} ({exc.error_count()} problem(s))"


def parse_health(data: object, secrets: Sequence[str] = ()) -> SystemHealth:
    """The health document, or InvalidResponseError when the answer is not one."""
    try:
        return parse_health_document(data)
    except ValidationError as exc:
        got = type(data).__name__
        if isinstance(data, str):
            # Redact before cutting: a cut secret would no longer be recognised.
            got = f"text starting {(redact(data, secrets) or '')[:40]!r}"
        raise InvalidResponseError(
            f"{HEALTH_FUNCTION}() did not return a health document (got {got}): {_first_error(exc)}"
        ) from None


def aggregate_params(period: object, now: datetime | None = None) -> dict[str, Any]:
    """RPC parameters of ``monitoring.aggregate_metrics``; the period is checked first.

    ``now`` (``p_now``) aggregates as if it were that time: a back-fill steps
    it forward so that no single call outlasts the statement timeout.
    """
    if period not in PERIODS:
        raise InvalidInputError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    params: dict[str, Any] = {"p_period": period}
    if now is not None:
        params["p_now"] = check_datetime(now, "now")
    return params


def parse_row_count(data: object) -> int:
    """The integer an aggregation RPC returns; anything else breaks the contract."""
    if isinstance(data, bool) or not isinstance(data, int):
        raise InvalidResponseError(f"aggregate_metrics returned {type(data).__name__}, not a count")
    return data

"""Call-site checks for everything a worker records.

Plain Python on purpose: these run on the worker's hot path for every metric,
where a pydantic model per call would cost more than the rest of the record
path together. Each check either returns a value safe to put in a row (JSON
ready, detached from the caller's objects) or raises InvalidInputError
naming the field, before anything is queued or sent.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .errors import InvalidInputError

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "MAX_DETAILS_BYTES",
    "MAX_MESSAGE_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_TAGS",
    "MAX_TAGS_BYTES",
    "SEVERITIES",
    "check_count",
    "check_datetime",
    "check_json_object",
    "check_name",
    "check_number",
    "check_optional_text",
    "check_severity",
]

#: Same bound as the tables' CHECK constraints on names.
MAX_NAME_LENGTH = 200
#: Tags are dimensions, not payloads: a few short keys.
MAX_TAGS = 64
MAX_TAGS_BYTES = 8 * 1024
#: Details of issues, events and snapshots may carry more context.
MAX_DETAILS_BYTES = 64 * 1024
MAX_MESSAGE_LENGTH = 10_000
SEVERITIES = ("info", "warning", "error", "critical")


def _storable(text: str) -> bool:
    # Postgres text and jsonb cannot hold NUL, and a lone surrogate cannot be
    # encoded as UTF-8: either would fail the whole request (a whole batch).
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_UNSTORABLE = "contains a NUL character or an unpaired surrogate, which Postgres cannot store"


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_name(value: object, field: str) -> str:
    """A non-blank string of at most MAX_NAME_LENGTH characters."""
    if type(value) is not str:
        if not isinstance(value, str):
            raise InvalidInputError(f"{field} must be a string, got {type(value).__name__}")
        value = str.__str__(value)  # plain text of str subclasses (str enums)
    if not value or value.isspace():
        raise InvalidInputError(f"{field} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"{field} is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    if not (value.isascii() and "\x00" not in value) and not _storable(value):
        raise InvalidInputError(f"{field} {_UNSTORABLE}")
    return value


def check_number(value: object, field: str, *, non_negative: bool = False) -> float:
    """A finite real number (bool excluded: ``True`` is almost always a mistake)."""
    if type(value) is float or type(value) is int:
        number = float(value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{field} must be a number, got {type(value).__name__}")
    else:
        number = float(value)
    if not math.isfinite(number):
        raise InvalidInputError(f"{field} must be a finite number, got {number!r}")
    if non_negative and number < 0:
        raise InvalidInputError(f"{field} must not be negative, got {number!r}")
    return number


INT32_MAX = 2_147_483_647
INT64_MAX = 9_223_372_036_854_775_807


def check_count(value: object, field: str, maximum: int = INT32_MAX) -> int:
    """A non-negative integer (numpy integers accepted, floats and bools not).

    Bounded to a 32-bit integer by default: the views cast count tags to
    ``integer``, and one oversized value would break the whole view.
    """
    if type(value) is int:
        count = value
    elif isinstance(value, bool):
        raise InvalidInputError(f"{field} must be an integer, got bool")
    else:
        try:
            count = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            raise InvalidInputError(
                f"{field} must be an integer, got {type(value).__name__}"
            ) from None
    if count < 0:
        raise InvalidInputError(f"{field} must not be negative, got {count}")
    if count > maximum:
        raise InvalidInputError(f"{field} must be at most {maximum}, got {count}")
    return count


def check_datetime(value: object, field: str) -> str:
    """A timezone-aware datetime, as ISO 8601 text with its offset.

    Naive datetimes are refused: Postgres would read them in the server's
    time zone, silently shifting the measurement.
    """
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{field} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"{field} must be timezone-aware (e.g. datetime.now(timezone.utc)), "
            "got a naive datetime"
        )
    return value.isoformat()


def check_severity(value: object) -> str:
    """One of SEVERITIES; accepts the Severity enum or its string value."""
    text = getattr(value, "value", value)
    if isinstance(text, str) and text in SEVERITIES:
        return text
    raise InvalidInputError(
        f"severity must be one of {', '.join(SEVERITIES)}; got {_describe(value)}"
    )


def check_optional_text(
    value: object, field: str, max_length: int = MAX_MESSAGE_LENGTH
) -> str | None:
    """None or a string of at most ``max_length`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a string or None, got {type(value).__name__}")
    if len(value) > max_length:
        raise InvalidInputError(
            f"{field} is {len(value)} characters long; the limit is {max_length}"
        )
    if not _storable(value):
        raise InvalidInputError(f"{field} {_UNSTORABLE}")
    return str.__str__(value)


def _nested_copy(value: object, field: str, key: str) -> Any:
    # Validates and deep-copies one nested value through a JSON round trip.
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise InvalidInputError(
            f"{field}[{key!r}] contains NaN or infinity, which JSON cannot carry"
        ) from None
    except (TypeError, RecursionError) as exc:
        raise InvalidInputError(f"{field}[{key!r}] is not JSON-serialisable: {exc}") from None
    if "\\u0000" in text:
        raise InvalidInputError(f"{field}[{key!r}] {_UNSTORABLE}")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInputError(f"{field}[{key!r}] {_UNSTORABLE}") from None
    return json.loads(text), size


def _flat_ascii_copy(
    value: dict[Any, Any], max_bytes: int, max_keys: int | None
) -> dict[str, Any] | None:
    # The common case on the hot path, checked in one tight loop: a small dict
    # of short ASCII names to ASCII strings, ints or bools. Anything else
    # (returns None) takes the general path, which also words the errors.
    if max_keys is not None and len(value) > max_keys:
        return None
    size = 2
    for key, item in value.items():
        if type(key) is not str or not key or len(key) > MAX_NAME_LENGTH or not key.isascii():
            return None
        kind = type(item)
        if kind is str:
            if not item.isascii() or "\x00" in item:
                return None
            size += len(item)
        elif kind is not int and kind is not bool:
            return None
        size += len(key) + 24
        if "\x00" in key:
            return None
    if size > max_bytes:
        return None
    return dict(value)


def _refuse_nested(field: str, key: str, item: object) -> None:
    kind = "an object" if isinstance(item, Mapping) else "an array"
    raise InvalidInputError(
        f"{field}[{key!r}] is {kind}: tags are flat dimensions (string, number, boolean "
        "or null values); put structured data in an event's or issue's details"
    )


def check_json_object(
    value: object,
    field: str,
    *,
    max_bytes: int,
    max_keys: int | None = None,
    flat: bool = False,
) -> dict[str, Any]:
    """A JSON object (string keys, JSON values) of bounded size, copied.

    The copy matters: rows may be written later by a background sink, and a
    caller reusing or mutating its dict must not change what was recorded.
    Flat scalar values are checked without serialising; the size of those is
    counted in characters, nested values in exact JSON length. ``flat``
    (tags) refuses object and array values: the views and rollups group by
    scalar tags, so a nested one is a mistake, not a dimension.
    """
    if value is None:
        return {}
    if type(value) is dict:
        copied = _flat_ascii_copy(value, max_bytes, max_keys)
        if copied is not None:
            return copied
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{field} must be a mapping (dict) of JSON values, got {type(value).__name__}"
        )
    if max_keys is not None and len(value) > max_keys:
        raise InvalidInputError(f"{field} has {len(value)} keys; the limit is {max_keys}")
    out: dict[str, Any] = {}
    size = 2
    for key, item in value.items():
        if type(key) is not str:
            raise InvalidInputError(f"{field} keys must be strings, got {type(key).__name__}")
        if not key:
            raise InvalidInputError(f"{field} keys must not be empty")
        if not _storable(key):
            raise InvalidInputError(f"{field} key {_UNSTORABLE}")
        if len(key) > MAX_NAME_LENGTH:
            raise InvalidInputError(
                f"{field} key is {len(key)} characters long; the limit is {MAX_NAME_LENGTH}"
            )
        item_type = type(item)
        if item_type is str:
            if not _storable(item):
                raise InvalidInputError(f"{field}[{key!r}] {_UNSTORABLE}")
            size += len(key) + len(item) + 6
        elif item_type is int or item_type is bool or item is None:
            size += len(key) + 24
        elif item_type is float:
            if not math.isfinite(item):
                raise InvalidInputError(f"{field}[{key!r}] must be a finite number, got {item!r}")
            size += len(key) + 28
        else:
            # Containers, and subclasses of scalars (str enums, numpy floats),
            # are stored as the plain JSON they serialise to.
            if flat and isinstance(item, (Mapping, list, tuple, set, frozenset)):
                _refuse_nested(field, key, item)  # before serialising 200 levels of it
            item, extra = _nested_copy(item, field, key)
            if flat and isinstance(item, (dict, list)):
                _refuse_nested(field, key, item)
            size += len(key) + extra + 4
        if size > max_bytes:
            raise InvalidInputError(
                f"{field} is larger than {max_bytes} bytes of JSON; keep it small "
                "(tags are dimensions, not payloads)"
            )
        out[key] = item
    return out

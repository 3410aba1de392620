"""The record_* fast paths build the same rows and refuse the same input as the checks."""

from __future__ import annotations

import enum
import math

import pytest

from supabase_monitoring import _rows
from supabase_monitoring.errors import InvalidInputError


class Api(str, enum.Enum):
    SPOTIFY = "spotify"


def test_fast_path_row_equals_the_checked_row() -> None:
    fast = _rows.api_call_row("spotify", 12.5, True, None, None, None, None)
    slow = _rows.api_call_row("spotify", 12.5, True, None, None, {}, None)  # through _tags
    whole = _rows.api_call_row("spotify", 12, False, None, None, None, None)  # int: checked
    assert fast["tags"] == slow["tags"] == {"api": "spotify", "success": "true"}
    assert fast["metric_value"] == slow["metric_value"] == 12.5
    assert whole["metric_value"] == 12.0
    assert type(whole["metric_value"]) is float
    assert whole["tags"] == {"api": "spotify", "success": "false"}
    assert type(fast["timestamp"]) is float


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 1.0, True), "api_name must not be empty"),
        (("x" * 201, 1.0, True), "api_name is 201 characters"),
        (("a\x00b", 1.0, True), "NUL"),
        ((["spotify"], 1.0, True), "api_name must be a string"),
        (("spotify", math.nan, True), "finite"),
        (("spotify", math.inf, True), "finite"),
        (("spotify", -0.5, True), "must not be negative"),
        (("spotify", 1.0, 1), "success must be a bool"),
    ],
)
def test_bad_input_is_refused_even_after_good_calls(args: tuple[object, ...], message: str) -> None:
    _rows.api_call_row("spotify", 1.0, True, None, None, None, None)
    for _ in range(2):  # a refused value is never remembered as checked
        with pytest.raises(InvalidInputError, match=message):
            _rows.api_call_row(*args, None, None, None, None)


def test_str_subclasses_are_stored_as_plain_text() -> None:
    row = _rows.api_call_row(Api.SPOTIFY, 1.0, True, None, None, None, None)
    assert type(row["tags"]["api"]) is str
    assert row["tags"]["api"] == "spotify"
    queue = _rows.processing_row(Api.SPOTIFY, 1.0, 1, 0, None, None, None)
    assert type(queue["tags"]["queue"]) is str


def test_the_checked_names_stay_bounded() -> None:
    for i in range(_rows._MAX_CHECKED_NAMES * 2 + 3):
        _rows.metric_row(f"metric-{i}", 1.0, None, None)
    assert 0 < len(_rows._CHECKED_NAMES) <= _rows._MAX_CHECKED_NAMES

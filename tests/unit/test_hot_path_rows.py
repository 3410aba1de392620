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
    fast = _rows.api_call_fields("spotify", 12.5, True, None, None, None, None)
    slow = _rows.api_call_fields("spotify", 12.5, True, None, None, {}, None)  # through _tags
    whole = _rows.api_call_fields("spotify", 12, False, None, None, None, None)  # int: checked
    assert fast[0] == slow[0] == whole[0] == _rows.API_CALL_METRIC
    assert fast[2] == slow[2] == {"api": "spotify", "success": "true"}
    assert fast[1] == slow[1] == 12.5
    assert whole[1] == 12.0
    assert type(whole[1]) is float
    assert whole[2] == {"api": "spotify", "success": "false"}
    assert type(fast[3]) is float


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
    _rows.api_call_fields("spotify", 1.0, True, None, None, None, None)
    for _ in range(2):  # a refused value is never remembered as checked
        with pytest.raises(InvalidInputError, match=message):
            _rows.api_call_fields(*args, None, None, None, None)


def test_str_subclasses_are_stored_as_plain_text() -> None:
    tags = _rows.api_call_fields(Api.SPOTIFY, 1.0, True, None, None, None, None)[2]
    assert type(tags["api"]) is str
    assert tags["api"] == "spotify"
    queue = _rows.processing_fields(Api.SPOTIFY, 1.0, 1, 0, None, None, None)[2]
    assert type(queue["queue"]) is str


def test_the_checked_names_stay_bounded() -> None:
    for i in range(_rows._MAX_CHECKED_NAMES * 2 + 3):
        _rows.metric_fields(f"metric-{i}", 1.0, None, None)
        _rows.api_call_fields(f"api-{i}", 1.0, i % 2 == 0, None, None, None, None)
    assert 0 < len(_rows._CHECKED_NAMES) <= _rows._MAX_CHECKED_NAMES
    for cache in _rows._API_TAGS:
        assert 0 < len(cache) <= _rows._MAX_CHECKED_NAMES

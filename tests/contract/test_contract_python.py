"""The shared row contract (cases.json), run against the Python SDK.

The same file drives the Edge Function module's Deno suite
(contract_test.ts), so the two SDKs cannot drift apart. No network: the
client writes into an InMemoryRecorder, which keeps rows exactly as they
would be sent.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supabase_monitoring import InvalidInputError, MonitoringClient
from supabase_monitoring.testing import InMemoryRecorder

CONTRACT = json.loads((Path(__file__).parent / "cases.json").read_text(encoding="utf-8"))
CASES = CONTRACT["cases"]
TIME_FIELDS: dict[str, str] = CONTRACT["time_fields"]
CONFLICT_KEYS: dict[str, str] = CONTRACT["conflict_keys"]
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def decode(value: Any) -> Any:
    """Turns the contract's encodings ($number, $repeat, $keys, ...) into Python values."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"$number"}:
        return float(value["$number"])
    if value.keys() == {"$repeat"}:
        text, times = value["$repeat"]
        return text * times
    if value.keys() == {"$keys"}:
        return {f"k{i}": "v" for i in range(value["$keys"])}
    if value.keys() == {"$lone_surrogate_after"}:
        return value["$lone_surrogate_after"] + "\ud800"
    if value.keys() == {"$datetime"}:
        return datetime.fromisoformat(value["$datetime"])
    return {key: decode(item) for key, item in value.items()}


def same(expected: Any, actual: Any) -> bool:
    """JSON equality that tells booleans from numbers (``True == 1`` in Python)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            same(item, actual[key]) for key, item in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(same, expected, actual))
    return type(expected) is type(actual) and expected == actual


def record(monitor: MonitoringClient, case: dict[str, Any]) -> Any:
    method = getattr(monitor, case["call"])
    return method(**decode(case["args"]))


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("case", [c for c in CASES if "stored" in c], ids=lambda c: c["name"])
def test_stored_row(case: dict[str, Any]) -> None:
    recorder = InMemoryRecorder()
    before = datetime.now(UTC)
    record(MonitoringClient(sink=recorder, strict=True), case)

    [(table, row)] = recorder.recorded
    assert str(table) == case["stored"]["table"]
    assert table.conflict == CONFLICT_KEYS[str(table)]  # the upsert's on_conflict
    expected = decode(case["stored"]["row"])
    time_field = TIME_FIELDS[str(table)]
    assert UUID7.match(row.pop("id"))
    stored_time = instant(row.pop(time_field))
    if time_field in expected:
        assert stored_time == instant(expected.pop(time_field))
    else:  # taken at the call
        assert before - timedelta(seconds=1) <= stored_time <= datetime.now(UTC)
    assert same(expected, row), f"stored {row!r}, contract says {expected!r}"


@pytest.mark.parametrize("case", [c for c in CASES if "refused" in c], ids=lambda c: c["name"])
def test_refused_in_strict_mode(case: dict[str, Any]) -> None:
    recorder = InMemoryRecorder()
    with pytest.raises(InvalidInputError) as raised:
        record(MonitoringClient(sink=recorder, strict=True), case)
    assert case["refused"] in str(raised.value)
    assert recorder.recorded == []


@pytest.mark.parametrize("case", [c for c in CASES if "refused" in c], ids=lambda c: c["name"])
def test_dropped_in_default_mode(case: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    recorder = InMemoryRecorder()
    result = record(MonitoringClient(sink=recorder), case)
    assert result is (None if case["call"] == "log_worker_issue" else False)
    assert recorder.recorded == []
    assert any(case["refused"] in message for message in caplog.messages)


def test_ids_sort_in_recording_order() -> None:
    recorder = InMemoryRecorder()
    monitor = MonitoringClient(sink=recorder, strict=True)
    for i in range(50):
        monitor.record_metric("ordered", i)
    rows = recorder.rows()
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert len({row["id"] for row in rows}) == 50


def test_contract_encodings_decode() -> None:
    # Guards the harness itself: a decoder that passed values through would make refusals vacuous.
    assert math.isnan(decode({"$number": "NaN"}))
    assert decode({"$repeat": ["ab", 3]}) == "ababab"
    assert len(decode({"$keys": 65})) == 65
    assert decode({"$datetime": "2026-03-01T12:00:00"}).tzinfo is None
    assert decode({"$lone_surrogate_after": "a"}) == "a\ud800"

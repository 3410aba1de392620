"""The writer's per-row helpers: batch ids and the ingest_metrics request body."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from supabase_monitoring import _wire
from supabase_monitoring._columns import MetricBatch
from supabase_monitoring._ids import block_ids, epoch_us, finalize, uuid7, uuid7_many
from supabase_monitoring._rows import api_call_fields, metric_fields


def test_batch_ids_are_unique_sorted_uuid7_and_interleave_with_single_ids() -> None:
    before = uuid7()
    batches = [uuid7_many(n) for n in (1, 3, 5000, 2)]
    after = uuid7()
    flat = [i for batch in batches for i in batch]
    assert len(set(flat)) == len(flat) == 5006
    assert [before, *flat, after] == sorted([before, *flat, after])
    for text in flat:
        parsed = uuid.UUID(text)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    assert uuid7_many(0) == []


def test_batch_ids_carry_the_current_millisecond() -> None:
    ms = int(datetime.now(UTC).timestamp() * 1000)
    first = uuid.UUID(uuid7_many(10)[0]).int >> 80
    assert abs(first - ms) < 5_000


def rows(n: int) -> MetricBatch:
    return MetricBatch.of(
        api_call_fields(f"api-{i % 3}", float(i), i % 2 == 0, None, None, None, None)
        for i in range(n)
    )


def decode(encoded: tuple[bytes, str]) -> dict[str, Any]:
    body, columns = encoded
    doc = json.loads(body)
    assert isinstance(doc, dict)
    assert columns.split(",") == list(doc)  # PostgREST's `columns`: the keys sent
    return doc


def sent_ids(doc: dict[str, Any]) -> list[str]:
    """The ids ingest_metrics stores for a body (it spells out a block itself)."""
    if "p_ids" in doc:
        return list(doc["p_ids"])
    return block_ids(doc["p_id_prefix"], doc["p_id_start"], len(doc["p_series"]))


def test_body_is_columnar_with_one_entry_per_series() -> None:
    batch = rows(12)
    doc = decode(_wire.ingest_metrics_body(batch))
    assert set(doc) == {
        "p_series",
        "p_values",
        "p_times_s",
        "p_series_names",
        "p_series_tags",
        "p_id_prefix",
        "p_id_start",
    }
    assert sent_ids(doc) == batch.ids()
    assert doc["p_times_s"] == batch.column(3)  # the clock's floats, as they are
    assert doc["p_values"] == [float(i) for i in range(12)]
    # 3 apis x 2 success values = 6 series; each row points at its own.
    assert len(doc["p_series_names"]) == len(doc["p_series_tags"]) == 6
    for row, series in zip(batch.rows(), doc["p_series"], strict=True):
        assert isinstance(series, int)
        assert doc["p_series_names"][series - 1] == row["metric_name"]
        assert doc["p_series_tags"][series - 1] == row["tags"]


def test_ids_are_assigned_once_so_a_retry_or_a_split_sends_the_same_ones() -> None:
    batch = rows(10)
    first = sent_ids(decode(_wire.ingest_metrics_body(batch)))
    again = sent_ids(decode(_wire.ingest_metrics_body(batch)))
    halves = [sent_ids(decode(_wire.ingest_metrics_body(part))) for part in (batch[:5], batch[5:])]
    assert first == again == halves[0] + halves[1]
    assert len(set(first)) == 10
    assert all(uuid.UUID(i).version == 7 for i in first)


def test_rows_that_came_with_ids_are_sent_one_id_per_row() -> None:
    given = "0190a6c2-0000-7000-8000-000000000001"
    batch = MetricBatch(["m", 1.0, {}, 1.5, given, "m", 2.0, {}, 2.5, None])
    doc = decode(_wire.ingest_metrics_body(batch))
    assert "p_id_prefix" not in doc
    assert doc["p_ids"][0] == "0190a6c2-0000-7000-8000-000000000001"
    assert uuid.UUID(doc["p_ids"][1]).version == 7
    assert decode(_wire.ingest_metrics_body(batch))["p_ids"] == doc["p_ids"]  # given once


def test_series_are_told_apart_by_exact_json() -> None:
    # True == 1 == 1.0 in Python; in JSON (and jsonb) they are three different tags.
    batch = MetricBatch.of(
        [
            metric_fields("m", 1.0, {"flag": True}, None),
            metric_fields("m", 2.0, {"flag": 1}, None),
            metric_fields("m", 3.0, {"flag": 1.0}, None),
            metric_fields("n", 4.0, {"flag": True}, None),
            metric_fields("m", 5.0, {"flag": True}, None),
        ]
    )
    doc = decode(_wire.ingest_metrics_body(batch))
    assert doc["p_series"] == [1, 2, 3, 4, 1]
    assert doc["p_series_names"] == ["m", "m", "m", "n"]
    assert [json.dumps(t) for t in doc["p_series_tags"]] == [
        '{"flag": true}',
        '{"flag": 1}',
        '{"flag": 1.0}',
        '{"flag": true}',
    ]


def test_event_times_become_exact_epoch_microseconds() -> None:
    tz = timezone(timedelta(hours=-5))
    given = [
        datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 18, 59, 59, 999999, tzinfo=tz),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ]
    batch = MetricBatch.of(
        [
            *(metric_fields("m", 1.0, None, when) for when in given),
            metric_fields("m", 1.0, None, None),
        ]
    )
    doc = decode(_wire.ingest_metrics_body(batch))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert doc["p_times_us"][:4] == [(when - epoch) // timedelta(microseconds=1) for when in given]
    assert doc["p_times_us"][2] == 253402300799999999
    assert doc["p_times_s"][:4] == [None] * 4  # a caller's datetime travels exactly
    assert doc["p_times_us"][4] is None  # the clock's float travels as it is
    assert abs(doc["p_times_s"][4] - datetime.now(UTC).timestamp()) < 60


def test_stdlib_fallback_encodes_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = rows(7)
    fast = decode(_wire.ingest_metrics_body(batch))
    monkeypatch.setattr(_wire, "_orjson_dumps", None)
    slow = decode(_wire.ingest_metrics_body(batch))
    assert slow == fast


def test_values_orjson_refuses_are_encoded_by_the_stdlib() -> None:
    huge = 2**70
    assert json.loads(_wire.dumps({"n": huge, "s": "é"})) == {"n": huge, "s": "é"}


@pytest.mark.parametrize(
    "when",
    [1764633600.1234567, 1764633600.9999999, 0.0000015, -0.5, -1.2345674, 1e9 + 0.0000009],
)
def test_both_writer_paths_name_the_same_microsecond(when: float) -> None:
    # The event time is half of the row's key (id, "timestamp"): a row sent by
    # the columnar RPC and by the bulk insert fallback must be one row.
    row: dict[str, object] = {
        "metric_name": "m",
        "metric_value": 1.0,
        "tags": {},
        "timestamp": when,
    }
    columnar = epoch_us(when)  # what ingest_metrics computes: trunc(when * 1e6)
    finalize([row])
    iso = row["timestamp"]
    assert isinstance(iso, str)
    assert _wire._epoch_us(iso) == columnar


def test_one_shared_tags_object_under_two_names_is_two_series() -> None:
    # Series are looked up by the tags object first: the name must stay part of the key.
    shared = {"api": "x", "success": "true"}
    batch = MetricBatch.of(
        [("a", 1.0, shared, 1.0), ("b", 2.0, shared, 1.0), ("a", 3.0, shared, 1.0)]
    )
    doc = decode(_wire.ingest_metrics_body(batch))
    assert doc["p_series"] == [1, 2, 1]
    assert doc["p_series_names"] == ["a", "b"]


def test_plain_api_calls_share_their_tags_and_others_do_not() -> None:
    first = api_call_fields("spotify", 1.0, True, None, None, None, None)
    second = api_call_fields("spotify", 2.0, True, None, None, None, None)
    failed = api_call_fields("spotify", 2.0, False, None, None, None, None)
    with_code = api_call_fields("spotify", 2.0, True, None, 200, None, None)
    assert first[2] is second[2]
    assert first[2] == {"api": "spotify", "success": "true"}
    assert failed[2] == {"api": "spotify", "success": "false"}
    assert with_code[2] == {"api": "spotify", "success": "true", "status_code": "200"}
    assert with_code[2] is not first[2]


def test_a_split_batch_keeps_the_ids_of_its_first_encoding() -> None:
    batch = rows(6)
    ids = batch.ids()
    assert batch[2:5].ids() == ids[2:5]
    assert len(batch[4:]) == 2
    with pytest.raises(ValueError, match="contiguous"):
        batch[::2]
    as_dicts = batch.rows()
    assert [row["id"] for row in as_dicts] == ids
    assert as_dicts[0]["tags"] is not batch.column(2)[0]  # dict rows get tags of their own


def test_the_bulk_fallback_sends_the_batch_ids_with_iso_times() -> None:
    from supabase_monitoring._transport import _bulk_rows

    batch = rows(3)
    first = _bulk_rows(batch)
    again = _bulk_rows(batch)
    assert [row["id"] for row in first] == [row["id"] for row in again] == batch.ids()
    for row in first:
        assert isinstance(row["timestamp"], str)
        assert datetime.fromisoformat(row["timestamp"]).tzinfo is not None

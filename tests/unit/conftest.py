"""Unit-test hygiene shared by every file here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supabase_monitoring import _batching


@pytest.fixture(autouse=True)
def _no_sink_outlives_its_test() -> Iterator[None]:
    # A batching sink a test forgot to close would keep a flusher thread that
    # posts into the NEXT test's respx router. Close them all, dropping rows.
    yield
    for sink in list(_batching._live_sinks):
        sink.close(timeout=0)

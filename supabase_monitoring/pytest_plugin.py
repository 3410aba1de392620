"""pytest fixtures for users' tests, registered through the ``pytest11`` entry point.

``monitoring_recorder`` is a fresh :class:`~supabase_monitoring.testing.InMemoryRecorder`;
``monitoring_client`` is a strict :class:`~supabase_monitoring.MonitoringClient`
writing into it, so a bad metric fails the test instead of being logged.
Nothing is imported until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from supabase_monitoring import MonitoringClient
    from supabase_monitoring.testing import InMemoryRecorder

__all__ = ["monitoring_client", "monitoring_recorder"]


@pytest.fixture
def monitoring_recorder() -> InMemoryRecorder:
    """An empty in-memory sink for one test."""
    from supabase_monitoring.testing import InMemoryRecorder

    return InMemoryRecorder()


@pytest.fixture
def monitoring_client(monitoring_recorder: InMemoryRecorder) -> Iterator[MonitoringClient]:
    """A strict client that records into ``monitoring_recorder``; closed after the test."""
    from supabase_monitoring import MonitoringClient

    client = MonitoringClient(sink=monitoring_recorder, strict=True, disabled=False)
    yield client
    client.close()

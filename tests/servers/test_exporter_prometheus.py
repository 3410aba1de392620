"""The exporter as operators run it (the console script) with a real Prometheus scraping
it: figures of this test's own queue and API come back through PromQL; an exporter whose
API is unreachable is still scraped, with its up-style gauges at 0."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from daemons import Daemon, free_port, promql, start_prometheus, wait_until

from supabase_monitoring import MonitoringClient

pytestmark = pytest.mark.integration


def _env() -> dict[str, str]:
    for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"):
        if not os.environ.get(name):
            pytest.fail(f"{name} is not set: run with the local stack's environment (make py-test)")
    return dict(os.environ)


class Exporter:
    """``supabase-monitoring exporter`` in a subprocess on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "supabase_monitoring.cli",
                "--timeout",
                "2",
                "exporter",
                "--listen",
                self.address,
                "--cache-seconds",
                "1",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._serving, timeout=30, what=f"exporter on {self.address}")

    def _serving(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"exporter exited with {self.proc.returncode}")
        return httpx.get(f"http://{self.address}/metrics", timeout=5).status_code == 200

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def exporters(tmp_path: Path) -> Iterator[tuple[Exporter, Exporter]]:
    env = _env()
    good = Exporter(env, tmp_path / "good.log")
    # Nothing listens on this port: the API is unreachable.
    bad = Exporter({**env, "SUPABASE_URL": f"http://127.0.0.1:{free_port()}"}, tmp_path / "bad.log")
    yield good, bad
    good.stop()
    bad.stop()
    assert good.proc.returncode == 0  # SIGTERM is a clean shutdown


@pytest.fixture
def prometheus(tmp_path: Path, exporters: tuple[Exporter, Exporter]) -> Iterator[Daemon]:
    # 2 s: room for a scrape on a loaded 2-core machine (timeout = interval).
    daemon = start_prometheus(tmp_path, [e.address for e in exporters], scrape_interval="2s")
    yield daemon
    daemon.stop()


def test_prometheus_scrapes_our_figures(
    prometheus: Daemon, exporters: tuple[Exporter, Exporter]
) -> None:
    good, bad = exporters
    env = _env()
    tag = uuid.uuid4().hex[:10]
    queue, api = f"q_{tag}", f"api_{tag}"
    with MonitoringClient(
        env["SUPABASE_URL"], env["SUPABASE_SERVICE_ROLE_KEY"], strict=True, batching=False
    ) as client:
        for i in range(4):
            client.record_api_call(api, duration_ms=100.0 * (i + 1), success=i != 0)
        client.record_processing_metric(
            queue, processing_time_ms=50, success_count=9, error_count=1
        )
        client.record_queue_snapshot(
            queue, queue_length=42, stuck_messages=3, oldest_msg_age_sec=90
        )

    def query(q: str) -> dict[str, float]:
        return promql(prometheus, q)

    # Both targets scraped: the unreachable API does not make /metrics fail.
    assert wait_until(
        lambda: query("up") == {good.address: 1.0, bad.address: 1.0}, what="both targets up"
    )
    assert wait_until(
        lambda: query(f'supabase_monitoring_api_calls{{api="{api}"}}') == {good.address: 4.0},
        what="this test's API calls",
    )
    assert query(f'supabase_monitoring_api_error_ratio{{api="{api}"}}') == {good.address: 0.25}
    p95 = query(f'supabase_monitoring_api_p95_seconds{{api="{api}"}}')[good.address]
    assert 0.3 <= p95 <= 0.4  # p95 of 100..400 ms
    assert wait_until(
        lambda: (
            query(f'supabase_monitoring_queue_depth{{queue="{queue}"}}') == {good.address: 42.0}
        ),
        what="this test's queue depth",
    )
    assert query(f'supabase_monitoring_queue_oldest_message_age_seconds{{queue="{queue}"}}') == {
        good.address: 90.0
    }
    assert query(f'supabase_monitoring_queue_messages_processed{{queue="{queue}"}}') == {
        good.address: 10.0
    }
    assert query(f'supabase_monitoring_queue_error_ratio{{queue="{queue}"}}') == {good.address: 0.1}
    # Every health component is exported with its status.
    components = prometheus.get(
        "/api/v1/query", query="sum by (component) (supabase_monitoring_component_status)"
    )["data"]["result"]
    assert {r["metric"]["component"] for r in components} >= {
        "queue_health",
        "processing_health",
        "worker_health",
    }
    assert query("supabase_monitoring_up")[good.address] == 1.0

    def unreachable() -> dict[str, float]:
        # Each scrape of the unreachable side stands alone: read all of it in one go.
        figures = {
            q: query(q).get(bad.address)
            for q in (
                "supabase_monitoring_up",
                "supabase_monitoring_health_status_code",
                'supabase_monitoring_source_up{source="api_metrics"}',
                "supabase_monitoring_exporter_refresh_errors_total > 0",
            )
        }
        return figures if None not in figures.values() else {}

    figures = wait_until(unreachable, what="the unreachable exporter's figures")
    errors = figures.pop("supabase_monitoring_exporter_refresh_errors_total > 0")
    assert errors >= 4  # each failed source of each refresh counts
    assert figures == {
        "supabase_monitoring_up": 0.0,
        "supabase_monitoring_health_status_code": 3.0,  # unknown
        'supabase_monitoring_source_up{source="api_metrics"}': 0.0,
    }
